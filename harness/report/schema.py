"""The conformance report's data: ``conformance.json``, one file per run.

Everything else (Markdown, HTML, the terminal summary, ``report diff``, a
release's copy) is made from this document alone. Its shape::

    {
      "schema": "ringzero-conformance/1",
      "run_id": "20261123-190000-ab12",
      "created": "2026-11-23T19:00:00Z",          # UTC, when it was written
      "git": {"revision": "<40 hex>" | null, "dirty": bool},
      "targets": [                                   # in the order they ran
        {"name": "ringzero", "kind": "unikernel", "backend": "qemu",
         "accel": "tcg", "exit_status": 0, "duration_s": 812.4}
      ],
      "tests": [                                     # one per (test, target)
        {
          "nodeid": "suites/tcp/rfc9293/test_x.py::test_y",
          "target": "ringzero",
          "outcome": "passed",     # see OUTCOMES
          "reason": "",            # failure's first line, deviation or skip reason
          "phase": "call",         # where it failed: setup, call or teardown
          "duration_s": 1.25,      # setup + call + teardown
          "doc": "first line of the test's docstring",
          "rfcs": [{"rfc": 9293, "section": "3.10.7.4", "level": "MUST"}],
          "requirements": ["MUST-7", "SHLD-2"],   # RFC 9293 Appendix B ids
          "artifacts": {           # relative to the report directory; only
            "serial": "<dir>/serial.log",          # files that exist
            "pcap": "<dir>/wire.pcap",
            "crash": "<dir>/crash.txt",
            "agent": "<dir>/agent.log"
          }
        }
      ],
      "tcp_requirements": [                          # RFC 9293 Appendix B
        {"id": "MUST-7", "level": "MUST", "section": "3.4", "summary": "...",
         "observable": true, "why": "", "tests": ["<nodeid>", ...]}
      ]
    }

A test without an ``rfc`` marker (a kernel or harness test) has
``"rfcs": []``; the reports list it under "Other tests".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypedDict, cast

SCHEMA = "ringzero-conformance/1"
FILENAME = "conformance.json"

# passed; failed (an assertion or an error, in any phase); deviation (an
# expected failure: a target's known deviation or a strict xfail naming a
# bug, with its reason); not_applicable (the target lacks a capability the
# test needs); skipped (any other skip).
OUTCOMES = ("passed", "failed", "deviation", "not_applicable", "skipped")
LEVELS = ("MUST", "SHOULD", "MAY")
ARTIFACT_KINDS = ("serial", "pcap", "crash", "agent")


class Rfc(TypedDict):
    rfc: int
    section: str
    level: str


class TestEntry(TypedDict):
    nodeid: str
    target: str
    outcome: str
    reason: str
    phase: str
    duration_s: float
    doc: str
    rfcs: list[Rfc]
    requirements: list[str]
    artifacts: dict[str, str]


class TargetEntry(TypedDict):
    name: str
    kind: str
    backend: str
    accel: str
    exit_status: int
    duration_s: float


class Requirement(TypedDict):
    id: str
    level: str
    section: str
    summary: str
    observable: bool
    why: str
    tests: list[str]


class GitInfo(TypedDict):
    revision: str | None
    dirty: bool


class Document(TypedDict):
    schema: str
    run_id: str
    created: str
    git: GitInfo
    targets: list[TargetEntry]
    tests: list[TestEntry]
    tcp_requirements: list[Requirement]


class ReportError(ValueError):
    """A conformance.json that is missing or not what this module writes."""


def validate(data: Any, where: str = FILENAME) -> Document:
    """The document, if it has the shape above; else ReportError naming
    the first problem."""
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ReportError(f"{where}: not a ringzero conformance report (schema {SCHEMA})")
    for key, kind in (("run_id", str), ("targets", list), ("tests", list)):
        if not isinstance(data.get(key), kind):
            raise ReportError(f"{where}: '{key}' is missing or not a {kind.__name__}")
    for i, test in enumerate(data["tests"]):
        if not isinstance(test, dict):
            raise ReportError(f"{where}: tests[{i}] is not an object")
        for key in ("nodeid", "target", "outcome"):
            if not isinstance(test.get(key), str):
                raise ReportError(f"{where}: tests[{i}] has no '{key}'")
        if test["outcome"] not in OUTCOMES:
            raise ReportError(f"{where}: tests[{i}] has outcome {test['outcome']!r}")
    data.setdefault("tcp_requirements", [])
    data.setdefault("git", {"revision": None, "dirty": False})
    data.setdefault("created", "")
    return cast(Document, data)


def load(path: Path) -> Document:
    """conformance.json from a report directory or the file itself."""
    file = path / FILENAME if path.is_dir() else path
    try:
        data = json.loads(file.read_text())
    except FileNotFoundError:
        raise ReportError(f"{file}: no such report (run `make conformance` first)") from None
    except json.JSONDecodeError as e:
        raise ReportError(f"{file}: not JSON ({e})") from None
    return validate(data, str(file))


def dump(doc: Document, directory: Path) -> Path:
    file = directory / FILENAME
    file.write_text(json.dumps(doc, indent=1, sort_keys=False) + "\n")
    return file


def section_key(section: str) -> tuple[tuple[int, int, str], ...]:
    """Sections in numeric order (3.9 before 3.10; lettered appendices last)."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in section.split("."))


def rfc_key(rfc: Rfc) -> tuple[int, tuple[tuple[int, int, str], ...]]:
    """Sort order: by RFC number, then section."""
    return rfc["rfc"], section_key(rfc["section"])
