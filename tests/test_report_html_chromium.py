"""conformance.html in a real browser: Debian's chromium, headless, loads
the page from disk; its own script runs, counts the rows of the per-test
table and agrees with summary(); the sections a reader needs are there; a
screenshot of it is a real PNG.

CI installs chromium (scripts/apt-packages.txt); without it these tests
fail rather than skip, so a missing browser cannot pass unnoticed."""

from __future__ import annotations

import os
import shutil
import signal
import struct
import subprocess
from pathlib import Path

import pytest
from ringzero.report import render
from ringzero.report.schema import OUTCOMES

from tests.test_report_render import Node, parse_html, rich_document

MISSING = "chromium is missing: run `make setup` (installs Debian's chromium)"
TIMEOUT_S = 60
WINDOW = (1280, 2400)


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("/usr/bin/chromium")
    if found is None:
        pytest.fail(MISSING, pytrace=False)
    return found


def run_chromium(args: list[str], scratch: Path) -> str:
    """Chromium's stdout; its whole process group is killed if it takes
    longer than TIMEOUT_S (it starts helpers of its own)."""
    profile = scratch / "profile"
    profile.mkdir(parents=True, exist_ok=True)
    command = [
        chromium_path(),
        "--headless",
        "--no-sandbox",  # needed as root; the page is our own
        "--disable-gpu",
        f"--user-data-dir={profile}",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-sync",
        "--disable-component-update",
        "--mute-audio",
        "--hide-scrollbars",
        *args,
    ]
    env = {**os.environ, "HOME": str(scratch)}
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"chromium took more than {TIMEOUT_S} s: {' '.join(command)}")
    assert proc.returncode == 0, f"chromium exited with {proc.returncode}:\n{err[-3000:]}"
    return out


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the report directory, a scratch directory for chromium)."""
    directory = tmp_path_factory.mktemp("report")
    render.write_all(rich_document(), directory)
    return directory, tmp_path_factory.mktemp("chromium")


@pytest.fixture(scope="module")
def dom(report: tuple[Path, Path]) -> Node:
    """The page's DOM after chromium loaded it and its script ran."""
    directory, scratch = report
    page = (directory / render.HTML_FILE).resolve().as_uri()
    text = run_chromium(["--dump-dom", page], scratch)
    assert "<body" in text, f"chromium printed no DOM: {text[:500]!r}"
    return parse_html(text)


def test_the_pages_script_ran_and_agrees_with_the_embedded_json(dom):
    body = dom.one("body")
    assert body.attrs.get("data-rendered") == "yes"
    assert body.attrs.get("data-agrees") == "yes"


def test_the_counts_the_page_made_equal_the_summary(dom):
    expected = render.summary(rich_document())["totals"]
    spans = dom.all("span", class_="js-count")
    counted = {(s.attrs["data-target"], s.attrs["data-outcome"]): s.text() for s in spans}
    assert counted == {
        (target, outcome): str(expected[target][outcome])
        for target in ("ringzero", "linux")
        for outcome in OUTCOMES
    }
    assert not dom.all("span", class_="js-count mismatch")


def test_both_targets_have_a_totals_table(dom):
    expected = render.summary(rich_document())["totals"]
    tables = dom.all("table", class_="totals")
    assert [t.attrs["data-target"] for t in tables] == ["ringzero", "linux"]
    for table in tables:
        for outcome in OUTCOMES:
            row = table.one("tr", data_outcome=outcome)
            assert row.one("td").text() == str(expected[table.attrs["data-target"]][outcome])


def test_the_failures_section_lists_exactly_the_failing_and_deviating_tests(dom):
    doc = rich_document()
    wanted = {
        (t["target"], t["nodeid"], t["outcome"])
        for t in doc["tests"]
        if t["outcome"] in ("failed", "deviation")
    }
    rows = dom.one("section", id="failures").one("tbody").all("tr")
    listed = [
        (r.attrs["data-target"], r.attrs["data-nodeid"], r.attrs["data-outcome"]) for r in rows
    ]
    assert len(listed) == len(wanted) and set(listed) == wanted
    assert any("<script>" in nodeid for _, nodeid, _ in listed)  # shown as text, intact


def test_the_rfc_sections_are_those_of_the_document(dom):
    doc = rich_document()
    rfcs = sorted({r["rfc"] for t in doc["tests"] for r in t["rfcs"]})
    sections = dom.all("section", class_="rfc")
    assert [s.attrs["id"] for s in sections] == [f"rfc-{n}" for n in rfcs]
    assert dom.one("section", id="appendix-b").all("tr", data_req="MUST-7")
    assert len(dom.one("table", id="tests").one("tbody").all("tr")) == len(doc["tests"])


def test_a_screenshot_is_a_png_of_the_window(report):
    directory, scratch = report
    shot = scratch / "conformance.png"
    page = (directory / render.HTML_FILE).resolve().as_uri()
    run_chromium([f"--screenshot={shot}", f"--window-size={WINDOW[0]},{WINDOW[1]}", page], scratch)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == WINDOW
    assert 20_000 < len(data) < 20_000_000  # a page with text and colours, not a blank one
