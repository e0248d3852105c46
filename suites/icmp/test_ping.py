"""Real ping against the target: iputils ping from the wire's namespace,
paced and flooding (bounded by count)."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.requires("icmp")


def ping_stats(out: str) -> tuple[int, int]:
    m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    assert m, f"ping printed no statistics:\n{out}"
    return int(m[1]), int(m[2])


@pytest.mark.rfc(1122, "3.2.2.6", "MUST")
def test_ping_100_at_10_ms(wire, sut):
    """`ping -c 100 -i 0.01`: every echo answered."""
    argv = ["ping", "-n", "-q", "-c", "100", "-i", "0.01", "-W", "2", sut.ip]
    result = wire.run(argv, timeout=60)
    out = result.stdout + result.stderr
    assert ping_stats(out) == (100, 100), out
    assert result.returncode == 0, out


@pytest.mark.rfc(1122, "3.2.2.6", "MUST")
def test_ping_flood_of_100000_loses_nothing(wire, sut):
    """`ping -f -c 100000`: a flood bounded by count, zero loss, and the
    target's packet pool intact afterwards (when it reports one)."""
    before = sut.agent.request("stats")
    result = wire.run(["ping", "-n", "-q", "-f", "-c", "100000", "-W", "2", sut.ip], timeout=600)
    out = result.stdout + result.stderr
    assert ping_stats(out) == (100000, 100000), out
    after = sut.agent.request("stats")
    if "pool" in before:
        assert after["pool"]["available"] == before["pool"]["available"], (before, after)
