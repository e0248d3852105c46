"""What a run's ``conformance.json`` is shown as: ``conformance.md``,
``conformance.html`` and a one-screen terminal summary.

Every number any of them shows comes from ``summary()``, so the three agree
by construction::

    doc = schema.load(Path("reports/<run-id>"))
    print(terminal_summary(doc))
    write_all(doc, Path("reports/<run-id>"))

Counting rules. A test is counted once per target it ran on. "passed/total"
is passed over applicable, where applicable = passed + failed + deviation:
not_applicable and skipped tests are left out, and a deviation counts as not
passed but is shown apart from the failures. A test with several ``rfc``
markers counts under each RFC, each (RFC, level) and each (RFC, section) it
names, once under each even when two markers share one.

The HTML page is self-contained (inline CSS and script, no URL outside the
report directory). It embeds the document as JSON, and its script counts
the rows of its per-test table, writes the totals into ``span.js-count``
elements, says whether they agree with the JSON (``body[data-agrees]``) and
marks the page ``body[data-rendered="yes"]``; the browser test checks those.
"""

from __future__ import annotations

import html as _html
import json
import math
import re
from collections.abc import Callable, Hashable, Iterable, Sequence
from pathlib import Path
from typing import TypedDict, TypeVar
from urllib.parse import quote

from .schema import (
    ARTIFACT_KINDS,
    LEVELS,
    OUTCOMES,
    Document,
    Rfc,
    TargetEntry,
    TestEntry,
    section_key,
)

MARKDOWN_FILE = "conformance.md"
HTML_FILE = "conformance.html"
APPLICABLE = ("passed", "failed", "deviation")
PROBLEMS = ("failed", "deviation")  # what "Failures and deviations" lists
APPENDIX_B_KINDS = ("MUST", "SHLD", "REC")
KIND_NAMES = {"MUST": "MUST", "SHLD": "SHOULD", "REC": "RECOMMENDED"}
OUTCOME_NAMES = {
    "passed": "passed",
    "failed": "failed",
    "deviation": "deviation",
    "not_applicable": "not applicable",
    "skipped": "skipped",
}
MUST_FAILURES_SHOWN = 20
DASH = "\N{EN DASH}"  # an empty cell, a missing value
RFC_TITLES = {
    768: "User Datagram Protocol",
    791: "Internet Protocol",
    792: "Internet Control Message Protocol",
    793: "Transmission Control Protocol (1981)",
    826: "Ethernet Address Resolution Protocol",
    1035: "Domain Names: Implementation and Specification",
    1122: "Requirements for Internet Hosts: Communication Layers",
    1123: "Requirements for Internet Hosts: Application and Support",
    1812: "Requirements for IP Version 4 Routers",
    2131: "Dynamic Host Configuration Protocol",
    2132: "DHCP Options and BOOTP Vendor Extensions",
    2308: "Negative Caching of DNS Queries",
    5227: "IPv4 Address Conflict Detection",
    5452: "Measures for Making DNS More Resilient against Forged Answers",
    5681: "TCP Congestion Control",
    5961: "Improving TCP's Robustness to Blind In-Window Attacks",
    6298: "Computing TCP's Retransmission Timer",
    6528: "Defending against Sequence Number Attacks",
    6582: "The NewReno Modification to TCP's Fast Recovery Algorithm",
    7323: "TCP Extensions for High Performance",
    9110: "HTTP Semantics",
    9112: "HTTP/1.1",
    9293: "Transmission Control Protocol (TCP)",
}

Counts = dict[str, int]  # outcome -> number of tests, every outcome present
K = TypeVar("K", bound=Hashable)


class Score(TypedDict):
    passed: int
    failed: int
    deviation: int
    applicable: int  # passed + failed + deviation
    percent: float | None  # passed / applicable; None when nothing applied


class RequirementRow(TypedDict):
    id: str
    kind: str  # MUST, SHLD or REC
    level: str
    section: str
    summary: str
    observable: bool
    why: str
    status: str  # covered, not covered, not observable
    tests: list[str]  # node ids of the covering tests
    outcomes: dict[str, Counts]  # per target, over the covering tests


class KindCoverage(TypedDict):
    observable: int
    covered: int  # observable and named by at least one test
    percent: float | None  # covered / observable
    passing: dict[str, int]  # per target: covered, some test passed, none failed


class AppendixB(TypedDict):
    rows: list[RequirementRow]
    coverage: dict[str, KindCoverage]  # MUST, SHLD, REC


class Summary(TypedDict):
    targets: list[str]  # in the order they ran
    totals: dict[str, Counts]  # target -> outcomes
    rfcs: dict[int, dict[str, Score]]  # rfc -> target -> score
    levels: dict[int, dict[str, dict[str, Score]]]  # rfc -> level -> target -> score
    sections: dict[int, dict[str, dict[str, Counts]]]  # rfc -> section -> target -> outcomes
    section_levels: dict[int, dict[str, list[str]]]  # rfc -> section -> levels named
    other: dict[str, Counts]  # tests without an rfc marker: target -> outcomes
    appendix_b: AppendixB


# ---- the numbers ------------------------------------------------------------------


def summary(doc: Document) -> Summary:
    """Every number the views show, computed here only."""
    targets = target_names(doc)
    tests = doc["tests"]
    by_rfc = _tally(tests, targets, lambda t: (r["rfc"] for r in t["rfcs"]))
    by_level = _tally(tests, targets, lambda t: ((r["rfc"], r["level"]) for r in t["rfcs"]))
    by_section = _tally(tests, targets, lambda t: ((r["rfc"], r["section"]) for r in t["rfcs"]))
    rfcs = sorted(by_rfc)
    return {
        "targets": targets,
        "totals": _tally(tests, targets, lambda t: ["all"]).get("all", _zeros(targets)),
        "rfcs": {n: _scores(by_rfc[n]) for n in rfcs},
        "levels": {n: _levels_of(n, by_level) for n in rfcs},
        "sections": {n: _sections_of(n, by_section) for n in rfcs},
        "section_levels": {n: _section_levels(n, tests) for n in rfcs},
        "other": _tally((t for t in tests if not t["rfcs"]), targets, lambda t: ["other"]).get(
            "other", _zeros(targets)
        ),
        "appendix_b": _appendix_b(doc, targets),
    }


def target_names(doc: Document) -> list[str]:
    """The targets in the order they ran, then any only the tests name."""
    names = [t["name"] for t in doc["targets"]]
    for test in doc["tests"]:
        if test["target"] not in names:
            names.append(test["target"])
    return names


def zero_counts() -> Counts:
    return dict.fromkeys(OUTCOMES, 0)


def _zeros(targets: Sequence[str]) -> dict[str, Counts]:
    return {name: zero_counts() for name in targets}


def _tally(
    tests: Iterable[TestEntry], targets: Sequence[str], keys: Callable[[TestEntry], Iterable[K]]
) -> dict[K, dict[str, Counts]]:
    """key -> target -> outcome -> tests, each test counted once per key."""
    table: dict[K, dict[str, Counts]] = {}
    for test in tests:
        for key in dict.fromkeys(keys(test)):  # once per key, in order
            per_target = table.setdefault(key, _zeros(targets))
            per_target[test["target"]][test["outcome"]] += 1
    return table


def score(counts: Counts) -> Score:
    applicable = sum(counts[o] for o in APPLICABLE)
    return {
        "passed": counts["passed"],
        "failed": counts["failed"],
        "deviation": counts["deviation"],
        "applicable": applicable,
        "percent": 100.0 * counts["passed"] / applicable if applicable else None,
    }


def _scores(per_target: dict[str, Counts]) -> dict[str, Score]:
    return {name: score(counts) for name, counts in per_target.items()}


def _level_key(level: str) -> tuple[int, str]:
    return (LEVELS.index(level) if level in LEVELS else len(LEVELS), level)


def _levels_of(
    rfc: int, by_level: dict[tuple[int, str], dict[str, Counts]]
) -> dict[str, dict[str, Score]]:
    levels = sorted((level for n, level in by_level if n == rfc), key=_level_key)
    return {level: _scores(by_level[(rfc, level)]) for level in levels}


def _sections_of(
    rfc: int, by_section: dict[tuple[int, str], dict[str, Counts]]
) -> dict[str, dict[str, Counts]]:
    sections = sorted((s for n, s in by_section if n == rfc), key=section_key)
    return {s: by_section[(rfc, s)] for s in sections}


def _section_levels(rfc: int, tests: Iterable[TestEntry]) -> dict[str, list[str]]:
    seen: dict[str, set[str]] = {}
    for test in tests:
        for r in test["rfcs"]:
            if r["rfc"] == rfc:
                seen.setdefault(r["section"], set()).add(r["level"])
    return {s: sorted(levels, key=_level_key) for s, levels in seen.items()}


def _appendix_b(doc: Document, targets: Sequence[str]) -> AppendixB:
    """RFC 9293 Appendix B's MUST, SHLD and REC rows with the outcomes of the
    tests that cover them (named by the row or by the tests' markers)."""
    named: dict[str, set[str]] = {}
    for test in doc["tests"]:
        for req_id in test.get("requirements", []):
            named.setdefault(req_id, set()).add(test["nodeid"])
    rows = []
    for req in doc["tcp_requirements"]:
        kind = req["id"].split("-", 1)[0]
        if kind not in APPENDIX_B_KINDS:
            continue
        nodeids = set(req.get("tests", [])) | named.get(req["id"], set())
        covering = [t for t in doc["tests"] if t["nodeid"] in nodeids]
        observable = bool(req.get("observable", True))
        status = "covered" if nodeids else "not covered" if observable else "not observable"
        rows.append(
            RequirementRow(
                id=req["id"],
                kind=kind,
                level=req.get("level", KIND_NAMES[kind]),
                section=req.get("section", ""),
                summary=req.get("summary", ""),
                observable=observable,
                why=req.get("why", ""),
                status=status,
                tests=sorted(nodeids),
                outcomes=_tally(covering, targets, lambda t: ["x"]).get("x", _zeros(targets)),
            )
        )
    coverage = {kind: _kind_coverage(rows, kind, targets) for kind in APPENDIX_B_KINDS}
    return {"rows": rows, "coverage": coverage}


def _kind_coverage(
    rows: Sequence[RequirementRow], kind: str, targets: Sequence[str]
) -> KindCoverage:
    observable = [r for r in rows if r["kind"] == kind and r["observable"]]
    covered = [r for r in observable if r["tests"]]
    passing = {
        name: sum(
            1
            for r in covered
            if r["outcomes"][name]["passed"] and not any(r["outcomes"][name][o] for o in PROBLEMS)
        )
        for name in targets
    }
    return {
        "observable": len(observable),
        "covered": len(covered),
        "percent": 100.0 * len(covered) / len(observable) if observable else None,
        "passing": passing,
    }


# ---- text shared by the views ---------------------------------------------------------


def percent(value: float | None) -> str:
    """Rounded down, so that anything short of all reads below 100 %."""
    return DASH if value is None else f"{math.floor(value + 1e-9)}%"


def ratio(s: Score) -> str:
    return f"{s['passed']}/{s['applicable']}"


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def cell(counts: Counts) -> tuple[str, str]:
    """A section's outcome mix on one target as (text, css class):
    "3/3 pass", "1 fail, 2/3 pass", "n/a", "skipped", a dash (not run)."""
    applicable = sum(counts[o] for o in APPLICABLE)
    if not applicable:
        if counts["not_applicable"]:
            return "n/a", "na"
        return ("skipped", "skip") if counts["skipped"] else (DASH, "none")
    parts = []
    if counts["failed"]:
        parts.append(f"{counts['failed']} fail")
    if counts["deviation"]:
        parts.append(f"{counts['deviation']} dev")
    parts.append(f"{counts['passed']}/{applicable} pass")
    css = "fail" if counts["failed"] else "dev" if counts["deviation"] else "pass"
    return ", ".join(parts), css


def rfc_title(rfc: int) -> str:
    title = RFC_TITLES.get(rfc)
    return f"RFC {rfc}: {title}" if title else f"RFC {rfc}"


def marker_text(r: Rfc) -> str:
    return f"RFC {r['rfc']} §{r['section']} {r['level']}"


def problems(doc: Document) -> list[TestEntry]:
    """Failed, then deviating tests, by target order and node id."""
    order = {name: i for i, name in enumerate(target_names(doc))}
    found = [t for t in doc["tests"] if t["outcome"] in PROBLEMS]
    return sorted(
        found, key=lambda t: (PROBLEMS.index(t["outcome"]), order[t["target"]], t["nodeid"])
    )


def artifact_links(test: TestEntry) -> list[tuple[str, str]]:
    """(kind, relative href) for each artifact the document names, the
    known kinds first."""
    arts = {k: v for k, v in test.get("artifacts", {}).items() if isinstance(v, str) and v}
    kinds = [k for k in ARTIFACT_KINDS if k in arts] + sorted(set(arts) - set(ARTIFACT_KINDS))
    return [(k, quote(arts[k], safe="/")) for k in kinds]


def level_line(levels: dict[str, dict[str, Score]], targets: Sequence[str]) -> str:
    """ "MUST: ringzero 10/12 (83%), linux 12/12 (100%) · SHOULD: ..." """
    parts = []
    for level, per_target in levels.items():
        shown = [
            f"{name} {ratio(sc)} ({percent(sc['percent'])})" if sc["applicable"] else f"{name} n/a"
            for name, sc in ((name, per_target[name]) for name in targets)
        ]
        parts.append(f"{level}: {', '.join(shown)}")
    return " · ".join(parts)


def coverage_line(cov: dict[str, KindCoverage], targets: Sequence[str]) -> str:
    """ "observable MUSTs covered: 45/50 (90%), passing on ringzero 40, linux 44 · ..." """
    parts = []
    for kind, c in cov.items():
        if not c["observable"]:
            continue
        passing = ", ".join(f"{name} {c['passing'][name]}" for name in targets)
        parts.append(
            f"observable {KIND_NAMES[kind]}s covered: {c['covered']}/{c['observable']} "
            f"({percent(c['percent'])}), passing on {passing}"
        )
    return " · ".join(parts)


def requirement_text(r: RequirementRow) -> str:
    """Its paraphrase, and why no test can observe it when none can."""
    if r["observable"] or not r["why"]:
        return r["summary"]
    return f"{r['summary']} (not observable: {r['why']})"


def _revision(doc: Document) -> tuple[str, str]:
    """(the git revision, " (with uncommitted changes)" or "")."""
    git = doc.get("git") or {"revision": None, "dirty": False}
    dirty = " (with uncommitted changes)" if git.get("dirty") else ""
    return git.get("revision") or "unknown", dirty


def _target_rows(doc: Document) -> list[list[str]]:
    return [
        [
            t["name"],
            t.get("kind", ""),
            t.get("backend", ""),
            t.get("accel", ""),
            duration(float(t.get("duration_s", 0.0))),
            str(t.get("exit_status", "")),
        ]
        for t in doc["targets"]
    ]


TARGET_HEADER = ["Target", "Kind", "Backend", "Accel", "Duration", "Exit status"]


# ---- Markdown -----------------------------------------------------------------------

_MD_PUNCT = re.compile(r"([\\`*_\[\]|<>#&~!])")


def md_text(text: str) -> str:
    """Text shown as itself in Markdown, table cells included."""
    return _MD_PUNCT.sub(r"\\\1", " ".join(str(text).split()))


def md_code(text: str) -> str:
    """A code span for a table cell (| escaped, enough backticks)."""
    text = " ".join(str(text).split()).replace("|", "\\|")
    fence = "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def md_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """Cells are Markdown already (escape them with md_text or md_code)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def markdown(doc: Document) -> str:
    """conformance.md: totals, failures and deviations first, then per RFC
    its sections on each target, RFC 9293 Appendix B, other tests."""
    s = summary(doc)
    lines = _md_head(doc)
    lines += _md_totals(s)
    lines += _md_problems(doc)
    for rfc in s["rfcs"]:
        lines += _md_rfc(s, rfc)
    lines += _md_appendix_b(s)
    lines += _md_other(s)
    return "\n".join(lines) + "\n"


def _md_head(doc: Document) -> list[str]:
    lines = [f"# Conformance report {md_text(doc['run_id'])}", ""]
    rev, dirty = _revision(doc)
    lines.append(f"Revision {md_code(rev)}{dirty}, written {md_text(doc.get('created', ''))}.")
    rows = [[md_text(c) for c in row] for row in _target_rows(doc)]
    return [*lines, "", *md_table(TARGET_HEADER, rows), ""]


def _counts_header() -> list[str]:
    return ["Target", *(OUTCOME_NAMES[o] for o in OUTCOMES), "all"]


def _counts_row(name: str, counts: Counts) -> list[str]:
    return [md_text(name), *(str(counts[o]) for o in OUTCOMES), str(sum(counts.values()))]


def _md_totals(s: Summary) -> list[str]:
    rows = [_counts_row(name, s["totals"][name]) for name in s["targets"]]
    return ["## Totals", "", *md_table(_counts_header(), rows), ""]


def _md_problems(doc: Document) -> list[str]:
    lines = ["## Failures and deviations", ""]
    found = problems(doc)
    if not found:
        return [*lines, "None.", ""]
    header = ["Target", "Outcome", "Test", "Requirement", "Reason", "Artifacts"]
    rows = [
        [
            md_text(t["target"]),
            md_text(t["outcome"]),
            md_code(t["nodeid"]),
            md_text("; ".join(marker_text(r) for r in t["rfcs"]) or DASH),
            md_text(t.get("reason", "")),
            " ".join(f"[{kind}]({href})" for kind, href in artifact_links(t)),
        ]
        for t in found
    ]
    return [*lines, *md_table(header, rows), ""]


def _md_rfc(s: Summary, rfc: int) -> list[str]:
    lines = [f"## {md_text(rfc_title(rfc))}", ""]
    lines += [md_text(level_line(s["levels"][rfc], s["targets"])), ""]
    header = ["Section", "Level", *(md_text(n) for n in s["targets"])]
    rows = [
        [
            md_text(section),
            md_text(", ".join(s["section_levels"][rfc][section])),
            *(md_text(cell(per_target[n])[0]) for n in s["targets"]),
        ]
        for section, per_target in s["sections"][rfc].items()
    ]
    return [*lines, *md_table(header, rows), ""]


def _md_appendix_b(s: Summary) -> list[str]:
    b = s["appendix_b"]
    if not b["rows"]:
        return []
    lines = ["## RFC 9293 Appendix B: requirement coverage", ""]
    lines += [md_text(coverage_line(b["coverage"], s["targets"])), ""]
    header = ["Id", "Level", "Section", "Status", *(md_text(n) for n in s["targets"])]
    header += ["Tests", "Summary"]
    rows = [
        [
            md_text(r["id"]),
            md_text(r["level"]),
            md_text(r["section"]),
            md_text(r["status"]),
            *(md_text(cell(r["outcomes"][n])[0]) for n in s["targets"]),
            str(len(r["tests"])),
            md_text(requirement_text(r)),
        ]
        for r in b["rows"]
    ]
    return [*lines, *md_table(header, rows), ""]


def _has_other(s: Summary) -> bool:
    return any(sum(c.values()) for c in s["other"].values())


def _md_other(s: Summary) -> list[str]:
    if not _has_other(s):
        return []
    rows = [_counts_row(name, s["other"][name]) for name in s["targets"]]
    return [
        "## Other tests",
        "",
        "Tests without an RFC marker.",
        "",
        *md_table(_counts_header(), rows),
    ]


# ---- HTML ---------------------------------------------------------------------------

CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em auto; max-width: 80em;
       padding: 0 1em; color: #1b1b1b; background: #fff; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.8em; }
code { font: 12.5px ui-monospace, monospace; word-break: break-all; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #d0d0d0; padding: 0.2em 0.5em; text-align: left;
         vertical-align: top; }
th { background: #f2f2f2; } td.num { text-align: right; }
.totals-group { display: flex; gap: 1.5em; flex-wrap: wrap; }
caption { font-weight: bold; text-align: left; }
.pass, tr[data-outcome="passed"] td.outcome { background: #dff2e1; }
.fail, tr[data-outcome="failed"] td.outcome { background: #fbdcdc; }
.dev, tr[data-outcome="deviation"] td.outcome { background: #fff0c2; }
.na, .skip, .none, tr[data-outcome="not_applicable"] td.outcome,
tr[data-outcome="skipped"] td.outcome { background: #eeeeee; color: #555; }
.covered { color: #17642a; } .not-covered { color: #a31515; } .not-observable { color: #666; }
.meta, .levels, .coverage { color: #444; }
.js-count.mismatch { background: #fbdcdc; }
nav a { margin-right: 0.8em; }
td.pass, td.fail, td.dev, td.na, td.skip, td.none, td.num, td.id { white-space: nowrap; }
"""

SCRIPT = """
"use strict";
(() => {
  const data = JSON.parse(document.getElementById("report-data").textContent);
  const tally = (items) => {
    const counts = {};
    for (const [target, outcome] of items) {
      counts[target] = counts[target] || {};
      counts[target][outcome] = (counts[target][outcome] || 0) + 1;
    }
    return counts;
  };
  const rows = Array.from(document.querySelectorAll("#tests tbody tr"));
  const counted = tally(rows.map((r) => [r.dataset.target, r.dataset.outcome]));
  const expected = tally(data.tests.map((t) => [t.target, t.outcome]));
  let agrees = rows.length === data.tests.length;
  for (const span of document.querySelectorAll("span.js-count")) {
    const { target, outcome } = span.dataset;
    const n = (counted[target] || {})[outcome] || 0;
    span.textContent = String(n);
    if (n !== ((expected[target] || {})[outcome] || 0)) {
      agrees = false;
      span.classList.add("mismatch");
    }
  }
  const filter = document.getElementById("outcome-filter");
  filter.addEventListener("change", () => {
    const wanted = filter.value;
    for (const row of rows) row.hidden = wanted !== "" && row.dataset.outcome !== wanted;
  });
  document.body.dataset.agrees = agrees ? "yes" : "no";
  document.body.dataset.rendered = "yes";
})();
"""


def esc(text: object) -> str:
    return _html.escape(str(text), quote=True)


def tag(name: str, body: str = "", **attrs: str) -> str:
    """<name attrs>body</name>; body is HTML already; attribute names use _
    for - (data_target -> data-target) and class_ for class."""
    attr = "".join(f' {k.rstrip("_").replace("_", "-")}="{esc(v)}"' for k, v in attrs.items())
    return f"<{name}{attr}>{body}</{name}>"


def html_table(header: Sequence[str], rows: Iterable[str], **attrs: str) -> str:
    """header: HTML of each heading cell; rows: HTML of each <tr>."""
    head = tag("thead", tag("tr", "".join(tag("th", h) for h in header)))
    return tag("table", head + tag("tbody", "".join(rows)), **attrs)


def json_for_script(doc: Document) -> str:
    """The document as JSON that cannot end its <script> element early."""
    text = json.dumps(doc, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def html(doc: Document) -> str:
    """conformance.html: the Markdown's content, the per-test table, and
    the embedded document; self-contained."""
    s = summary(doc)
    parts = [
        _html_head(doc, s),
        _html_totals(s),
        _html_problems(doc),
        *(_html_rfc(s, rfc) for rfc in s["rfcs"]),
        _html_appendix_b(s),
        _html_other(s),
        _html_tests(doc, s),
        tag("script", json_for_script(doc), type="application/json", id="report-data"),
        tag("script", SCRIPT),
    ]
    title = esc(f"Conformance report {doc['run_id']}")
    head = f'<meta charset="utf-8"><title>{title}</title>{tag("style", CSS)}'
    body = tag("body", "\n".join(parts), data_rendered="no")
    return f'<!DOCTYPE html>\n<html lang="en"><head>{head}</head>\n{body}</html>\n'


def _html_head(doc: Document, s: Summary) -> str:
    links = [tag("a", esc(f"RFC {n}"), href=f"#rfc-{n}") for n in s["rfcs"]]
    links.insert(0, tag("a", "Failures and deviations", href="#failures"))
    if s["appendix_b"]["rows"]:
        links.append(tag("a", "RFC 9293 Appendix B", href="#appendix-b"))
    if _has_other(s):
        links.append(tag("a", "Other tests", href="#other"))
    links.append(tag("a", "All tests", href="#all-tests"))
    rev, dirty = _revision(doc)
    meta = f"Revision {tag('code', esc(rev))}{dirty}, written {esc(doc.get('created', ''))}."
    rows = [tag("tr", "".join(tag("td", esc(c)) for c in row)) for row in _target_rows(doc)]
    return "\n".join(
        [
            tag("h1", f"Conformance report {tag('code', esc(doc['run_id']))}"),
            tag("p", meta, class_="meta"),
            html_table([esc(h) for h in TARGET_HEADER], rows, class_="targets"),
            tag("nav", " ".join(links)),
        ]
    )


def _html_totals(s: Summary) -> str:
    tables = [_html_totals_table(name, s["totals"][name]) for name in s["targets"]]
    return tag(
        "section",
        tag("h2", "Totals") + tag("div", "".join(tables), class_="totals-group"),
        id="totals",
    )


def _html_totals_table(name: str, counts: Counts) -> str:
    rows = [
        tag(
            "tr",
            tag("th", esc(OUTCOME_NAMES[o])) + tag("td", str(counts[o]), class_="num"),
            data_outcome=o,
        )
        for o in OUTCOMES
    ]
    rows.append(tag("tr", tag("th", "all") + tag("td", str(sum(counts.values())), class_="num")))
    return tag(
        "table",
        tag("caption", esc(name)) + tag("tbody", "".join(rows)),
        class_="totals",
        data_target=name,
    )


def _html_links(test: TestEntry) -> str:
    return " ".join(tag("a", esc(kind), href=href) for kind, href in artifact_links(test))


def _html_markers(test: TestEntry) -> str:
    return "<br>".join(esc(marker_text(r)) for r in test["rfcs"]) or DASH


def _html_problems(doc: Document) -> str:
    found = problems(doc)
    if not found:
        return tag(
            "section", tag("h2", "Failures and deviations") + tag("p", "None."), id="failures"
        )
    header = ["Target", "Outcome", "Test", "Requirement", "Reason", "Artifacts"]
    rows = [
        tag(
            "tr",
            tag("td", esc(t["target"]))
            + tag("td", esc(OUTCOME_NAMES[t["outcome"]]), class_="outcome")
            + tag("td", tag("code", esc(t["nodeid"])))
            + tag("td", _html_markers(t))
            + tag("td", esc(t.get("reason", "")))
            + tag("td", _html_links(t)),
            data_target=t["target"],
            data_outcome=t["outcome"],
            data_nodeid=t["nodeid"],
        )
        for t in found
    ]
    table = html_table(header, rows, class_="failures")
    return tag("section", tag("h2", "Failures and deviations") + table, id="failures")


def _html_cell(counts: Counts) -> str:
    text, css = cell(counts)
    return tag("td", esc(text), class_=css)


def _html_rfc(s: Summary, rfc: int) -> str:
    line = tag("p", esc(level_line(s["levels"][rfc], s["targets"])), class_="levels")
    header = ["Section", "Level", *(esc(n) for n in s["targets"])]
    rows = [
        tag(
            "tr",
            tag("td", esc(section))
            + tag("td", esc(", ".join(s["section_levels"][rfc][section])))
            + "".join(_html_cell(per_target[n]) for n in s["targets"]),
            data_section=section,
        )
        for section, per_target in s["sections"][rfc].items()
    ]
    body = tag("h2", esc(rfc_title(rfc))) + line + html_table(header, rows, class_="sections")
    return tag("section", body, id=f"rfc-{rfc}", class_="rfc", data_rfc=str(rfc))


def _html_appendix_b(s: Summary) -> str:
    b = s["appendix_b"]
    if not b["rows"]:
        return ""
    line = tag("p", esc(coverage_line(b["coverage"], s["targets"])), class_="coverage")
    header = [
        "Id",
        "Level",
        "Section",
        "Status",
        *(esc(n) for n in s["targets"]),
        "Tests",
        "Summary",
    ]
    rows = [
        tag(
            "tr",
            tag("td", esc(r["id"]), class_="id")
            + tag("td", esc(r["level"]))
            + tag("td", esc(r["section"]))
            + tag("td", esc(r["status"]), class_=r["status"].replace(" ", "-"))
            + "".join(_html_cell(r["outcomes"][n]) for n in s["targets"])
            + tag("td", str(len(r["tests"])), class_="num", title="\n".join(r["tests"]))
            + tag("td", esc(requirement_text(r))),
            data_req=r["id"],
            data_status=r["status"],
        )
        for r in b["rows"]
    ]
    body = tag("h2", "RFC 9293 Appendix B: requirement coverage") + line
    return tag("section", body + html_table(header, rows, class_="appendix-b"), id="appendix-b")


def _html_other(s: Summary) -> str:
    if not _has_other(s):
        return ""
    header = [esc(h) for h in _counts_header()]
    rows = [
        tag(
            "tr",
            "".join(tag("td", c) for c in _counts_row(name, s["other"][name])),
            data_target=name,
        )
        for name in s["targets"]
    ]
    body = tag("h2", "Other tests") + tag("p", "Tests without an RFC marker.")
    return tag("section", body + html_table(header, rows, class_="other"), id="other")


def _html_tally(s: Summary) -> str:
    """One line per target whose numbers the page's script fills in."""
    lines = []
    for name in s["targets"]:
        counts = ", ".join(
            tag("span", "?", class_="js-count", data_target=name, data_outcome=o)
            + f" {esc(OUTCOME_NAMES[o])}"
            for o in OUTCOMES
        )
        lines.append(tag("li", f"{esc(name)}: {counts}", data_target=name))
    return tag("p", "Counted in this page from the table below:") + tag(
        "ul", "".join(lines), class_="tally"
    )


def _html_filter() -> str:
    options = tag("option", "all", value="") + "".join(
        tag("option", esc(OUTCOME_NAMES[o]), value=o) for o in OUTCOMES
    )
    return tag("label", "Show " + tag("select", options, id="outcome-filter"))


def _html_tests(doc: Document, s: Summary) -> str:
    order = {name: i for i, name in enumerate(s["targets"])}
    tests = sorted(doc["tests"], key=lambda t: (order[t["target"]], t["nodeid"]))
    header = ["Target", "Outcome", "Test", "Requirement", "Time", "Reason", "Artifacts"]
    rows = [
        tag(
            "tr",
            tag("td", esc(t["target"]))
            + tag("td", esc(OUTCOME_NAMES[t["outcome"]]), class_="outcome")
            + tag("td", tag("code", esc(t["nodeid"])), title=t.get("doc", ""))
            + tag("td", _html_markers(t))
            + tag("td", f"{float(t.get('duration_s', 0.0)):.2f} s", class_="num")
            + tag("td", esc(t.get("reason", "")))
            + tag("td", _html_links(t)),
            data_target=t["target"],
            data_outcome=t["outcome"],
        )
        for t in tests
    ]
    body = tag("h2", "All tests") + _html_tally(s) + _html_filter()
    return tag(
        "section", body + html_table(header, rows, id="tests", class_="tests"), id="all-tests"
    )


# ---- the terminal -------------------------------------------------------------------


def terminal_summary(doc: Document, width: int = 100) -> str:
    """Per target its totals and each RFC's passed/total, then the failing
    MUST tests (at most MUST_FAILURES_SHOWN lines)."""
    s = summary(doc)
    info = {t["name"]: t for t in doc["targets"]}
    lines: list[str] = []
    for name in s["targets"]:
        lines.append(_fit(_terminal_target(name, info.get(name), s["totals"][name]), width))
        lines += _terminal_rfcs(s, name, width)
    return "\n".join(lines + _terminal_must_failures(doc, width)) + "\n"


def _terminal_target(name: str, info: TargetEntry | None, counts: Counts) -> str:
    about = ""
    if info is not None:
        took = duration(float(info.get("duration_s", 0.0)))
        known = [info.get("backend", ""), info.get("accel", ""), took]
        about = f" ({', '.join(k for k in known if k)})"
    shown = ", ".join(f"{counts[o]} {OUTCOME_NAMES[o]}" for o in OUTCOMES if counts[o])
    return f"{name}{about}: {shown or 'no tests'}"


def _terminal_rfcs(s: Summary, name: str, width: int) -> list[str]:
    items = []
    for rfc, per_target in s["rfcs"].items():
        sc = per_target[name]
        if not sc["applicable"]:
            continue
        dev = f" ({sc['deviation']} dev)" if sc["deviation"] else ""
        items.append(f"RFC {rfc} {ratio(sc)}{dev}")
    # Whole items per line: "RFC" and its number never part.
    lines: list[str] = []
    line = ""
    for item in items:
        candidate = f"{line} · {item}" if line else f"  {item}"
        if line and len(candidate) > width:
            lines.append(line + " ·")
            candidate = f"  {item}"
        line = candidate
    return [*lines, line] if line else lines


def must_failures(doc: Document) -> list[tuple[TestEntry, Rfc]]:
    """Each failed test with a MUST marker, with its first MUST marker."""
    found = []
    for test in problems(doc):
        must = [r for r in test["rfcs"] if r["level"] == "MUST"]
        if test["outcome"] == "failed" and must:
            found.append((test, must[0]))
    return found


def _terminal_must_failures(doc: Document, width: int) -> list[str]:
    found = must_failures(doc)
    if not found:
        return ["MUST failures: none"]
    pad = max(len(t["target"]) for t, _ in found)
    lines = ["MUST failures:"]
    for test, r in found[:MUST_FAILURES_SHOWN]:
        where = f"RFC {r['rfc']} §{r['section']}"
        room = width - (2 + pad + 2 + 2 + len(where))
        lines.append(f"  {test['target']:<{pad}}  {_shorten(test['nodeid'], room)}  {where}")
    if len(found) > MUST_FAILURES_SHOWN:
        lines.append(f"  (+{len(found) - MUST_FAILURES_SHOWN} more, see {MARKDOWN_FILE})")
    return lines


def _shorten(text: str, room: int) -> str:
    """The text, or its end after "…" when it has more than room characters."""
    room = max(room, 12)
    return text if len(text) <= room else "…" + text[-(room - 1) :]


def _fit(line: str, width: int) -> str:
    return line if len(line) <= width else line[: width - 1] + "…"


# ---- files ----------------------------------------------------------------------------


def write_all(doc: Document, directory: Path) -> list[Path]:
    """conformance.md and conformance.html in the report directory."""
    written = []
    for filename, text in ((MARKDOWN_FILE, markdown(doc)), (HTML_FILE, html(doc))):
        path = directory / filename
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
