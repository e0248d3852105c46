"""A real ARP client against the target: arping from the wire's namespace."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.requires("arp")


@pytest.mark.rfc(826, "Packet Reception", "MUST")
def test_arping_gets_a_reply_to_every_request(wire, sut):
    """`arping -c 10` (Thomas Habets' arping, Debian's package) gets ten
    replies from the target's MAC."""
    result = wire.run(["arping", "-c", "10", "-W", "0.2", "-i", sut.link, sut.ip], timeout=30)
    out = result.stdout + result.stderr
    counts = re.search(r"(\d+) packets transmitted, (\d+) packets received", out)
    assert counts, f"arping printed no statistics:\n{out}"
    assert (int(counts[1]), int(counts[2])) == (10, 10), out
    assert sut.mac.lower() in out.lower(), f"replies did not come from {sut.mac}:\n{out}"
