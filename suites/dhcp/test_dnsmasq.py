"""End to end with a real DHCP server: dnsmasq in the wire namespace serves
the target's link; the target (ip=dhcp) gets a lease, answers ping on the
leased address, and renews the lease at the T1 dnsmasq gives."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ringzero.net.dnsmasq import Dnsmasq

pytestmark = [
    pytest.mark.requires("dhcp-client"),
    pytest.mark.boot_args("ip=dhcp", "arp_probes=1"),
]

RANGE = ("10.33.0.100", "10.33.0.150")
T1, T2 = 6, 9  # seconds; dnsmasq's shortest lease is 2 minutes, T1/T2 are options
NAME, NAME_IP = "svc.example.test", "10.33.0.77"


@pytest.fixture
def dnsmasq(wire: Any, sut: Any, artifacts: Path) -> Iterator[Dnsmasq]:
    """dnsmasq on the target's link: DHCP, and DNS for one name."""
    args = [
        f"--interface={sut.link}",
        "--bind-interfaces",
        f"--dhcp-range={RANGE[0]},{RANGE[1]},255.255.255.0,2m",
        f"--dhcp-option=option:router,{wire.addr.tools_ip}",
        f"--dhcp-option=option:dns-server,{wire.addr.tools_ip}",
        f"--dhcp-option=option:T1,{T1}",
        f"--dhcp-option=option:T2,{T2}",
        f"--dhcp-leasefile={artifacts / 'dnsmasq.leases'}",
        f"--host-record={NAME},{NAME_IP}",
        "--log-dhcp",
        "--log-queries",
    ]
    with Dnsmasq(wire, artifacts / "dnsmasq.log", args) as d:
        yield d


def wait_lease(sut: Any, timeout: float, leases: int = 1) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        d = sut.agent.request("dhcp")
        if (d["state"] == "bound" and d["stats"]["leases"] >= leases) or (
            time.monotonic() >= deadline
        ):
            return d
        time.sleep(0.2)


@pytest.mark.rfc(2131, "3.1", "MUST")
def test_lease_from_dnsmasq_ping_and_renewal(sut, wire, dnsmasq):
    """The target gets an address from dnsmasq's range (after retransmitting
    its DISCOVER, since dnsmasq starts after it), answers ping there, looks
    names up with the DNS server of its lease, renews at T1 with dnsmasq,
    and still answers."""
    # The first DISCOVER went out before dnsmasq ran: the retransmission
    # (4 +- 1 s), the probe (up to 3 s) and the exchange follow.
    d = wait_lease(sut, timeout=15.0)
    assert d["state"] == "bound", d
    ip = d["lease"]["address"]
    first, last = (int(a.rsplit(".", 1)[1]) for a in RANGE)
    assert ip.startswith("10.33.0.") and first <= int(ip.rsplit(".", 1)[1]) <= last
    assert d["lease"]["gateway"] == wire.addr.tools_ip
    assert d["lease"]["server"] == wire.addr.tools_ip
    assert d["lease"]["lease_s"] == 120
    assert sut.agent.request("config")["ip"] == ip
    ping = wire.run(["ping", "-c", "5", "-i", "0.2", "-W", "2", ip])
    assert ping.returncode == 0, ping.stdout
    assert d["lease"]["dns"] == [wire.addr.tools_ip]
    found = sut.agent.call("resolve", {"name": NAME}, timeout=10)
    assert found.get("address") == NAME_IP, found
    assert found["server"] == wire.addr.tools_ip
    renewed = wait_lease(sut, timeout=T1 + 6.0, leases=2)
    assert renewed["stats"]["leases"] >= 2, renewed
    assert renewed["lease"]["address"] == ip
    log = dnsmasq.log_text()
    assert log.count("DHCPACK") >= 2, log[-2000:]
    assert wire.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", ip]).returncode == 0
