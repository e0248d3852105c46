"""conformance.md, conformance.html and the terminal summary from synthetic
conformance.json documents: the counts, the order of the sections, escaping,
artifact links, well-formed tables and the truncated list of MUST failures.

``document()``, ``entry()`` and ``parse_html()`` are used by
test_report_html_chromium.py as well."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from ringzero.report import render
from ringzero.report.schema import SCHEMA, Document, validate

EVIL = "suites/x/test_e.py::test_param[<script>alert(1)</script>]"


# ---- building documents --------------------------------------------------------------


def entry(
    nodeid: str,
    target: str = "ringzero",
    outcome: str = "passed",
    rfcs: tuple[tuple[int, str, str], ...] = ((9293, "3.4", "MUST"),),
    reason: str = "",
    requirements: tuple[str, ...] = (),
    artifacts: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "nodeid": nodeid,
        "target": target,
        "outcome": outcome,
        "reason": reason,
        "phase": "call",
        "duration_s": 0.5,
        "doc": f"what {nodeid} checks",
        "rfcs": [{"rfc": n, "section": s, "level": lvl} for n, s, lvl in rfcs],
        "requirements": list(requirements),
        "artifacts": artifacts or {},
    }


def requirement(
    req_id: str, section: str = "3.4", observable: bool = True, tests: tuple[str, ...] = ()
) -> dict[str, Any]:
    kind = req_id.split("-")[0]
    level = {"MUST": "MUST", "SHLD": "SHOULD", "REC": "RECOMMENDED", "MAY": "MAY"}[kind]
    return {
        "id": req_id,
        "level": level,
        "section": section,
        "summary": f"paraphrase of {req_id}",
        "observable": observable,
        "why": "" if observable else "the application's interface",
        "tests": list(tests),
    }


def document(
    tests: list[dict[str, Any]],
    targets: tuple[str, ...] = ("ringzero", "linux"),
    reqs: list[dict[str, Any]] | None = None,
) -> Document:
    return validate(
        {
            "schema": SCHEMA,
            "run_id": "20261123-190000-ab12",
            "created": "2026-11-23T19:00:00Z",
            "git": {"revision": "0123456789abcdef0123456789abcdef01234567", "dirty": True},
            "targets": [
                {
                    "name": name,
                    "kind": "unikernel" if name == "ringzero" else "namespace",
                    "backend": "qemu" if name == "ringzero" else "netns",
                    "accel": "tcg" if name == "ringzero" else "",
                    "exit_status": 1,
                    "duration_s": 812.4,
                }
                for name in targets
            ],
            "tests": tests,
            "tcp_requirements": reqs or [],
        }
    )


def rich_document() -> Document:
    """Two targets, several RFCs, failures, deviations, n/a, skips, a test
    with three markers, a test without any, Appendix B rows."""
    tests = []
    for target in ("ringzero", "linux"):
        failing = "failed" if target == "ringzero" else "passed"
        tests += [
            entry(
                "suites/arp/test_arp.py::test_reply",
                target,
                rfcs=((826, "Packet Reception", "MUST"),),
            ),
            entry("suites/ipv4/test_ip.py::test_ttl", target, rfcs=((791, "3.2", "MUST"),)),
            entry(
                "suites/ipv4/test_ip.py::test_options",
                target,
                "not_applicable" if target == "ringzero" else "passed",
                rfcs=((791, "3.1", "SHOULD"),),
                reason="lacks capability ip_options",
            ),
            entry(
                "suites/tcp/test_rst.py::test_rst_in_window",
                target,
                failing,
                rfcs=((9293, "3.10.7.4", "MUST"), (5961, "3.2", "MUST"), (9293, "3.5.3", "SHOULD")),
                reason="AssertionError: no challenge ACK",
                requirements=("MUST-7",),
                artifacts={"serial": "t/rst/serial.log", "pcap": "t/rst/wire.pcap"},
            ),
            entry(
                "suites/tcp/test_ts.py::test_timestamps",
                target,
                "deviation" if target == "ringzero" else "passed",
                rfcs=((7323, "3.2", "SHOULD"),),
                reason="known deviation: no timestamps yet",
            ),
            entry("suites/tcp/test_win.py::test_window", target, rfcs=((9293, "3.9", "MUST"),)),
            entry("suites/tcp/test_win.py::test_big", target, rfcs=((9293, "3.10", "MAY"),)),
            entry(
                "suites/tcp/test_x.py::test_skip", target, "skipped", rfcs=(), reason="needs root"
            ),
            entry("suites/kernel/test_boot.py::test_boots", target, rfcs=()),
            entry(
                EVIL,
                target,
                "failed" if target == "linux" else "passed",
                rfcs=((768, "Fields", "MUST"),),
                reason="<b>bold</b> & co",
            ),
        ]
    reqs = [
        requirement("MUST-7", "3.10.7.4"),
        requirement("MUST-8", "3.5", tests=("suites/tcp/test_win.py::test_window",)),
        requirement("MUST-9", "3.6"),
        requirement("MUST-10", "3.7", observable=False),
        requirement("SHLD-1", "3.8", tests=("suites/tcp/test_ts.py::test_timestamps",)),
        requirement("REC-1", "3.9"),
        requirement("MAY-1", "3.9", tests=("suites/tcp/test_win.py::test_big",)),
    ]
    return document(tests, reqs=reqs)


# ---- parsing HTML ---------------------------------------------------------------------

VOID = {"meta", "br", "img", "input", "link", "hr", "col", "source", "wbr", "area", "base"}


class Node:
    def __init__(self, tag: str, attrs: dict[str, str], parent: Node | None) -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node | str] = []

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def all(self, tag: str | None = None, **attrs: str) -> list[Node]:
        """Descendants with that tag and attribute values (attr_name for attr-name)."""
        wanted = {k.rstrip("_").replace("_", "-"): v for k, v in attrs.items()}
        found = []
        for child in self.children:
            if isinstance(child, Node):
                if (tag is None or child.tag == tag) and all(
                    child.attrs.get(k) == v for k, v in wanted.items()
                ):
                    found.append(child)
                found += child.all(tag, **attrs)
        return found

    def one(self, tag: str | None = None, **attrs: str) -> Node:
        found = self.all(tag, **attrs)
        assert len(found) == 1, f"{len(found)} <{tag} {attrs}> elements"
        return found[0]


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.current = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_endtag(self, tag: str) -> None:
        node: Node | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data: str) -> None:
        self.current.children.append(data)


def parse_html(text: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(text)
    builder.close()
    return builder.root


# ---- summary() ----------------------------------------------------------------------


def test_totals_count_every_outcome_per_target():
    s = render.summary(rich_document())
    assert s["targets"] == ["ringzero", "linux"]
    assert s["totals"]["ringzero"] == {
        "passed": 6,
        "failed": 1,
        "deviation": 1,
        "not_applicable": 1,
        "skipped": 1,
    }
    assert s["totals"]["linux"] == {
        "passed": 8,
        "failed": 1,
        "deviation": 0,
        "not_applicable": 0,
        "skipped": 1,
    }


def test_a_test_with_several_markers_counts_once_under_each_rfc_level_and_section():
    s = render.summary(rich_document())
    # test_rst_in_window names RFC 9293 twice (two sections, two levels) and 5961 once.
    assert s["rfcs"][9293]["ringzero"] == {
        "passed": 2,
        "failed": 1,
        "deviation": 0,
        "applicable": 3,
        "percent": pytest.approx(200 / 3),
    }
    assert s["rfcs"][5961]["ringzero"]["failed"] == 1
    assert s["rfcs"][5961]["linux"]["passed"] == 1
    assert list(s["levels"][9293]) == ["MUST", "SHOULD", "MAY"]
    assert s["levels"][9293]["MUST"]["ringzero"]["applicable"] == 2
    assert s["levels"][9293]["SHOULD"]["ringzero"]["failed"] == 1
    assert s["sections"][9293]["3.10.7.4"]["ringzero"]["failed"] == 1
    assert s["sections"][9293]["3.5.3"]["ringzero"]["failed"] == 1
    assert s["section_levels"][9293]["3.10.7.4"] == ["MUST"]


def test_two_markers_of_one_rfc_and_level_count_the_test_once():
    doc = document([entry("a::t", rfcs=((9293, "3.4", "MUST"), (9293, "3.5", "MUST")))])
    s = render.summary(doc)
    assert s["rfcs"][9293]["ringzero"]["applicable"] == 1
    assert s["levels"][9293]["MUST"]["ringzero"]["applicable"] == 1
    assert list(s["sections"][9293]) == ["3.4", "3.5"]


def test_not_applicable_and_skipped_are_left_out_of_the_totals_and_deviation_is_apart():
    s = render.summary(rich_document())
    ringzero, linux = s["rfcs"][791]["ringzero"], s["rfcs"][791]["linux"]
    assert (ringzero["passed"], ringzero["applicable"]) == (1, 1)  # options: n/a
    assert (linux["passed"], linux["applicable"]) == (2, 2)
    ts = s["rfcs"][7323]["ringzero"]
    assert (ts["passed"], ts["deviation"], ts["failed"], ts["applicable"]) == (0, 1, 0, 1)
    assert ts["percent"] == 0
    assert s["levels"][791]["SHOULD"]["ringzero"]["percent"] is None


def test_sections_sort_in_numeric_order():
    doc = document(
        [entry(f"a::t{s}", rfcs=((9293, s, "MUST"),)) for s in ("3.10", "3.9", "B", "3.9.1")]
    )
    assert list(render.summary(doc)["sections"][9293]) == ["3.9", "3.9.1", "3.10", "B"]


def test_tests_without_an_rfc_marker_are_other_tests():
    s = render.summary(rich_document())
    assert s["other"]["ringzero"]["passed"] == 1 and s["other"]["ringzero"]["skipped"] == 1
    assert sum(s["other"]["linux"].values()) == 2
    assert all(9293 in s["rfcs"] for _ in [0]) and "other" not in s["rfcs"]


def test_a_target_only_the_tests_name_is_still_counted():
    doc = document([entry("a::t", target="elsewhere")], targets=("ringzero",))
    s = render.summary(doc)
    assert s["targets"] == ["ringzero", "elsewhere"]
    assert s["totals"]["elsewhere"]["passed"] == 1


def test_appendix_b_rows_status_outcomes_and_coverage():
    b = render.summary(rich_document())["appendix_b"]
    rows = {r["id"]: r for r in b["rows"]}
    assert list(rows) == ["MUST-7", "MUST-8", "MUST-9", "MUST-10", "SHLD-1", "REC-1"]  # no MAY
    assert rows["MUST-7"]["status"] == "covered"  # named by the test's marker only
    assert rows["MUST-7"]["tests"] == ["suites/tcp/test_rst.py::test_rst_in_window"]
    assert rows["MUST-7"]["outcomes"]["ringzero"]["failed"] == 1
    assert rows["MUST-7"]["outcomes"]["linux"]["passed"] == 1
    assert rows["MUST-9"]["status"] == "not covered"
    assert rows["MUST-10"]["status"] == "not observable"
    must = b["coverage"]["MUST"]
    assert (must["observable"], must["covered"]) == (3, 2)
    assert must["percent"] == pytest.approx(200 / 3)
    assert must["passing"] == {"ringzero": 1, "linux": 2}
    shld = b["coverage"]["SHLD"]
    assert (shld["covered"], shld["observable"], shld["passing"]) == (
        1,
        1,
        {"ringzero": 0, "linux": 1},
    )
    assert b["coverage"]["REC"]["percent"] == 0


def test_an_empty_run_has_zero_counts_and_no_percentages():
    s = render.summary(document([]))
    assert s["totals"]["ringzero"] == render.zero_counts()
    assert s["rfcs"] == {} and s["appendix_b"]["rows"] == []
    assert render.markdown(document([])).count("## Failures and deviations") == 1


# ---- text pieces ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "text", "css"),
    [
        ({"passed": 3}, "3/3 pass", "pass"),
        ({"passed": 2, "failed": 1}, "1 fail, 2/3 pass", "fail"),
        ({"failed": 1}, "1 fail, 0/1 pass", "fail"),
        ({"passed": 1, "deviation": 1, "not_applicable": 4}, "1 dev, 1/2 pass", "dev"),
        ({"not_applicable": 2, "skipped": 1}, "n/a", "na"),
        ({"skipped": 1}, "skipped", "skip"),
        ({}, render.DASH, "none"),
    ],
)
def test_cells_say_the_outcome_mix(counts, text, css):
    assert render.cell({**render.zero_counts(), **counts}) == (text, css)


def test_percentages_round_down_so_only_all_reads_100():
    assert render.percent(99.7) == "99%"
    assert render.percent(100.0) == "100%"
    assert render.percent(200 / 3 * 1.5) == "100%"
    assert render.percent(None) == render.DASH


# ---- Markdown -----------------------------------------------------------------------

_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def _tables(md: str) -> list[list[str]]:
    tables: list[list[str]] = []
    previous = ""
    for line in md.splitlines():
        if line.startswith("|"):
            if not previous.startswith("|"):
                tables.append([])
            tables[-1].append(line)
        previous = line
    return tables


def test_markdown_tables_are_well_formed():
    md = render.markdown(rich_document())
    tables = _tables(md)
    assert len(tables) >= 8
    for table in tables:
        widths = {len(_UNESCAPED_PIPE.split(row)) for row in table}
        assert len(widths) == 1, table
        assert re.fullmatch(r"\|(---\|)+", table[1])
        assert all(row.endswith("|") and not row.endswith("\\|") for row in table)


def test_markdown_lists_failures_and_deviations_first():
    md = render.markdown(rich_document())
    headings = [line for line in md.splitlines() if line.startswith("## ")]
    assert headings[:2] == ["## Totals", "## Failures and deviations"]
    assert headings[2] == "## RFC 768: User Datagram Protocol"
    rfcs = [
        int(re.match(r"## RFC (\d+)", h).group(1)) for h in headings if re.match(r"## RFC \d+:", h)
    ]
    assert rfcs == sorted(rfcs) == [768, 791, 826, 5961, 7323, 9293]
    assert headings[-2:] == ["## RFC 9293 Appendix B: requirement coverage", "## Other tests"]
    failures = _tables(md.split("## Failures and deviations")[1].split("## RFC")[0])[0][2:]
    outcomes = [_UNESCAPED_PIPE.split(row)[2].strip() for row in failures]
    assert outcomes == ["failed", "failed", "deviation"]
    assert "ringzero" in failures[0] and "test_rst_in_window" in failures[0]
    assert "linux" in failures[1] and "test_param" in failures[1]
    assert "RFC 9293 §3.10.7.4 MUST; RFC 5961 §3.2 MUST; RFC 9293 §3.5.3 SHOULD" in failures[0]
    assert "no challenge ACK" in failures[0]


def test_markdown_head_totals_and_rfc_cells():
    md = render.markdown(rich_document())
    assert md.startswith("# Conformance report 20261123-190000-ab12\n")
    assert "Revision `0123456789abcdef0123456789abcdef01234567` (with uncommitted changes)" in md
    assert "| ringzero | unikernel | qemu | tcg | 13 min 32 s | 1 |" in md
    assert "| ringzero | 6 | 1 | 1 | 1 | 1 | 10 |" in md
    assert "| 3.1 | SHOULD | n/a | 1/1 pass |" in md
    assert "| 3.10.7.4 | MUST | 1 fail, 0/1 pass | 1/1 pass |" in md
    assert "MUST: ringzero 1/2 (50%), linux 2/2 (100%) · SHOULD: ringzero 0/1 (0%)" in md
    assert "MUST: ringzero 1/1 (100%), linux 1/1 (100%) · SHOULD: ringzero n/a, linux 1/1" in md
    assert "observable MUSTs covered: 2/3 (66%), passing on ringzero 1, linux 2" in md
    d = render.DASH
    assert (
        f"| MUST-10 | MUST | 3.7 | not observable | {d} | {d} | 0 | paraphrase of MUST-10 (not"
        in md
    )


def test_markdown_links_only_the_artifacts_the_document_names():
    doc = document(
        [
            entry("a::t1", outcome="failed", artifacts={"serial": "t1/serial.log"}),
            entry("a::t2", outcome="failed", artifacts={"crash": "t 2/crash (1).txt", "pcap": ""}),
            entry("a::t3", outcome="failed"),
        ]
    )
    rows = _tables(render.markdown(doc).split("## Failures and deviations")[1])[0][2:]
    assert rows[0].endswith("| [serial](t1/serial.log) |")
    assert rows[1].endswith("| [crash](t%202/crash%20%281%29.txt) |")  # no link for pcap: ""
    assert rows[2].endswith("|  |")
    assert "pcap" not in "".join(rows)


def test_markdown_escapes_nodeids_and_reasons():
    md = render.markdown(rich_document())
    # The node id is a code span (literal text), the reason escaped text.
    assert f"`{EVIL}`" in md
    assert md.count("<script>") == 1
    assert "\\<b\\>bold\\</b\\> \\& co" in md
    assert render.md_code("a|b`c") == "``a\\|b`c``"
    assert render.md_code("`x") == "`` `x ``"


def test_markdown_without_failures_says_none():
    md = render.markdown(document([entry("a::t")]))
    assert "## Failures and deviations\n\nNone.\n" in md
    assert "## Other tests" not in md and "Appendix B" not in md


# ---- HTML ---------------------------------------------------------------------------


def test_html_escapes_everything_and_embeds_the_document():
    doc = rich_document()
    page = render.html(doc)
    assert "<script>alert" not in page and "</script>]" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in page
    root = parse_html(page)
    data = root.one("script", id="report-data")
    assert data.attrs["type"] == "application/json"
    assert json.loads(data.text()) == json.loads(json.dumps(doc))
    assert len(root.all("script")) == 2


def test_html_is_self_contained():
    page = render.html(rich_document())
    assert not re.search(r"(?i)(https?:)?//[a-z]", page.replace("<!DOCTYPE html>", ""))
    root = parse_html(page)
    hrefs = [a.attrs["href"] for a in root.all("a")]
    assert all(not h.startswith(("/", "http", "javascript")) for h in hrefs)
    assert not root.all("link") and not any("src" in s.attrs for s in root.all("script"))


def test_html_hooks_for_tests():
    doc = rich_document()
    root = parse_html(render.html(doc))
    assert root.one("body").attrs["data-rendered"] == "no"  # until the page's script ran
    totals = root.all("table", class_="totals")
    assert [t.attrs["data-target"] for t in totals] == ["ringzero", "linux"]
    passed = totals[0].one("tr", data_outcome="passed").one("td").text()
    assert passed == "6"
    failures = root.one("section", id="failures").all("tr", data_outcome="failed")
    assert [(r.attrs["data-target"], r.attrs["data-nodeid"]) for r in failures] == [
        ("ringzero", "suites/tcp/test_rst.py::test_rst_in_window"),
        ("linux", EVIL),
    ]
    rfcs = [s.attrs["id"] for s in root.all("section", class_="rfc")]
    assert rfcs == ["rfc-768", "rfc-791", "rfc-826", "rfc-5961", "rfc-7323", "rfc-9293"]
    assert len(root.one("table", id="tests").one("tbody").all("tr")) == len(doc["tests"])
    spans = root.all("span", class_="js-count")
    assert len(spans) == 2 * 5
    assert root.one("select", id="outcome-filter")
    assert root.one("section", id="appendix-b").all("tr", data_req="MUST-7")


def test_html_links_only_the_artifacts_the_document_names():
    doc = rich_document()
    root = parse_html(render.html(doc))
    row = root.one("section", id="failures").all("tr")[1]
    assert [(a.text(), a.attrs["href"]) for a in row.all("a")] == [
        ("serial", "t/rst/serial.log"),
        ("pcap", "t/rst/wire.pcap"),
    ]
    failures = root.one("section", id="failures").all("tr", data_outcome="deviation")
    assert failures and not failures[0].all("a")


# ---- the terminal -------------------------------------------------------------------


def test_terminal_summary_names_the_failing_must_tests_only():
    text = render.terminal_summary(rich_document())
    lines = text.splitlines()
    assert lines[0] == (
        "ringzero (qemu, tcg, 13 min 32 s): 6 passed, 1 failed, 1 deviation, "
        "1 not applicable, 1 skipped"
    )
    rfcs = "RFC 768 1/1 · RFC 791 1/1 · RFC 826 1/1 · RFC 5961 0/1 · RFC 7323 0/1 (1 dev)"
    assert f"  {rfcs} · RFC 9293 2/3\n" in text
    assert "\nlinux (netns, 13 min 32 s): 8 passed, 1 failed, 1 skipped\n" in text
    i = lines.index("MUST failures:")
    assert len(lines) == i + 3
    assert re.fullmatch(
        r"  ringzero  suites/tcp/test_rst.py::test_rst_in_window  RFC 9293 §3.10.7.4", lines[i + 1]
    )
    assert lines[i + 2] == f"  linux     {EVIL}  RFC 768 §Fields"
    assert "timestamps" not in text  # a deviation is not a failure
    assert "test_options" not in text and "test_skip" not in text


def test_terminal_summary_truncates_the_list_and_fits_the_width():
    tests = [
        entry(
            f"suites/tcp/test_many.py::test_number_{i:02d}_with_a_rather_long_name_{'x' * 40}",
            outcome="failed",
        )
        for i in range(25)
    ]
    text = render.terminal_summary(document(tests), width=80)
    lines = text.splitlines()
    i = lines.index("MUST failures:")
    assert len(lines[i + 1 :]) == 21
    assert lines[-1] == "  (+5 more, see conformance.md)"
    assert all(len(line) <= 80 for line in lines)
    assert lines[i + 1].startswith("  ringzero  …") and lines[i + 1].endswith("RFC 9293 §3.4")


def test_terminal_summary_without_must_failures():
    text = render.terminal_summary(document([entry("a::t")]))
    assert text.splitlines()[-1] == "MUST failures: none"


# ---- files ----------------------------------------------------------------------------


def test_write_all_writes_both_next_to_the_json(tmp_path):
    paths = render.write_all(rich_document(), tmp_path)
    assert [p.name for p in paths] == ["conformance.md", "conformance.html"]
    assert paths[0].read_text().startswith("# Conformance report")
    assert paths[1].read_text().startswith("<!DOCTYPE html>")
