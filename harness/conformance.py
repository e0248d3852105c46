"""``ringzero conformance``: every suite against each target, one report.

For each target in turn it runs pytest (with the ringzero plugin) on the
given suites, each target's artifacts and partial report in
``reports/<run-id>/<target>/``, its JUnit XML in ``junit-<target>.xml`` and
its Allure results in ``allure-results/``; then it merges the targets'
reports into ``reports/<run-id>/conformance.json``, renders
``conformance.md`` and ``conformance.html`` from it, makes an Allure HTML
report when the Allure command-line is installed, and prints a one-screen
summary. It exits with the first failing pytest status (1 when a test
failed, 5 when no test ran), 0 when every target passed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .paths import repo_root, reports_dir
from .report import schema
from .report.collect import git_info
from .runs import new_run_id
from .targets import TargetError, load

ALLURE_TIMEOUT_S = 600


@dataclass
class Options:
    paths: list[str]
    targets: list[str]
    backend: str = "libvirt"
    accel: str = "auto"
    workers: int = 0
    out: Path | None = None  # default reports/<run-id>/
    pytest_args: list[str] = field(default_factory=list)


def pytest_argv(opts: Options, target: str, out: Path) -> list[str]:
    argv = [sys.executable, "-m", "pytest", *opts.paths, "--target", target]
    argv += ["--backend", opts.backend, "--accel", opts.accel]
    if opts.workers:
        argv += ["-n", str(opts.workers)]
    argv += [
        "--report-dir",
        str(out / target),
        f"--junitxml={out / f'junit-{target}.xml'}",
        "-o",
        "junit_family=xunit1",
        "-o",
        f"junit_suite_name=ringzero-{target}",
        f"--alluredir={out / 'allure-results'}",
        "--progress",
        "-q",
        *opts.pytest_args,
    ]
    return argv


def merge(run_id: str, parts: Sequence[tuple[str, int, float, Path]]) -> schema.Document:
    """One document from each target's (name, pytest status, seconds, its
    report directory); a target whose pytest wrote no report (it stopped
    before running tests) appears with its status and no tests."""
    doc: schema.Document = {
        "schema": schema.SCHEMA,
        "run_id": run_id,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "git": git_info(),
        "targets": [],
        "tests": [],
        "tcp_requirements": [],
    }
    for name, status, seconds, directory in parts:
        try:
            part = schema.load(directory)
        except schema.ReportError:
            kind = _target_kind(name)
            doc["targets"].append(
                {
                    "name": name,
                    "kind": kind,
                    "backend": "",
                    "accel": "",
                    "exit_status": status,
                    "duration_s": round(seconds, 1),
                }
            )
            continue
        for target in part["targets"]:
            target["exit_status"] = status
            target["duration_s"] = round(seconds, 1)
            doc["targets"].append(target)
        prefix = directory.name + "/"
        for test in part["tests"]:
            test["artifacts"] = {k: prefix + v for k, v in test["artifacts"].items()}
            doc["tests"].append(test)
        if not doc["tcp_requirements"]:
            doc["tcp_requirements"] = part["tcp_requirements"]
    return doc


def _target_kind(name: str) -> str:
    try:
        return load(name).kind
    except TargetError:
        return "unknown"


def allure_command() -> str | None:
    """The Allure command-line: on PATH, or where `make setup` puts it."""
    local = repo_root() / ".tools" / "node_modules" / ".bin" / "allure"
    if local.exists():
        return str(local)
    return shutil.which("allure")


def make_allure_report(out: Path) -> str:
    """One line saying what became of the Allure HTML report."""
    results = out / "allure-results"
    if not results.is_dir() or not any(results.iterdir()):
        return "allure: no results were written (is allure-pytest installed? run `make setup`)"
    command = allure_command()
    if command is None:
        return (
            f"allure: results in {results}; no HTML report, the Allure command-line is"
            " not installed (`make setup` installs it from npm)"
        )
    target = out / "allure-report"
    try:
        done = subprocess.run(
            [command, "generate", str(results), "-o", str(target), "--clean"],
            capture_output=True,
            text=True,
            timeout=ALLURE_TIMEOUT_S,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"allure: generating the HTML report failed: {e}"
    if done.returncode != 0 or not (target / "index.html").is_file():
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return f"allure: generating the HTML report failed ({done.returncode}): {tail[0]}"
    return f"allure: {target / 'index.html'}"


def run(opts: Options) -> int:
    for name in opts.targets:
        try:
            load(name)
        except TargetError as e:
            print(f"ringzero: --targets: {e}", file=sys.stderr)
            return 2
    run_id = os.environ.get("RINGZERO_RUN_ID") or new_run_id()
    out = (opts.out or reports_dir() / run_id).resolve()
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "RINGZERO_RUN_ID": run_id}
    parts: list[tuple[str, int, float, Path]] = []
    print(f"ringzero: conformance run {run_id}: {', '.join(opts.targets)}; report in {out}")
    for i, target in enumerate(opts.targets, 1):
        print(f"ringzero: target {i}/{len(opts.targets)}: {target}", flush=True)
        start = time.monotonic()
        try:
            status = subprocess.run(pytest_argv(opts, target, out), env=env).returncode
        except KeyboardInterrupt:
            print("\nringzero: interrupted; the report holds what finished", file=sys.stderr)
            status = 130
        parts.append((target, status, time.monotonic() - start, out / target))
        if status == 130:
            break
    doc = merge(run_id, parts)
    schema.dump(doc, out)
    from .report import render

    written = render.write_all(doc, out)
    print()
    print(render.terminal_summary(doc))
    print()
    print(make_allure_report(out))
    for path in [out / schema.FILENAME, *written, *sorted(out.glob("junit-*.xml"))]:
        print(f"report: {path}")
    return next((status for _, status, _, _ in parts if status != 0), 0)
