"""RFC 9293's requirement table (suites/tcp/requirements.toml) is complete
and well-formed, every tcp_req marker in the suites names one of its ids,
and the coverage computation maps tests to requirements."""

import textwrap

import pytest
from ringzero import tcp_requirements as tr
from ringzero.paths import repo_root
from ringzero.plugin import TCP_REQ_ID

SUITES = repo_root() / "suites"


@pytest.fixture(scope="module")
def table():
    return tr.load()


def test_the_table_has_every_id_of_appendix_b_once(table):
    """Appendix B numbers MUST-1..69, SHLD-1..31, MAY-1..18 and REC-1;
    load() has already checked uniqueness and gaps."""
    by_kind = {}
    for r in table.values():
        by_kind.setdefault(r.kind, []).append(r.number)
    assert sorted(by_kind["MUST"]) == list(range(1, 70))
    assert sorted(by_kind["SHLD"]) == list(range(1, 32))
    assert sorted(by_kind["MAY"]) == list(range(1, 19))
    assert by_kind["REC"] == [1]


def test_every_entry_has_a_section_of_the_body_a_summary_and_a_reason_when_unobservable(table):
    for r in table.values():
        assert r.section.startswith("3."), r.id  # all of them are in Section 3
        assert len(r.summary) > 20 and r.topic, r.id
        assert r.observable or len(r.why) > 10, r.id


def test_the_plugin_accepts_every_markable_id(table):
    """tcp_req markers are checked by the plugin's pattern; every id but
    the RECOMMENDED one (not observable) must pass it."""
    for req_id in table:
        assert bool(TCP_REQ_ID.fullmatch(req_id)) == (not req_id.startswith("REC-")), req_id


def test_every_tcp_req_marker_in_the_suites_names_a_requirement_of_the_table(table):
    """Read with ast, not imported: every tcp_req(...) call anywhere in a
    suite's test file has string-literal ids that the table has."""
    bad = []
    for path in tr.suite_files(SUITES):
        _, uses = tr.scan_source(path, repo_root())
        for use in uses:
            where = f"{path.relative_to(repo_root())}:{use.line}"
            if not use.ids and not use.bad_args:
                bad.append(f"{where}: tcp_req() without ids")
            bad += [f"{where}: {arg} is not a string literal" for arg in use.bad_args]
            bad += [f"{where}: {i} is not in requirements.toml" for i in use.ids if i not in table]
    assert not bad, "\n".join(bad)


def test_coverage_of_the_suites_lists_every_must_and_should(table):
    rows = tr.coverage(table, tr.markers_in_sources(SUITES))
    assert {r.requirement.id for r in rows} == {i for i in table if not i.startswith("MAY-")}
    for row in rows:
        if row.status == "not observable":
            assert row.requirement.why
    text = tr.format_coverage(rows)
    assert text.splitlines()[0].startswith("MUST-1 ")
    assert "MUST: 69 (" in text and "SHLD: 31 (" in text


# ---- the machinery, on made-up input ---------------------------------------------


def entry(req_id, **kw):
    base = {
        "id": req_id,
        "level": {"MUST": "MUST", "SHLD": "SHOULD", "MAY": "MAY", "REC": "RECOMMENDED"}[
            req_id.split("-")[0]
        ],
        "section": "3.1",
        "topic": "Window",
        "summary": "something",
        "observable": True,
    }
    base.update(kw)
    return base


def test_problems_names_duplicates_gaps_bad_levels_and_missing_reasons():
    reqs = tr.parse(
        {
            "requirement": [
                entry("MUST-1"),
                entry("MUST-1"),
                entry("MUST-3", level="SHOULD"),
                entry("SHLD-1", observable=False),
                entry("MAY-1", section=""),
                entry("MUST-X"),
            ]
        }
    )
    found = "\n".join(tr.problems(reqs))
    assert "MUST-1: listed more than once" in found
    assert "MUST: missing MUST-2" in found
    assert "MUST-3: level 'SHOULD' does not fit" in found
    assert "SHLD-1: observable = false needs a why" in found
    assert "MAY-1: section '' is not a section number" in found
    assert "'MUST-X': not an id" in found


def test_parse_rejects_unknown_keys_and_wrong_types():
    with pytest.raises(tr.RequirementsError, match="unknown keys"):
        tr.parse({"requirement": [entry("MUST-1", colour="red")]})
    with pytest.raises(tr.RequirementsError, match="observable must be true or false"):
        tr.parse({"requirement": [entry("MUST-1", observable="yes")]})
    with pytest.raises(tr.RequirementsError, match="no \\[\\[requirement\\]\\]"):
        tr.parse({})


def test_scan_source_attaches_module_class_and_function_markers(tmp_path):
    suites = tmp_path / "suites"
    suites.mkdir()
    src = suites / "test_x.py"
    src.write_text(
        textwrap.dedent(
            """
            import pytest
            from pytest import mark

            pytestmark = [pytest.mark.requires("tcp"), pytest.mark.tcp_req("MUST-2")]
            req = pytest.mark.tcp_req
            IDS = "MUST-9"

            @pytest.mark.rfc(9293, "3.1", "MUST")
            @pytest.mark.tcp_req("MUST-3", "MUST-5")
            def test_a():
                pass

            def test_b():
                pass

            @mark.tcp_req("SHLD-1")
            class TestGroup:
                @req("MAY-3")
                def test_c(self):
                    pass

                def helper(self):
                    pass

            @pytest.mark.parametrize("n", [pytest.param(1, marks=pytest.mark.tcp_req("MUST-4"))])
            def test_d(n):
                pass

            @pytest.mark.tcp_req(IDS)
            def test_e():
                pass
            """
        )
    )
    tests, uses = tr.scan_source(src, tmp_path)
    assert tests == {
        "suites/test_x.py::test_a": ["MUST-2", "MUST-3", "MUST-5"],
        "suites/test_x.py::test_b": ["MUST-2"],
        "suites/test_x.py::TestGroup::test_c": ["MUST-2", "SHLD-1", "MAY-3"],
        "suites/test_x.py::test_d": ["MUST-2", "MUST-4"],
        "suites/test_x.py::test_e": ["MUST-2"],
    }
    assert [u.bad_args for u in uses if u.bad_args] == [["IDS"]]
    assert tr.markers_in_sources(suites) == tests


def test_coverage_status_is_covered_not_observable_or_not_covered():
    reqs = {
        r.id: r
        for r in tr.parse(
            {
                "requirement": [
                    entry("MUST-1"),
                    entry("MUST-2"),
                    entry("SHLD-1", observable=False, why="an API"),
                    entry("MAY-1"),
                ]
            }
        )
    }
    tests = {"t.py::test_x": ["MUST-1", "MAY-1"], "t.py::test_y": ["MUST-1", "MUST-77"]}
    rows = tr.coverage(reqs, tests)
    assert [(r.requirement.id, r.status, r.tests) for r in rows] == [
        ("MUST-1", "covered", ("t.py::test_x", "t.py::test_y")),
        ("MUST-2", "not covered", ()),
        ("SHLD-1", "not observable", ()),
    ]
    assert tr.unknown_ids(reqs, tests) == ["t.py::test_y: MUST-77"]
    assert tr.summary_counts(rows) == {
        "MUST": {"covered": 1, "not covered": 1},
        "SHLD": {"not observable": 1},
    }
    text = tr.format_coverage(rows, max_tests=1)
    assert "t.py::test_x (+1 more)" in text and "an API" in text


def test_print_coverage_reads_the_suites_without_running_them(capsys):
    tr.print_coverage()
    out = capsys.readouterr().out
    assert "MUST-69" in out and "MUST: 69" in out
