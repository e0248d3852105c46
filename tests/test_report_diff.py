"""ringzero report diff: finding a report by what a user names, the
categories of change between two synthetic reports, the text, exit codes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from ringzero.report import schema
from ringzero.report.diff import Change, diff, diff_main, format_diff, resolve

RUN_A = "20261123-190000-aaaa"
RUN_B = "20261124-090000-bbbb"


# ---- synthetic reports --------------------------------------------------------------


def entry(
    nodeid: str,
    outcome: str = "passed",
    target: str = "ringzero",
    reason: str = "",
    rfcs: tuple[tuple[int, str, str], ...] = ((9293, "3.10.7.4", "MUST"),),
    artifacts: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "nodeid": nodeid,
        "target": target,
        "outcome": outcome,
        "reason": reason,
        "phase": "call",
        "duration_s": 0.5,
        "doc": f"{nodeid} does its thing",
        "rfcs": [{"rfc": n, "section": s, "level": lvl} for n, s, lvl in rfcs],
        "requirements": [],
        "artifacts": artifacts or {},
    }


def document(
    tests: list[dict[str, Any]], run_id: str = RUN_A, targets: list[str] | None = None
) -> schema.Document:
    names = targets if targets is not None else list(dict.fromkeys(t["target"] for t in tests))
    doc = {
        "schema": schema.SCHEMA,
        "run_id": run_id,
        "created": "2026-11-23T19:00:00Z",
        "git": {"revision": "a" * 40, "dirty": False},
        "targets": [
            {
                "name": n,
                "kind": "unikernel" if n.startswith("ringzero") else "reference",
                "backend": "qemu",
                "accel": "tcg",
                "exit_status": 0,
                "duration_s": 10.0,
            }
            for n in names
        ],
        "tests": tests,
        "tcp_requirements": [],
    }
    return schema.validate(doc)


def write(directory: Path, doc: schema.Document) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    return schema.dump(doc, directory)


# ---- diff ---------------------------------------------------------------------------


def _pair() -> tuple[schema.Document, schema.Document]:
    a = [
        entry("t.py::pass_to_fail"),
        entry("t.py::dev_to_fail", "deviation", reason="known: no SACK"),
        entry("t.py::skip_to_fail", "skipped"),
        entry("t.py::fail_to_pass", "failed", reason="AssertionError: no RST"),
        entry("t.py::dev_to_pass", "deviation"),
        entry("t.py::pass_to_na", "passed"),
        entry("t.py::fail_to_dev", "failed"),
        entry("t.py::skip_to_pass", "skipped"),
        entry("t.py::same_pass"),
        entry("t.py::same_fail", "failed"),
        entry("t.py::removed", "passed", rfcs=((791, "3.2", "MUST"),)),
        entry("t.py::pass_to_fail", target="linux"),
        entry("t.py::gone_target", target="freebsd"),
    ]
    b = [
        entry("t.py::pass_to_fail", "failed", reason="AssertionError: window 0"),
        entry("t.py::dev_to_fail", "failed"),
        entry("t.py::skip_to_fail", "failed"),
        entry("t.py::fail_to_pass", "passed"),
        entry("t.py::dev_to_pass", "passed"),
        entry("t.py::pass_to_na", "not_applicable", reason="no IPv6"),
        entry("t.py::fail_to_dev", "deviation", reason="bug #12"),
        entry("t.py::skip_to_pass", "passed"),
        entry("t.py::same_pass"),
        entry("t.py::same_fail", "failed", reason="a different message"),
        entry("t.py::added_failing", "failed", reason="boom"),
        entry("t.py::added_passing"),
        entry("t.py::pass_to_fail", target="linux", outcome="failed"),
        entry("t.py::new_target_fails", target="ringzero-kvm", outcome="failed"),
        entry("t.py::new_target_passes", target="ringzero-kvm"),
    ]
    return document(a, RUN_A), document(b, RUN_B)


def _ids(changes: list[Change]) -> list[tuple[str, str]]:
    return [(c.target, c.nodeid.split("::")[1]) for c in changes]


def test_diff_puts_each_change_in_one_category() -> None:
    d = diff(*_pair())
    assert _ids(d.newly_failing) == [
        ("ringzero", "pass_to_fail"),
        ("ringzero", "dev_to_fail"),
        ("ringzero", "skip_to_fail"),
        ("ringzero", "added_failing"),
        ("linux", "pass_to_fail"),
    ]
    assert _ids(d.newly_passing) == [("ringzero", "fail_to_pass"), ("ringzero", "dev_to_pass")]
    assert _ids(d.changed) == [
        ("ringzero", "pass_to_na"),
        ("ringzero", "fail_to_dev"),
        ("ringzero", "skip_to_pass"),
    ]
    assert _ids(d.new_tests) == [("ringzero", "added_passing")]
    assert _ids(d.removed_tests) == [("ringzero", "removed")]
    assert [(t.name, t.side, t.counts) for t in d.targets_only] == [
        ("freebsd", "A", {"passed": 1}),
        ("ringzero-kvm", "B", {"passed": 1, "failed": 1}),
    ]
    assert not d.empty


def test_change_keeps_both_outcomes_b_reason_and_markers() -> None:
    d = diff(*_pair())
    first = d.newly_failing[0]
    assert (first.before, first.after) == ("passed", "failed")
    assert first.reason == "AssertionError: window 0"
    assert first.rfcs == ({"rfc": 9293, "section": "3.10.7.4", "level": "MUST"},)
    added = d.newly_failing[3]
    assert (added.before, added.after, added.reason) == (None, "failed", "boom")
    # fail → pass: B has no reason, A's is not carried over
    assert d.newly_passing[0].reason == ""
    removed = d.removed_tests[0]
    assert (removed.before, removed.after, removed.reason) == ("passed", None, "")
    assert removed.rfcs == ({"rfc": 791, "section": "3.2", "level": "MUST"},)


def test_markers_are_sorted_by_rfc_then_section() -> None:
    rfcs = ((9293, "3.10", "MUST"), (1122, "4.2.2", "SHOULD"), (9293, "3.9", "MAY"))
    a = document([entry("t.py::x", rfcs=rfcs)])
    b = document([entry("t.py::x", "failed", rfcs=rfcs)], RUN_B)
    (change,) = diff(a, b).newly_failing
    assert [(r["rfc"], r["section"]) for r in change.rfcs] == [
        (1122, "4.2.2"),
        (9293, "3.9"),
        (9293, "3.10"),
    ]
    text = format_diff(diff(a, b), "A", "B")
    assert "(RFC 1122 §4.2.2 SHOULD, RFC 9293 §3.9 MAY, RFC 9293 §3.10 MUST)" in text


def test_identical_reports_have_no_changes() -> None:
    a, _ = _pair()
    b = document(list(a["tests"]), RUN_B)
    d = diff(a, b)
    assert d.empty
    assert format_diff(d, "A", "B") == "A → B\nno changes\n"


def test_format_lists_sections_in_order_with_counts() -> None:
    text = format_diff(diff(*_pair()), "release 0.1.0", RUN_B)
    lines = text.splitlines()
    assert lines[0] == f"release 0.1.0 → {RUN_B}"
    headings = [line for line in lines if line and not line.startswith(" ")][1:-1]
    assert headings == [
        "Newly failing (5):",
        "Newly passing (2):",
        "Changed (3):",
        "New tests (1):",
        "Removed tests (1):",
        "Targets on one side only (2):",
    ]
    assert (
        "  ringzero  t.py::pass_to_fail  (RFC 9293 §3.10.7.4 MUST)  passed → failed: "
        "AssertionError: window 0"
    ) in lines
    assert "  ringzero  t.py::added_failing  (RFC 9293 §3.10.7.4 MUST)  absent → failed: boom" in (
        lines
    )
    assert "  ringzero  t.py::removed  (RFC 791 §3.2 MUST)  passed → absent" in lines
    # targets are padded to one width so the node ids line up
    assert "  linux     t.py::pass_to_fail  (RFC 9293 §3.10.7.4 MUST)  passed → failed" in lines
    assert "  freebsd  only in release 0.1.0: 1 passed" in lines
    assert f"  ringzero-kvm  only in {RUN_B}: 1 passed, 1 failed" in lines
    assert lines[-1] == (
        "5 newly failing, 2 newly passing, 3 changed, 1 new test, 1 removed test, "
        "2 targets on one side only"
    )


def test_format_omits_missing_markers_and_reason() -> None:
    a = document([entry("t.py::x", rfcs=())])
    b = document([entry("t.py::x", "skipped", rfcs=())], RUN_B)
    assert "  ringzero  t.py::x  passed → skipped" in format_diff(diff(a, b), "A", "B").splitlines()


# ---- resolve ------------------------------------------------------------------------


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    """reports/ with two runs, one run without a report, a release."""
    base = tmp_path / "reports"
    old = write(base / RUN_A, document([entry("t.py::x")], RUN_A))
    new = write(base / RUN_B, document([entry("t.py::x", "failed")], RUN_B))
    (base / "20261125-000000-cccc").mkdir()  # a run that wrote no report
    (base / "20261125-000000-cccc" / "serial.log").write_text("")
    release = write(base / "releases" / "0.1.0", document([entry("t.py::x")], RUN_A))
    os.utime(old, (1_000_000, 1_000_000))
    os.utime(new, (2_000_000, 2_000_000))
    os.utime(release, (3_000_000, 3_000_000))  # newer, but a release is not a run
    return base


def test_resolve_each_kind_of_ref(reports: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_b = reports / RUN_B / schema.FILENAME
    release = reports / "releases" / "0.1.0" / schema.FILENAME
    assert resolve(str(reports / RUN_B), reports) == run_b  # a directory
    assert resolve(str(run_b), reports) == run_b  # the file
    assert resolve(RUN_A, reports) == reports / RUN_A / schema.FILENAME  # a run id
    assert resolve("0.1.0", reports) == release  # a release version
    assert resolve("v0.1.0", reports) == release
    assert resolve("latest", reports) == run_b
    monkeypatch.chdir(reports)  # a relative path
    assert resolve(RUN_B, reports).resolve() == run_b


def test_latest_is_the_last_written_run(reports: Path) -> None:
    os.utime(reports / RUN_A / schema.FILENAME, (4_000_000, 4_000_000))
    assert resolve("latest", reports) == reports / RUN_A / schema.FILENAME


def test_resolve_a_bad_ref_says_what_it_looked_for(reports: Path) -> None:
    with pytest.raises(schema.ReportError) as e:
        resolve("0.2.0", reports)
    message = str(e.value)
    assert "\n" not in message
    assert f"{reports}/0.2.0/conformance.json" in message
    assert f"{reports}/releases/0.2.0/conformance.json" in message
    assert "'latest'" in message


def test_resolve_a_directory_without_a_report(reports: Path) -> None:
    with pytest.raises(schema.ReportError, match=r"has no conformance\.json"):
        resolve(str(reports / "20261125-000000-cccc"), reports)
    with pytest.raises(schema.ReportError, match="no report '20261125-000000-cccc'"):
        resolve("20261125-000000-cccc", reports)


def test_latest_without_any_run(tmp_path: Path) -> None:
    with pytest.raises(schema.ReportError, match=r"no run under .* has a conformance\.json"):
        resolve("latest", tmp_path / "reports")
    (tmp_path / "reports" / "releases" / "1.0").mkdir(parents=True)
    write(tmp_path / "reports" / "releases" / "1.0", document([]))
    with pytest.raises(schema.ReportError):
        resolve("latest", tmp_path / "reports")


# ---- diff_main ----------------------------------------------------------------------


def test_diff_main_exit_codes(reports: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert diff_main("0.1.0", "latest", reports) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"release 0.1.0 (run {RUN_A}) → latest (run {RUN_B})"
    assert "Newly failing (1):" in out
    assert diff_main("0.1.0", "latest", reports, fail_on_regression=True) == 1
    # the other way round the test is newly passing: no regression
    assert diff_main(RUN_B, RUN_A, reports, fail_on_regression=True) == 0
    assert "Newly passing (1):" in capsys.readouterr().out
    assert diff_main(RUN_A, "0.1.0", reports, fail_on_regression=True) == 0
    assert capsys.readouterr().out.splitlines()[1] == "no changes"


def test_diff_main_bad_ref_or_bad_report(reports: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert diff_main(RUN_A, "nope", reports, fail_on_regression=True) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("ringzero: no report 'nope'")
    bad = reports / "bad"
    bad.mkdir()
    (bad / schema.FILENAME).write_text(json.dumps({"schema": "other"}))
    assert diff_main("bad", RUN_A, reports) == 2
    assert "not a ringzero conformance report" in capsys.readouterr().err
