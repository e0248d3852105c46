"""The image builder's checks that need no compiler run."""

import pytest
from ringzero import build


def test_services_are_the_folders_under_unikernel_services():
    assert {"hello", "kernel_tests"} <= set(build.services())


def test_unknown_service_names_the_known_ones():
    with pytest.raises(build.BuildError, match=r"unknown service 'nope': the services are .*hello"):
        build.build(["nope"])


def test_source_hash_follows_the_sources(tmp_path, monkeypatch):
    (tmp_path / "unikernel" / "services" / "x").mkdir(parents=True)
    src = tmp_path / "unikernel" / "a.cpp"
    src.write_text("int a;")
    monkeypatch.setenv("RINGZERO_ROOT", str(tmp_path))
    first = build.source_hash()
    assert build.source_hash() == first
    src.write_text("int b;")
    assert build.source_hash() != first
    (tmp_path / "unikernel" / ".hidden").write_text("editor state")
    src.write_text("int a;")
    assert build.source_hash() == first  # dotfiles do not count
