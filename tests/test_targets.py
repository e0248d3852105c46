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


def test_the_linux_reference_target_loads_with_the_same_tunables():
    linux, ringzero = load("linux"), load("ringzero")
    assert linux.kind == "linux-netns" and linux.service is None
    assert ringzero.service == "conformance"
    assert (
        linux.tunables
        == ringzero.tunables
        == {
            "arp_ttl_s": 4,
            "ipfrag_time_s": 3,
            "icmp_ratelimit_ms": 1000,
        }
    )
    assert {"arp", "ipv4", "icmp", "arp-cache"} <= linux.capabilities
    assert {"kernel", "drop-counters"} <= ringzero.capabilities


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"tunables": {"arp_ttl": 4}}, "unknown tunable 'arp_ttl' \\(known: arp_ttl_s,"),
        ({"tunables": {"arp_ttl_s": 0}}, "tunables.arp_ttl_s must be a positive number"),
        ({"tunables": {"arp_ttl_s": "4"}}, "must be a positive number"),
        ({"tunables": 4}, "\\[tunables\\] must be a table"),
        ({"vm": {"service": ""}}, "vm.service must be"),
        ({"vm": {"services": "x"}}, "unknown keys in \\[vm\\]: services"),
    ],
)
def test_bad_tunables_and_services_are_rejected(extra, message):
    with pytest.raises(TargetError, match=message):
        parse({"name": "x", "kind": "linux-netns", "capabilities": [], **extra})
