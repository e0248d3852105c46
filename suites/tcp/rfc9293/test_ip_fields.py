"""What TCP asks of the IP fields of its segments (RFC 9293 §3.9.1.9,
§3.9.2): the application chooses the Differentiated Services field and may
change it during the connection, and the TTL is configurable. The target's
agent sets both with tcp_set (ttl=, tos=); the scripted peer reads them
from the segments."""

from __future__ import annotations

import pytest
from ringzero.net.tcp import TargetTcp, establish
from scapy.layers.inet import IP

pytestmark = pytest.mark.requires("tcp")


def ip_of(seg):
    assert seg.packet is not None
    return seg.packet[IP]


@pytest.mark.rfc(9293, "3.9.2", "MUST")
@pytest.mark.tcp_req("MUST-49")
def test_the_ttl_of_segments_is_configurable(peer, sut):
    """The default TTL, then the one the application set, on data segments."""
    c, conn = establish(peer, sut)
    tgt = TargetTcp(sut)
    tgt.send(conn, b"default ttl")
    first = c.expect(length=11, what="data with the default TTL")
    c.send(flags="A")
    assert ip_of(first).ttl >= 32, "a default TTL too small to cross a network"
    tgt.set(conn, ttl=7)
    tgt.send(conn, b"ttl seven")
    seg = c.expect(length=9, since="match", what="data after ttl=7")
    assert ip_of(seg).ttl == 7


@pytest.mark.rfc(9293, "3.9.1.9", "MUST")
@pytest.mark.tcp_req("MUST-48", "SHLD-21", "SHLD-22")
def test_the_application_chooses_and_changes_the_diffserv_field(peer, sut):
    """DSCP AF11 (TOS 0x28) on the segments once set, then CS5 (0xa0) after
    the application changes it mid-connection; the value reaches IP
    unchanged."""
    c, conn = establish(peer, sut)
    tgt = TargetTcp(sut)
    tgt.set(conn, tos=0x28)
    tgt.send(conn, b"af11")
    seg = c.expect(length=4, what="data with TOS 0x28")
    c.send(flags="A")
    assert ip_of(seg).tos == 0x28
    tgt.set(conn, tos=0xA0)
    tgt.send(conn, b"class five")
    seg = c.expect(length=10, since="match", what="data with TOS 0xa0")
    assert ip_of(seg).tos == 0xA0
