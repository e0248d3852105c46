"""Target instances: what the unikernel's command line says for a test."""

from pathlib import Path
from types import SimpleNamespace

from ringzero.net.instances import UnikernelInstance
from ringzero.net.wire import Addresses


def _instance(tmp_path: Path, boot_args: list[str]) -> UnikernelInstance:
    target = SimpleNamespace(tunables={"arp_ttl_s": 4, "icmp_ratelimit_ms": 1000})
    wire = SimpleNamespace(addr=Addresses())
    return UnikernelInstance(
        None,  # type: ignore[arg-type]
        wire,  # type: ignore[arg-type]
        target,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        backend="qemu",
        accel="tcg",
        artifacts=tmp_path,
        boot_args=boot_args,
    )


def test_cmdline_has_the_wire_addresses_and_the_tunables(tmp_path):
    words = _instance(tmp_path, []).cmdline().split()
    assert words == [
        "ip=10.33.0.2/24",
        "gw=10.33.0.1",
        "mac=52:54:00:33:00:02",
        "arp_ttl=4",
        "icmp_ratelimit=1000",
    ]


def test_boot_args_replace_defaults_with_the_same_key_and_add_the_rest(tmp_path):
    words = _instance(tmp_path, ["ip=dhcp", "arp_ttl=9", "dns=a.test:10.0.0.1"]).cmdline().split()
    assert "ip=10.33.0.2/24" not in words and "arp_ttl=4" not in words
    assert words[-3:] == ["ip=dhcp", "arp_ttl=9", "dns=a.test:10.0.0.1"]
    assert "gw=10.33.0.1" in words and "icmp_ratelimit=1000" in words
