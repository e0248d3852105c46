"""ringzero release-report: the release directory's layout, release.json,
artifacts stripped, the refusals; and the version probes on this machine."""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import ringzero.report
from ringzero import build
from ringzero.report import release, schema
from ringzero.report.release import release_main

from .test_report_diff import RUN_A, RUN_B, document, entry, write

VERSIONS = {
    "qemu": "QEMU emulator version 7.2.22",
    "libvirt": None,  # a missing tool
    "clang": "Debian clang version 14.0.6",
    "lld": "Debian LLD 14.0.6",
    "cmake": "cmake version 3.25.1",
    "scapy": "2.8.0",
    "python": "3.11.7",
    "pytest": "9.2.0",
    "kernel": "6.1.0-test",
}
IMAGE = {
    "service": "conformance",
    "path": "build/unikernel/services/conformance.img",
    "bytes": 428392,
    "matches_sources": True,
}
GIT = {"revision": "a" * 40, "dirty": False}


class FakeRender:
    """Stands in for ringzero.report.render: records what it was given."""

    def __init__(self) -> None:
        self.docs: list[schema.Document] = []

    def write_all(self, doc: schema.Document, directory: Path) -> list[Path]:
        self.docs.append(json.loads(json.dumps(doc)))
        paths = [directory / "conformance.md", directory / "conformance.html"]
        for p in paths:
            p.write_text(f"{doc['run_id']}\n")
        return paths


@pytest.fixture
def fake_render(monkeypatch: pytest.MonkeyPatch) -> FakeRender:
    fake = FakeRender()
    module = types.ModuleType("ringzero.report.render")
    module.write_all = fake.write_all  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ringzero.report.render", module)
    monkeypatch.setattr(ringzero.report, "render", module, raising=False)
    return fake


@pytest.fixture
def probes(monkeypatch: pytest.MonkeyPatch) -> None:
    """No subprocesses: fixed versions, image and git revision."""
    monkeypatch.setattr(release, "tool_versions", lambda: dict(VERSIONS))
    monkeypatch.setattr(release, "image_info", lambda: dict(IMAGE))
    monkeypatch.setattr(release, "git_info", lambda: dict(GIT))


ARTIFACTS = {"serial": "ringzero/t_x/serial.log", "pcap": "ringzero/t_x/wire.pcap"}


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    """reports/ with an older run and the latest one (artifacts, JUnit XML)."""
    base = tmp_path / "reports"
    old = write(base / RUN_A, document([entry("t.py::x", "failed")], RUN_A))
    os.utime(old, (1_000_000, 1_000_000))
    run = base / RUN_B
    tests = [
        entry("t.py::x", artifacts=dict(ARTIFACTS)),
        entry("t.py::y", "deviation", reason="known", artifacts={"crash": "t_y/crash.txt"}),
        entry("t.py::x", target="linux"),
    ]
    write(run, document(tests, RUN_B))
    for name in ("junit-ringzero.xml", "junit-linux.xml"):
        (run / name).write_text("<testsuites/>\n")
    (run / "ringzero" / "t_x").mkdir(parents=True)
    (run / "ringzero" / "t_x" / "serial.log").write_text("boot\n")
    (run / "ringzero" / "t_x" / "wire.pcap").write_bytes(b"\xd4\xc3\xb2\xa1")
    return base


def test_release_layout(
    reports: Path, probes: None, fake_render: FakeRender, capsys: pytest.CaptureFixture[str]
) -> None:
    assert release_main("0.1.0", reports=reports) == 0
    out = reports / "releases" / "0.1.0"
    assert sorted(p.name for p in out.iterdir()) == [
        "README.md",
        "conformance.html",
        "conformance.json",
        "conformance.md",
        "junit-linux.xml",
        "junit-ringzero.xml",
        "release.json",
    ]
    assert not list(reports.joinpath("releases").glob(".*"))  # no partial directory left
    doc = schema.load(out)
    assert doc["run_id"] == RUN_B
    assert [t["nodeid"] for t in doc["tests"]] == ["t.py::x", "t.py::y", "t.py::x"]
    meta = json.loads((out / "release.json").read_text())
    assert meta["version"] == "0.1.0"
    assert meta["run_id"] == RUN_B
    assert meta["created"].endswith("Z")
    assert meta["git"] == GIT
    assert meta["run_git"] == doc["git"]
    assert meta["source"] == str(reports / RUN_B)
    assert meta["image"]["bytes"] == 428392
    assert meta["tools"] == VERSIONS
    readme = (out / "README.md").read_text()
    assert f"run `{RUN_B}`" in readme
    assert f"`{reports / RUN_B}/`" in readme
    assert "| QEMU | QEMU emulator version 7.2.22 |" in readme
    assert "| libvirt | missing |" in readme
    assert "| `conformance` image | 428392 bytes |" in readme
    assert "- ringzero: 1 passed, 1 deviation" in readme
    assert "- [junit-linux.xml](junit-linux.xml): JUnit XML of one target" in readme
    printed = capsys.readouterr().out
    assert f"release 0.1.0 from run {RUN_B}" in printed


def test_release_strips_artifacts(reports: Path, probes: None, fake_render: FakeRender) -> None:
    assert release_main("1.0-rc1+tcg", RUN_B, reports) == 0
    out = reports / "releases" / "1.0-rc1+tcg"
    assert all(t["artifacts"] == {} for t in schema.load(out)["tests"])
    (rendered,) = fake_render.docs
    assert all(t["artifacts"] == {} for t in rendered["tests"])
    # the run's own report keeps them
    assert schema.load(reports / RUN_B)["tests"][0]["artifacts"] == ARTIFACTS
    assert not any(p.suffix in (".log", ".pcap") for p in out.rglob("*"))


def test_release_of_a_named_run_without_junit(
    reports: Path, probes: None, fake_render: FakeRender
) -> None:
    assert release_main("0.0.9", RUN_A, reports) == 0
    out = reports / "releases" / "0.0.9"
    assert schema.load(out)["run_id"] == RUN_A
    assert not list(out.glob("junit-*"))


def test_release_renders_real_pages_without_links_to_artifacts(reports: Path, probes: None) -> None:
    pytest.importorskip("ringzero.report.render")
    assert release_main("0.1.0", reports=reports) == 0
    out = reports / "releases" / "0.1.0"
    for page in ("conformance.md", "conformance.html"):
        text = (out / page).read_text()
        assert text.strip()
        assert "serial.log" not in text
        assert "wire.pcap" not in text


def test_release_without_render_warns(
    reports: Path, probes: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "ringzero.report.render", None)  # import fails
    monkeypatch.delattr(ringzero.report, "render", raising=False)
    assert release_main("0.1.0", reports=reports) == 0
    assert "ringzero.report.render is missing" in capsys.readouterr().err
    out = reports / "releases" / "0.1.0"
    assert (out / "conformance.json").is_file()
    assert not (out / "conformance.md").exists()


@pytest.mark.parametrize("version", ["", "..", "a/b", "1 0", "latest", "-1", "1.0_rc", "ü1"])
def test_release_refuses_a_version_that_is_not_one(
    version: str, reports: Path, probes: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert release_main(version, reports=reports) == 2
    err = capsys.readouterr().err
    assert "is not a version" in err
    assert err.count("\n") == 1
    assert not (reports / "releases").exists()


def test_release_refuses_an_existing_release_unless_forced(
    reports: Path, probes: None, fake_render: FakeRender, capsys: pytest.CaptureFixture[str]
) -> None:
    assert release_main("0.1.0", RUN_A, reports) == 0
    out = reports / "releases" / "0.1.0"
    (out / "notes.txt").write_text("mine\n")
    capsys.readouterr()
    assert release_main("0.1.0", RUN_B, reports) == 2
    err = capsys.readouterr().err
    assert "release 0.1.0 exists" in err and "--force" in err
    assert err.count("\n") == 1
    assert schema.load(out)["run_id"] == RUN_A
    assert release_main("0.1.0", RUN_B, reports, force=True) == 0
    assert schema.load(out)["run_id"] == RUN_B
    assert not (out / "notes.txt").exists()  # replaced, not merged
    assert not list(reports.joinpath("releases").glob(".*"))


def test_release_refuses_a_run_without_a_report(
    reports: Path, probes: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (reports / "20261125-000000-cccc").mkdir()
    assert release_main("0.1.0", str(reports / "20261125-000000-cccc"), reports) == 2
    assert "has no conformance.json" in capsys.readouterr().err
    assert release_main("0.1.0", "20261125-000000-cccc", reports) == 2
    assert "no report" in capsys.readouterr().err
    assert release_main("0.1.0", reports=tmp_path / "empty") == 2
    err = capsys.readouterr().err
    assert "no run under" in err and err.count("\n") == 1
    assert not (reports / "releases" / "0.1.0").exists()


def test_a_failed_release_leaves_nothing(
    reports: Path, probes: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(doc: schema.Document, directory: Path) -> list[Path]:
        raise OSError("disk full")

    module = types.ModuleType("ringzero.report.render")
    module.write_all = broken  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ringzero.report.render", module)
    monkeypatch.setattr(ringzero.report, "render", module, raising=False)
    with pytest.raises(OSError, match="disk full"):
        release_main("0.1.0", reports=reports)
    assert list(reports.joinpath("releases").iterdir()) == []


# ---- what a release records ---------------------------------------------------------


def test_versions_on_this_machine() -> None:
    """The real commands: every tool installed here has its version."""
    versions = release.tool_versions()
    assert set(versions) == set(VERSIONS)
    assert versions["python"] == platform.python_version()
    assert versions["pytest"] == pytest.__version__
    assert versions["kernel"] == os.uname().release
    installed = {
        "qemu": "qemu-system-x86_64",
        "clang": "clang++",
        "lld": "ld.lld",
        "cmake": "cmake",
    }
    for key, tool in installed.items():
        if shutil.which(tool):
            assert versions[key], key
    if shutil.which("qemu-system-x86_64"):
        assert str(versions["qemu"]).startswith("QEMU emulator version")
    if shutil.which("cmake"):
        assert str(versions["cmake"]).startswith("cmake version")
    if shutil.which("libvirtd", path="/usr/sbin:/sbin") or shutil.which("virsh"):
        assert versions["libvirt"]
    if release._module_version("scapy") is not None:
        import scapy

        assert versions["scapy"] == scapy.__version__


def test_missing_tools_are_null(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(release, "SBIN", ())
    broken = tmp_path / "cmake"
    broken.write_text("#!/bin/sh\nexit 3\n")
    broken.chmod(0o755)
    versions = release.tool_versions()
    for key in ("qemu", "libvirt", "clang", "lld", "cmake"):
        assert versions[key] is None, key
    assert versions["python"] == platform.python_version()
    assert release.command_version(("definitely-not-a-tool", "--version")) is None


def test_image_not_built_is_null_with_a_warning(
    reports: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    fake_render: FakeRender,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(build, "build_dir", lambda: tmp_path / "no-build")
    monkeypatch.setattr(release, "tool_versions", lambda: dict(VERSIONS))
    info = release.image_info()
    assert info["service"] == "conformance"
    assert info["bytes"] is None
    assert info["path"].endswith("services/conformance.img")
    assert release_main("0.1.0", reports=reports) == 0
    assert "conformance image is not built" in capsys.readouterr().err
    meta = json.loads((reports / "releases" / "0.1.0" / "release.json").read_text())
    assert meta["image"]["bytes"] is None
    assert meta["git"]["revision"] is None or len(meta["git"]["revision"]) == 40
    readme = (reports / "releases" / "0.1.0" / "README.md").read_text()
    assert "not built at release time" in readme


def test_image_built_has_its_size(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    services = tmp_path / "build" / "services"
    services.mkdir(parents=True)
    (services / "conformance.img").write_bytes(b"\0" * 4096)
    (services / "conformance.source-hash").write_text("stale")
    monkeypatch.setattr(build, "build_dir", lambda: tmp_path / "build")
    monkeypatch.setattr(build, "source_hash", lambda: "current")
    info: dict[str, Any] = release.image_info()
    assert info["bytes"] == 4096
    assert info["matches_sources"] is False
