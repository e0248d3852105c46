"""`ringzero conformance` end to end on a small suite of its own (no VMs:
its tests only carry markers), run for real with pytest, xdist, JUnit and
allure-pytest: every file of the report is written, each outcome is
classified, both targets sit side by side, and a test changed to fail
shows up in `ringzero report diff`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from ringzero.conformance import allure_command
from ringzero.report import schema

SUITE = '''
import os
import pytest


@pytest.fixture
def broken():
    raise RuntimeError("the fixture broke")


@pytest.mark.rfc(791, "3.2", "MUST")
def test_passes():
    """Holds everywhere."""


@pytest.mark.rfc(791, "3.2.1.3", "MUST")
def test_turns_red():
    """Fails when told to."""
    assert os.environ.get("TURN_RED") != "1", "told to fail"


@pytest.mark.rfc(826, "2", "SHOULD")
@pytest.mark.requires("no-such-capability")
def test_not_applicable():
    pass


@pytest.mark.rfc(793, "3.4", "MAY")
@pytest.mark.xfail(reason="a known deviation", strict=True)
def test_deviation():
    assert False


@pytest.mark.rfc(768, "1", "MUST")
def test_setup_error(broken):
    pass


@pytest.mark.tcp_req("MUST-7")
@pytest.mark.rfc(9293, "3.4", "MUST")
@pytest.mark.parametrize("n", [1, 2])
def test_param(n):
    assert n


def test_without_rfc():
    pytest.skip("not wanted today")
'''

EXPECTED = {
    "test_passes": "passed",
    "test_turns_red": "passed",
    "test_not_applicable": "not_applicable",
    "test_deviation": "deviation",
    "test_setup_error": "failed",
    "test_param[1]": "passed",
    "test_param[2]": "passed",
    "test_without_rfc": "skipped",
}


def conformance(suite: Path, out: Path, *extra: str, env: dict[str, str] | None = None):
    argv = [sys.executable, "-m", "ringzero.cli", "conformance", str(suite), "--out", str(out)]
    argv += [
        "--targets",
        "ringzero,linux",
        "-n",
        "2",
        "--pytest-arg=-p",
        "--pytest-arg=no:cacheprovider",
        *extra,
    ]
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
        cwd=suite.parent,
    )


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("suite")
    (root / "test_small.py").write_text(SUITE)
    return root / "test_small.py"


@pytest.fixture(scope="module")
def first(
    suite: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    out = tmp_path_factory.mktemp("run-a")
    return out, conformance(suite, out)


def test_writes_every_file(first):
    out, done = first
    assert done.returncode == 1, done.stdout + done.stderr  # the setup error fails the run
    for name in ("conformance.json", "conformance.md", "conformance.html"):
        assert (out / name).is_file(), f"{name} missing:\n{done.stdout}"
    for target in ("ringzero", "linux"):
        junit = ET.parse(out / f"junit-{target}.xml").getroot()
        cases = junit.iter("testcase")
        assert sum(1 for _ in cases) == len(EXPECTED)
    results = list((out / "allure-results").glob("*-result.json"))
    assert len(results) == 2 * len(EXPECTED)
    if allure_command() is not None:
        assert (out / "allure-report" / "index.html").is_file(), done.stdout
    assert "MUST failures" in done.stdout


def test_classifies_every_outcome_on_both_targets(first):
    out, _ = first
    doc = schema.load(out)
    assert [t["name"] for t in doc["targets"]] == ["ringzero", "linux"]
    assert all(t["exit_status"] == 1 for t in doc["targets"])
    for target in ("ringzero", "linux"):
        got = {
            t["nodeid"].split("::")[1]: t["outcome"] for t in doc["tests"] if t["target"] == target
        }
        assert got == EXPECTED, target
    by_name = {t["nodeid"].split("::")[1]: t for t in doc["tests"] if t["target"] == "linux"}
    assert by_name["test_setup_error"]["phase"] == "setup"
    assert "the fixture broke" in by_name["test_setup_error"]["reason"]
    assert by_name["test_deviation"]["reason"] == "a known deviation"
    assert by_name["test_passes"]["rfcs"] == [{"rfc": 791, "section": "3.2", "level": "MUST"}]
    assert by_name["test_passes"]["doc"] == "Holds everywhere."
    assert by_name["test_param[1]"]["requirements"] == ["MUST-7"]
    assert by_name["test_without_rfc"]["rfcs"] == []


def test_a_test_changed_to_fail_shows_in_report_diff(first, suite, tmp_path):
    a, _ = first
    b = tmp_path / "run-b"
    done = conformance(suite, b, env={"TURN_RED": "1"})
    assert done.returncode == 1
    doc = json.loads((b / "conformance.json").read_text())
    red = [t for t in doc["tests"] if t["nodeid"].endswith("test_turns_red")]
    assert {t["outcome"] for t in red} == {"failed"}
    diff = subprocess.run(
        [
            sys.executable,
            "-m",
            "ringzero.cli",
            "report",
            "diff",
            str(a),
            str(b),
            "--fail-on-regression",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert diff.returncode == 1, diff.stdout + diff.stderr
    newly = diff.stdout.split("ewly failing", 1)[1].split("\n\n", 1)[0]
    assert newly.count("test_turns_red") == 2, diff.stdout  # on both targets
    assert "test_passes" not in newly


def test_a_bad_target_is_one_clear_line(suite, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "ringzero.cli", "conformance", str(suite), "--targets", "nosuch"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().startswith("ringzero: --targets:"), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_the_real_report_opens_in_chromium_with_the_jsons_counts(first, tmp_path):
    """The HTML this run wrote, in Debian's chromium: the page's own script
    counted its rows, and per target and outcome they are what
    conformance.json says."""
    from tests.test_report_html_chromium import run_chromium
    from tests.test_report_render import parse_html

    out, _ = first
    doc = schema.load(out)
    dom = parse_html(run_chromium(["--dump-dom", (out / "conformance.html").as_uri()], tmp_path))
    assert dom.one("body").attrs.get("data-rendered") == "yes"
    counted = {
        (s.attrs["data-target"], s.attrs["data-outcome"]): int(s.text())
        for s in dom.all("span", class_="js-count")
    }
    expected = {
        (target, outcome): sum(
            1 for t in doc["tests"] if t["target"] == target and t["outcome"] == outcome
        )
        for target in ("ringzero", "linux")
        for outcome in schema.OUTCOMES
    }
    assert counted == expected
    assert expected[("linux", "failed")] == 1
