"""``ringzero report diff A B``: what changed between two conformance reports.

A and B are anything ``resolve`` accepts (a run id, a release version, a
report directory, a conformance.json, or ``latest``). Tests are matched by
(target, nodeid), and each one that differs lands in exactly one category:

newly failing
    B failed and A did not: A passed, deviated, was skipped or not
    applicable, or did not have the test (a test added in B that fails is a
    new failure, not just a new test).
newly passing
    B passed and A failed or deviated.
changed
    any other change of outcome (passed → not_applicable, failed →
    deviation, deviation → skipped, ...).
new tests
    in B and not in A, and not failing in B.
removed tests
    in A and not in B.

A target that ran on one side only is reported once, with its outcome
counts, and its tests are not listed one by one (there is nothing to compare
them with). ``fail_on_regression`` makes ``diff_main`` return 1 when
anything is newly failing, for CI.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..paths import reports_dir
from .schema import FILENAME, OUTCOMES, Document, ReportError, Rfc, TestEntry, load, rfc_key

LATEST = "latest"
RELEASES = "releases"
ABSENT = "absent"  # how a missing outcome is shown


# ---- finding a report ----------------------------------------------------------------


def resolve(ref: str, reports: Path) -> Path:
    """The conformance.json that ``ref`` names; its directory is the report's.

    In this order: ``latest`` (the run under ``reports`` whose conformance.json
    was written last; releases are not runs), an existing directory holding a
    conformance.json or an existing file, a run id (``reports/<ref>/``), a
    release version (``reports/releases/<ref>/``, with or without a leading
    ``v``). Anything else is a ReportError saying what was looked for.
    """
    if ref == LATEST:
        return _latest(reports)
    path = Path(ref)
    if path.is_file():
        return path
    if path.is_dir():
        if (path / FILENAME).is_file():
            return path / FILENAME
        raise ReportError(
            f"{path}/ has no {FILENAME}: name a run's report directory (reports/<run-id>/)"
        )
    candidates = [reports / ref, reports / RELEASES / ref]
    if ref[:1] in ("v", "V") and len(ref) > 1:
        candidates.append(reports / RELEASES / ref[1:])
    for directory in candidates:
        if (directory / FILENAME).is_file():
            return directory / FILENAME
    raise ReportError(
        f"no report {ref!r}: looked for a path, {reports}/{ref}/{FILENAME} (a run id) and "
        f"{reports}/{RELEASES}/{ref}/{FILENAME} (a release); name one of those or "
        f"'{LATEST}' (runs with a report: ls {reports}/*/{FILENAME})"
    )


def _latest(reports: Path) -> Path:
    runs = (
        [
            d / FILENAME
            for d in reports.iterdir()
            if d.name != RELEASES and d.is_dir() and (d / FILENAME).is_file()
        ]
        if reports.is_dir()
        else []
    )
    if not runs:
        raise ReportError(
            f"'{LATEST}': no run under {reports}/ has a {FILENAME}; "
            "run `ringzero conformance` (or `make conformance`) first"
        )
    return max(runs, key=lambda f: (f.stat().st_mtime_ns, f.parent.name))


# ---- comparing ----------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One test whose outcome differs; ``before``/``after`` are None where
    that side does not have it."""

    target: str
    nodeid: str
    before: str | None
    after: str | None
    reason: str  # B's reason ("" when B has none or lacks the test)
    rfcs: tuple[Rfc, ...]  # B's markers, or A's for a removed test


@dataclass(frozen=True)
class TargetOnly:
    """A target that ran on one side only, with its outcome counts."""

    name: str
    side: str  # "A" or "B"
    counts: dict[str, int]


@dataclass
class Diff:
    newly_failing: list[Change] = field(default_factory=list)
    newly_passing: list[Change] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)
    new_tests: list[Change] = field(default_factory=list)
    removed_tests: list[Change] = field(default_factory=list)
    targets_only: list[TargetOnly] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.targets_only and not any(changes for _, changes in self.sections())

    def sections(self) -> list[tuple[str, list[Change]]]:
        """The per-test categories, titled, in display order."""
        return [
            ("newly failing", self.newly_failing),
            ("newly passing", self.newly_passing),
            ("changed", self.changed),
            ("new tests", self.new_tests),
            ("removed tests", self.removed_tests),
        ]


Key = tuple[str, str]  # (target, nodeid)


def _index(doc: Document) -> dict[Key, TestEntry]:
    # A (target, nodeid) seen twice keeps its last entry (the later result).
    return {(t["target"], t["nodeid"]): t for t in doc["tests"]}


def _targets(doc: Document) -> list[str]:
    """Target names in run order: the targets list, then any only the tests name."""
    names = [t["name"] for t in doc["targets"]]
    names += [t["target"] for t in doc["tests"]]
    return list(dict.fromkeys(names))


def _rfcs(entry: TestEntry) -> tuple[Rfc, ...]:
    return tuple(sorted(entry.get("rfcs", []), key=rfc_key))


def _change(key: Key, a: TestEntry | None, b: TestEntry | None) -> Change:
    shown = b if b is not None else a
    assert shown is not None
    return Change(
        target=key[0],
        nodeid=key[1],
        before=a["outcome"] if a is not None else None,
        after=b["outcome"] if b is not None else None,
        reason=(b.get("reason") or "") if b is not None else "",
        rfcs=_rfcs(shown),
    )


def _counts(tests: Iterable[TestEntry], target: str) -> dict[str, int]:
    c = Counter(t["outcome"] for t in tests if t["target"] == target)
    return {o: c[o] for o in OUTCOMES if c[o]}


def diff(a: Document, b: Document) -> Diff:
    """What changed from A to B; each list is in B's order (A's for removed tests)."""
    result = Diff()
    a_tests, b_tests = _index(a), _index(b)
    a_targets, b_targets = _targets(a), _targets(b)
    shared = set(a_targets) & set(b_targets)
    result.targets_only += [
        TargetOnly(n, "A", _counts(a["tests"], n)) for n in a_targets if n not in shared
    ]
    result.targets_only += [
        TargetOnly(n, "B", _counts(b["tests"], n)) for n in b_targets if n not in shared
    ]
    for key, new in b_tests.items():
        if key[0] not in shared:
            continue
        old = a_tests.get(key)
        before = old["outcome"] if old is not None else None
        after = new["outcome"]
        if before == after:
            continue
        change = _change(key, old, new)
        if after == "failed":
            result.newly_failing.append(change)
        elif old is None:
            result.new_tests.append(change)
        elif after == "passed" and before in ("failed", "deviation"):
            result.newly_passing.append(change)
        else:
            result.changed.append(change)
    result.removed_tests += [
        _change(key, old, None)
        for key, old in a_tests.items()
        if key[0] in shared and key not in b_tests
    ]
    return result


# ---- showing ------------------------------------------------------------------------


def _markers(rfcs: Iterable[Rfc]) -> str:
    return ", ".join(f"RFC {r['rfc']} §{r['section']} {r['level']}" for r in rfcs)


def _line(c: Change, width: int) -> str:
    markers = _markers(c.rfcs)
    parts = [c.target.ljust(width), c.nodeid]
    if markers:
        parts.append(f"({markers})")
    text = "  ".join(parts) + f"  {c.before or ABSENT} → {c.after or ABSENT}"
    return f"{text}: {c.reason}" if c.reason else text


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def format_diff(d: Diff, a_label: str, b_label: str) -> str:
    """The diff as text: a header, one section per non-empty category (newly
    failing first), targets on one side only, and a counts line."""
    lines = [f"{a_label} → {b_label}"]
    if d.empty:
        lines.append("no changes")
        return "\n".join(lines) + "\n"
    width = max((len(c.target) for _, cs in d.sections() for c in cs), default=0)
    for title, changes in d.sections():
        if not changes:
            continue
        lines += ["", f"{title.capitalize()} ({len(changes)}):"]
        lines += ["  " + _line(c, width) for c in changes]
    if d.targets_only:
        lines += ["", f"Targets on one side only ({len(d.targets_only)}):"]
        for t in d.targets_only:
            label = a_label if t.side == "A" else b_label
            counts = ", ".join(f"{n} {o}" for o, n in t.counts.items()) or "no tests"
            lines.append(f"  {t.name}  only in {label}: {counts}")
    summary = [
        f"{len(cs)} {title[:-1] if len(cs) == 1 and title.endswith('s') else title}"
        for title, cs in d.sections()
    ]
    if d.targets_only:
        summary.append(
            _plural(len(d.targets_only), "target on one side only", "targets on one side only")
        )
    lines += ["", ", ".join(summary)]
    return "\n".join(lines) + "\n"


def _label(ref: str, file: Path, doc: Document) -> str:
    """How a side is named in the header: the ref as given, and the run
    behind it when the ref is not that run's id."""
    run = doc["run_id"]
    if ref == run:
        return ref
    if file.parent.parent.name == RELEASES:
        return f"release {file.parent.name} (run {run})"
    return f"{ref} (run {run})"


def diff_main(
    a_ref: str, b_ref: str, reports: Path | None = None, fail_on_regression: bool = False
) -> int:
    """Prints the diff from A to B. Returns 1 when ``fail_on_regression`` and
    a test is newly failing, 2 when a report cannot be found or read, else 0."""
    base = reports if reports is not None else reports_dir()
    try:
        a_file, b_file = resolve(a_ref, base), resolve(b_ref, base)
        a, b = load(a_file), load(b_file)
    except ReportError as e:
        print(f"ringzero: {e}", file=sys.stderr)
        return 2
    d = diff(a, b)
    sys.stdout.write(format_diff(d, _label(a_ref, a_file, a), _label(b_ref, b_file, b)))
    return 1 if fail_on_regression and d.newly_failing else 0
