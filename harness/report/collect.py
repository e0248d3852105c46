"""How a pytest run collects its part of the conformance report.

Registered by the ringzero plugin in every run. On the process that runs a
test (an xdist worker, or pytest itself), ``pytest_runtest_makereport``
attaches what the report needs of the item (its rfc and tcp_req markers,
the first line of its docstring) to each phase's report as ``report.ringzero``
(a plain dict, which xdist carries to the controller with the report). On
the controller, ``pytest_runtest_logreport`` folds the phases of each test
into one entry (schema.TestEntry) and, with ``--progress``, prints a line
now and then: tests done of total, failures so far. At the end of the
session the entries go to ``<report dir>/conformance.json``, a report of this
one target that ``ringzero conformance`` merges with the other targets'.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable, Generator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ..paths import repo_root
from . import schema

ARTIFACT_FILES = {
    "serial": "serial.log",
    "pcap": "wire.pcap",
    "crash": "crash.txt",
    "agent": "agent.log",
}
PROGRESS_EVERY_S = 20.0


def artifact_dir_name(nodeid: str) -> str:
    """The directory of a test's artifacts under the run's report directory."""
    return re.sub(r"[^A-Za-z0-9_.=-]+", "-", nodeid).strip("-")


def item_meta(item: pytest.Item) -> dict[str, Any]:
    """What the report needs to know of a test beyond its outcome."""
    rfcs = [
        {"rfc": int(m.args[0]), "section": str(m.args[1]), "level": str(m.args[2])}
        for m in item.iter_markers("rfc")
        if len(m.args) == 3
    ]
    requirements = [str(a) for m in item.iter_markers("tcp_req") for a in m.args]
    doc = getattr(getattr(item, "obj", None), "__doc__", None) or ""
    first = next((line.strip() for line in doc.strip().splitlines() if line.strip()), "")
    return {
        "rfcs": list(reversed(rfcs)),  # iter_markers yields the closest (the test's) first
        "requirements": list(dict.fromkeys(requirements)),
        "doc": first,
    }


def find_artifacts(report_dir: Path, nodeid: str, prefix: str = "") -> dict[str, str]:
    """The artifact files a test left, relative to the report directory
    (with `prefix` before them): the first VM's, else any VM's."""
    directory = report_dir / artifact_dir_name(nodeid)
    found: dict[str, str] = {}
    if not directory.is_dir():
        return found
    for kind, name in ARTIFACT_FILES.items():
        candidates = [directory / name, *sorted(directory.glob(f"*/{name}"))]
        for path in candidates:
            if path.is_file():
                found[kind] = prefix + str(path.relative_to(report_dir))
                break
    return found


def _reason(report: pytest.TestReport) -> str:
    """One line: why a test failed, was skipped or is a deviation."""
    if hasattr(report, "wasxfail"):
        return str(report.wasxfail)
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # a skip: (file, line, reason)
        return str(longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(longrepr, "reprcrash", None)
    text = str(getattr(crash, "message", "") or longrepr or "")
    return text.strip().splitlines()[0][:500] if text.strip() else ""


def _skip_outcome(reason: str) -> str:
    return "not_applicable" if reason.startswith("not applicable") else "skipped"


class Collector:
    """The controller's side: one schema.TestEntry per test."""

    def __init__(self, config: pytest.Config, report_dir: Callable[[], Path]) -> None:
        self.config = config
        self.report_dir = report_dir
        self.entries: dict[str, schema.TestEntry] = {}
        self.total = 0
        self.started = time.monotonic()
        self.progress = bool(config.getoption("progress", False))
        self._last_progress = time.monotonic()
        self._target = ""

    # ---- on the process that runs the test ------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, Any, Any]:
        report = yield
        if report.when == "setup":  # the controller's entry starts from it
            report.ringzero = item_meta(item)
        return report

    # ---- on the controller ------------------------------------------------------------

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.total = len(session.items)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self.total = max(self.total, len(ids))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if hasattr(self.config, "workerinput"):
            return  # the controller keeps the record
        meta: dict[str, Any] = getattr(report, "ringzero", None) or {}
        entry = self.entries.get(report.nodeid)
        if entry is None:
            entry = {
                "nodeid": report.nodeid,
                "target": self.target_name(),
                "outcome": "passed",
                "reason": "",
                "phase": "",
                "duration_s": 0.0,
                "doc": meta.get("doc", ""),
                "rfcs": meta.get("rfcs", []),
                "requirements": meta.get("requirements", []),
                "artifacts": {},
            }
            self.entries[report.nodeid] = entry
        entry["duration_s"] = round(entry["duration_s"] + report.duration, 3)
        if entry["outcome"] == "failed":
            pass  # the first failure stands
        elif report.failed:
            entry["outcome"], entry["reason"] = "failed", _reason(report)
            entry["phase"] = report.when
        elif report.skipped:
            reason = _reason(report)
            outcome = "deviation" if hasattr(report, "wasxfail") else _skip_outcome(reason)
            entry["outcome"], entry["reason"], entry["phase"] = outcome, reason, report.when
        if report.when == "teardown":
            entry["artifacts"] = find_artifacts(self.report_dir(), report.nodeid)
            self._maybe_progress(entry)

    def _maybe_progress(self, entry: schema.TestEntry) -> None:
        if not self.progress:
            return
        now = time.monotonic()
        failed_now = entry["outcome"] == "failed"
        if not failed_now and now - self._last_progress < PROGRESS_EVERY_S:
            return
        self._last_progress = now
        line = self.progress_line()
        if failed_now:
            line += f"; failed: {entry['nodeid']}"
        tr = self.config.pluginmanager.get_plugin("terminalreporter")
        if tr is not None:
            tr.ensure_newline()
            tr.write_line(line)
        else:
            print(line, file=sys.stderr)

    def progress_line(self) -> str:
        done = len(self.entries)
        failed = sum(e["outcome"] == "failed" for e in self.entries.values())
        minutes, seconds = divmod(int(time.monotonic() - self.started), 60)
        total = f"/{self.total}" if self.total else ""
        return (
            f"ringzero [{self.target_name()}] {done}{total} tests done, {failed} failed,"
            f" {minutes}:{seconds:02d} elapsed"
        )

    def target_name(self) -> str:
        if not self._target:
            from ..plugin import TARGET_KEY

            self._target = self.config.stash[TARGET_KEY].name
        return self._target

    def document(self, exit_status: int) -> schema.Document:
        from ..plugin import RUN_ID_KEY, TARGET_KEY

        target = self.config.stash[TARGET_KEY]
        accel = str(self.config.getoption("accel"))
        if accel == "auto" and target.kind == "unikernel":
            from ..hypervisor.accel import kvm_status

            accel = "kvm" if kvm_status()[0] else "tcg"
        return {
            "schema": schema.SCHEMA,
            "run_id": self.config.stash[RUN_ID_KEY],
            "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "git": git_info(),
            "targets": [
                {
                    "name": target.name,
                    "kind": target.kind,
                    "backend": str(self.config.getoption("backend"))
                    if target.kind == "unikernel"
                    else "",
                    "accel": accel if target.kind == "unikernel" else "",
                    "exit_status": int(exit_status),
                    "duration_s": round(time.monotonic() - self.started, 1),
                }
            ],
            "tests": sorted(self.entries.values(), key=lambda e: e["nodeid"]),
            "tcp_requirements": tcp_requirements(),
        }

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Writes the report where the run's artifacts are: when a test left
        some there, or --report-dir named the place (a run of harness unit
        tests, which leave none, does not add a report to reports/)."""
        if hasattr(self.config, "workerinput") or not self.entries:
            return
        directory = self.report_dir()
        if not directory.is_dir() and not self.config.getoption("report_dir"):
            return
        directory.mkdir(parents=True, exist_ok=True)
        schema.dump(self.document(exitstatus), directory)


def git_info() -> schema.GitInfo:
    """The checkout's revision and whether it has uncommitted changes."""
    try:
        root = repo_root()
        revision = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, RuntimeError, subprocess.SubprocessError):
        return {"revision": None, "dirty": False}
    return {"revision": revision or None, "dirty": bool(status.strip())}


def tcp_requirements() -> list[schema.Requirement]:
    """RFC 9293 Appendix B with the tests that name each requirement (from
    the suites' sources, so that it lists every covering test even when
    this run collected only some)."""
    from .. import tcp_requirements as tr

    try:
        reqs = tr.load()
        rows = tr.coverage(reqs, tr.markers_in_sources())
    except (OSError, RuntimeError, ValueError):
        return []
    return [
        {
            "id": row.requirement.id,
            "level": row.requirement.level,
            "section": row.requirement.section,
            "summary": row.requirement.summary,
            "observable": row.requirement.observable,
            "why": row.requirement.why,
            "tests": list(row.tests),
        }
        for row in rows
    ]
