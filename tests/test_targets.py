"""Target files: the bundled ones load; bad ones fail with one clear line."""

import pytest
from ringzero.targets import TargetError, available, load, parse


def test_bundled_targets_load():
    assert "ringzero" in available()
    t = load("ringzero")
    assert t.kind == "unikernel" and t.has("kernel")


def test_unknown_target_names_the_choices():
    with pytest.raises(TargetError, match=r"no target 'nope': the targets are .*ringzero"):
        load("nope")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "unikernel", "capabilities": []}, "missing key 'name'"),
        ({"name": "x", "kind": "vm?", "capabilities": []}, "kind 'vm\\?' is not one of"),
        (
            {"name": "x", "kind": "unikernel", "capabilities": "arp"},
            "'capabilities' must be a list",
        ),
        (
            {"name": "x", "kind": "unikernel", "capabilities": [], "vm": {"memory_mib": 2}},
            "memory_mib",
        ),
        (
            {"name": "x", "kind": "unikernel", "capabilities": [], "deviations": {"t": ""}},
            "reasons",
        ),
        (
            {"name": "x", "kind": "unikernel", "capabilities": [], "colour": "red"},
            "unknown keys colour",
        ),
    ],
)
def test_bad_target_files_are_rejected(data, message):
    with pytest.raises(TargetError, match=message):
        parse(data)


def test_bad_toml_is_reported_with_the_path(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(TargetError, match=r"bad.toml: not valid TOML"):
        load(str(bad))
