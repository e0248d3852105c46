"""What the Allure results say of each test, beyond allure-pytest's own:
the RFC as epic, "RFC n §section" as feature, the requirement level as
severity (MUST critical, SHOULD normal, MAY minor) and as a tag, the RFC 9293
requirement ids as tags, and the target as a parameter (so that the same
test on two targets is two cases). A failed test gets its serial log, crash
report and packet capture attached. Registered by the ringzero plugin only
when allure-pytest is writing results (``--alluredir``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .collect import ARTIFACT_FILES, artifact_dir_name, item_meta

SEVERITY = {"MUST": "CRITICAL", "SHOULD": "NORMAL", "MAY": "MINOR"}  # allure.severity_level
ATTACH_LIMIT_BYTES = 8 << 20  # a flood's capture is not worth copying
FAILED_KEY = pytest.StashKey[bool]()


class AllureLabels:
    def __init__(self, target: str, report_dir: Any) -> None:
        self.target = target
        self.report_dir = report_dir

    @pytest.fixture(autouse=True)
    def _ringzero_allure(self, request: pytest.FixtureRequest) -> Iterator[None]:
        import allure

        dynamic: Any = allure.dynamic  # allure-pytest's functions are untyped
        meta = item_meta(request.node)
        dynamic.parameter("target", self.target)
        for rfc in meta["rfcs"]:
            dynamic.epic(f"RFC {rfc['rfc']}")
            dynamic.feature(f"RFC {rfc['rfc']} §{rfc['section']}")
            dynamic.tag(rfc["level"])
        if meta["rfcs"]:
            strongest = min(meta["rfcs"], key=lambda r: ("MUST", "SHOULD", "MAY").index(r["level"]))
            dynamic.severity(getattr(allure.severity_level, SEVERITY[strongest["level"]]))
        for requirement in meta["requirements"]:
            dynamic.tag(requirement)
        if meta["doc"]:
            dynamic.description(meta["doc"])
        yield
        if request.node.stash.get(FAILED_KEY, False):
            self._attach(request.node.nodeid)

    def _attach(self, nodeid: str) -> None:
        import allure

        attach: Any = allure.attach
        directory = Path(self.report_dir()) / artifact_dir_name(nodeid)
        kinds = {
            "serial": allure.attachment_type.TEXT,
            "crash": allure.attachment_type.TEXT,
            "agent": allure.attachment_type.TEXT,
            "pcap": None,
        }
        for kind, attachment_type in kinds.items():
            for path in sorted(directory.glob(f"**/{ARTIFACT_FILES[kind]}")):
                if path.stat().st_size > ATTACH_LIMIT_BYTES:
                    continue
                name = str(path.relative_to(directory))
                if attachment_type is None:
                    attach.file(str(path), name=name, extension="pcap")
                else:
                    attach.file(str(path), name=name, attachment_type=attachment_type)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        report = yield
        if report.when == "call" and report.failed:
            item.stash[FAILED_KEY] = True
        return report
