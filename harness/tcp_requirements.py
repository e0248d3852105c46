"""RFC 9293's numbered requirements (Appendix B) and which tests cover them.

The table is data: ``suites/tcp/requirements.toml``, one entry per id
(MUST-n, SHLD-n, MAY-n, REC-n) with its section, a paraphrase and whether
it can be observed from the wire. Tests name the ids they check with
``@pytest.mark.tcp_req("MUST-7", ...)``. This module loads the table,
finds those markers (in collected pytest items, or in suite sources read
with ``ast`` without importing them) and computes the coverage of every
MUST and SHOULD:

    reqs = load()
    tests = markers_in_sources(repo_root() / "suites")
    print(format_coverage(coverage(reqs, tests)))
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .paths import repo_root

ID_RE = re.compile(r"(MUST|SHLD|MAY|REC)-([1-9][0-9]*)")
KINDS = ("MUST", "SHLD", "REC", "MAY")  # report order
# The level words each kind of id may carry (Appendix B's columns).
LEVELS = {
    "MUST": ("MUST", "MUST NOT"),
    "SHLD": ("SHOULD", "SHOULD NOT"),
    "REC": ("RECOMMENDED",),
    "MAY": ("MAY",),
}
COVERED_KINDS = ("MUST", "SHLD", "REC")  # what the coverage report accounts for
SECTION_RE = re.compile(r"[1-9][0-9]*(\.[1-9][0-9]*)*|[A-Z](\.[1-9][0-9]*)*")
MARKER = "tcp_req"


def table_path() -> Path:
    return repo_root() / "suites" / "tcp" / "requirements.toml"


class RequirementsError(ValueError):
    pass


@dataclass(frozen=True)
class Requirement:
    id: str
    level: str  # "MUST", "MUST NOT", "SHOULD", "SHOULD NOT", "RECOMMENDED", "MAY"
    section: str  # of RFC 9293, e.g. "3.8.6.1"
    topic: str  # the Appendix B group
    summary: str
    observable: bool
    why: str = ""  # why not, when not observable
    note: str = ""

    @property
    def kind(self) -> str:
        return self.id.split("-", 1)[0]

    @property
    def number(self) -> int:
        return int(self.id.split("-", 1)[1])


def sort_key(req_id: str) -> tuple[int, int]:
    m = ID_RE.fullmatch(req_id)
    if not m:
        return (len(KINDS), 0)
    return (KINDS.index(m.group(1)), int(m.group(2)))


# ---- the table ------------------------------------------------------------------


def parse(data: Mapping[str, Any]) -> list[Requirement]:
    """The entries of a parsed requirements.toml, in file order; a malformed
    entry raises RequirementsError naming it."""
    entries = data.get("requirement")
    if not isinstance(entries, list):
        raise RequirementsError("no [[requirement]] entries")
    known = {"id", "level", "section", "topic", "summary", "observable", "why", "note"}
    reqs = []
    for i, entry in enumerate(entries):
        where = f"entry {i + 1} ({entry.get('id', '?')})"
        extra = set(entry) - known
        if extra:
            raise RequirementsError(f"{where}: unknown keys {sorted(extra)}")
        for key in ("id", "level", "section", "topic", "summary"):
            if not isinstance(entry.get(key), str):
                raise RequirementsError(f"{where}: {key} must be a string")
        for key in ("why", "note"):
            if not isinstance(entry.get(key, ""), str):
                raise RequirementsError(f"{where}: {key} must be a string")
        if not isinstance(entry.get("observable"), bool):
            raise RequirementsError(f"{where}: observable must be true or false")
        reqs.append(
            Requirement(
                id=entry["id"],
                level=entry["level"],
                section=entry["section"],
                topic=entry["topic"],
                summary=entry["summary"],
                observable=entry["observable"],
                why=entry.get("why", ""),
                note=entry.get("note", ""),
            )
        )
    return reqs


def problems(reqs: Sequence[Requirement]) -> list[str]:
    """What is wrong with the table (empty when it is well-formed): ids
    well-formed and unique, each kind numbered 1..max without gaps, levels
    that fit the id, sections and summaries present, and a reason for
    every requirement that is not observable."""
    found = []
    seen: set[str] = set()
    numbers: dict[str, set[int]] = {kind: set() for kind in KINDS}
    for r in reqs:
        m = ID_RE.fullmatch(r.id)
        if not m:
            found.append(f"{r.id!r}: not an id of the form MUST-n, SHLD-n, MAY-n or REC-n")
            continue
        if r.id in seen:
            found.append(f"{r.id}: listed more than once")
        seen.add(r.id)
        numbers[r.kind].add(r.number)
        if r.level not in LEVELS[r.kind]:
            found.append(f"{r.id}: level {r.level!r} does not fit (one of {LEVELS[r.kind]})")
        if not SECTION_RE.fullmatch(r.section):
            found.append(f"{r.id}: section {r.section!r} is not a section number")
        if not r.summary.strip() or not r.topic.strip():
            found.append(f"{r.id}: empty summary or topic")
        if not r.observable and not r.why.strip():
            found.append(f"{r.id}: observable = false needs a why")
        if r.observable and r.why:
            found.append(f"{r.id}: observable = true with a why (use note)")
    for kind, have in numbers.items():
        if have:
            missing = sorted(set(range(1, max(have) + 1)) - have)
            if missing:
                found.append(f"{kind}: missing {', '.join(f'{kind}-{n}' for n in missing)}")
    return found


def load(path: Path | None = None) -> dict[str, Requirement]:
    """The table by id (in the order MUST, SHLD, REC, MAY, then by number);
    raises RequirementsError when it is malformed."""
    path = path or table_path()
    with path.open("rb") as f:
        reqs = parse(tomllib.load(f))
    bad = problems(reqs)
    if bad:
        raise RequirementsError(f"{path}:\n  " + "\n  ".join(bad))
    return {r.id: r for r in sorted(reqs, key=lambda r: sort_key(r.id))}


# ---- markers ---------------------------------------------------------------------


@dataclass
class MarkerUse:
    """One ``tcp_req(...)`` call in a source file."""

    path: Path
    line: int
    ids: list[str]
    bad_args: list[str] = field(default_factory=list)  # arguments that are not string literals


def _is_tcp_req(func: ast.expr, aliases: set[str]) -> bool:
    """pytest.mark.tcp_req, mark.tcp_req, or a name bound to either."""
    if isinstance(func, ast.Attribute) and func.attr == MARKER:
        owner = func.value
        return (isinstance(owner, ast.Attribute) and owner.attr == "mark") or (
            isinstance(owner, ast.Name) and owner.id == "mark"
        )
    return isinstance(func, ast.Name) and func.id in aliases


def _aliases(tree: ast.Module) -> set[str]:
    """Module-level names bound to the marker (``tcp_req = pytest.mark.tcp_req``)."""
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and _is_tcp_req(node.value, set()):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def _uses(node: ast.AST, path: Path, aliases: set[str]) -> list[MarkerUse]:
    uses = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call) and _is_tcp_req(sub.func, aliases):
            use = MarkerUse(path, sub.lineno, [])
            for arg in sub.args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    use.ids.append(arg.value)
                else:
                    use.bad_args.append(ast.unparse(arg))
            uses.append(use)
    return uses


def _ids(uses: Iterable[MarkerUse]) -> list[str]:
    return [i for use in uses for i in use.ids]


def scan_source(
    path: Path, root: Path | None = None
) -> tuple[dict[str, list[str]], list[MarkerUse]]:
    """Reads one test file without importing it: ({node id: ids} for every
    test function that carries the marker, directly or through its class or
    the module's ``pytestmark``; every marker call in the file)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    aliases = _aliases(tree)
    rel = path.relative_to(root).as_posix() if root else path.as_posix()
    module_ids: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets
        ):
            module_ids += _ids(_uses(node.value, path, aliases))
    tests: dict[str, list[str]] = {}

    def visit(body: list[ast.stmt], prefix: str, inherited: list[str]) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
                "test"
            ):
                own = [i for d in node.decorator_list for i in _ids(_uses(d, path, aliases))]
                ids = inherited + own
                if ids:
                    tests[f"{prefix}::{node.name}"] = list(dict.fromkeys(ids))
            elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                marks = [i for d in node.decorator_list for i in _ids(_uses(d, path, aliases))]
                for stmt in node.body:
                    if isinstance(stmt, ast.Assign) and any(
                        isinstance(t, ast.Name) and t.id == "pytestmark" for t in stmt.targets
                    ):
                        marks += _ids(_uses(stmt.value, path, aliases))
                visit(node.body, f"{prefix}::{node.name}", inherited + marks)

    visit(tree.body, rel, module_ids)
    return tests, _uses(tree, path, aliases)


def suite_files(suites: Path) -> list[Path]:
    return sorted(p for p in suites.rglob("*.py") if p.name.startswith("test_"))


def markers_in_sources(suites: Path | None = None) -> dict[str, list[str]]:
    """{node id: requirement ids} for every test under suites/ that names
    requirements (node ids relative to the repository, without parameters)."""
    suites = suites or repo_root() / "suites"
    root = suites.parent
    found: dict[str, list[str]] = {}
    for path in suite_files(suites):
        tests, _ = scan_source(path, root)
        found.update(tests)
    return found


def markers_of_items(items: Iterable[Any]) -> dict[str, list[str]]:
    """{node id: requirement ids} from collected pytest items."""
    found: dict[str, list[str]] = {}
    for item in items:
        ids = [str(a) for mark in item.iter_markers(MARKER) for a in mark.args]
        if ids:
            found[item.nodeid] = list(dict.fromkeys(ids))
    return found


# ---- coverage --------------------------------------------------------------------


@dataclass(frozen=True)
class Coverage:
    requirement: Requirement
    tests: tuple[str, ...]

    @property
    def status(self) -> str:
        """One of "covered", "not observable", "not covered"."""
        if self.tests:
            return "covered"
        return "not covered" if self.requirement.observable else "not observable"


def coverage(
    reqs: Mapping[str, Requirement],
    tests: Mapping[str, Sequence[str]],
    kinds: Sequence[str] = COVERED_KINDS,
) -> list[Coverage]:
    """For every requirement of the given kinds (MUST, SHLD and REC by
    default), the tests that name it."""
    by_id: dict[str, list[str]] = {}
    for nodeid, ids in tests.items():
        for req_id in ids:
            by_id.setdefault(req_id, []).append(nodeid)
    return [
        Coverage(r, tuple(sorted(by_id.get(r.id, [])))) for r in reqs.values() if r.kind in kinds
    ]


def unknown_ids(reqs: Mapping[str, Requirement], tests: Mapping[str, Sequence[str]]) -> list[str]:
    """'<node id>: <id>' for each id a test names that the table lacks."""
    return [f"{n}: {i}" for n, ids in tests.items() for i in ids if i not in reqs]


def summary_counts(rows: Sequence[Coverage]) -> dict[str, dict[str, int]]:
    """{kind: {status: count}} over the rows."""
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        per = counts.setdefault(row.requirement.kind, {})
        per[row.status] = per.get(row.status, 0) + 1
    return counts


def format_coverage(rows: Sequence[Coverage], max_tests: int = 3) -> str:
    """A plain-text table: id, section, status, then the covering tests or
    the reason it cannot be observed; totals at the end."""
    lines = []
    for row in rows:
        r = row.requirement
        if row.tests:
            shown = ", ".join(row.tests[:max_tests])
            more = len(row.tests) - max_tests
            detail = shown + (f" (+{more} more)" if more > 0 else "")
        elif not r.observable:
            detail = r.why
        else:
            detail = r.summary
        lines.append(f"{r.id:<8} {r.section:<10} {row.status:<15} {detail}")
    lines.append("")
    for kind, per in summary_counts(rows).items():
        total = sum(per.values())
        parts = ", ".join(f"{n} {status}" for status, n in sorted(per.items()))
        lines.append(f"{kind}: {total} ({parts})")
    return "\n".join(lines)


def print_coverage(suites: Path | None = None, table: Path | None = None) -> None:
    """Prints the coverage of RFC 9293's MUSTs and SHOULDs by the suites'
    tcp_req markers (read from the sources, nothing is run)."""
    reqs = load(table)
    tests = markers_in_sources(suites)
    print(format_coverage(coverage(reqs, tests)))
    for line in unknown_ids(reqs, tests):
        print(f"unknown requirement id: {line}")
