"""ICMP (RFC 792) with the host requirements of RFC 1122 §3.2.2: the echo
server, protocol unreachable, and the cases where no error may be sent."""

from __future__ import annotations

import pytest
from scapy.layers.inet import ICMP, IP, IPerror
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from suites.netutil import (
    assert_alive,
    echo_request,
    expect_echo_reply,
    fragments_of,
    icmp_payload,
    pattern,
    to_target,
    whole_replies,
)

pytestmark = pytest.mark.requires("icmp")

UNKNOWN_PROTOCOL = 253  # RFC 3692 experimentation number: no stack implements it


def any_icmp_from(sut) -> Ether:
    return Ether() / IP(src=sut.ip) / ICMP()


@pytest.mark.rfc(1122, "3.2.2.6", "MUST")
@pytest.mark.parametrize("size", [0, 56, 1472, 4000])
def test_echo_reply_keeps_id_sequence_and_data(peer, sut, size):
    """Every host MUST answer an echo request, and the reply MUST carry all
    of its data, with the same identifier and sequence number. 1472 bytes
    fill a 1500-byte datagram; 4000 arrive in fragments and the reply goes
    out in fragments."""
    data = pattern(size, seed=size)
    request = echo_request(peer, sut, data, seq=size + 1)
    frames = fragments_of(request) if size > 1472 else [request]
    peer.send(*frames)
    if len(frames) == 1:
        reply = expect_echo_reply(peer, sut, request)
    else:
        got = whole_replies(peer.collect(3.0, Ether() / IP(src=sut.ip)))
        replies = [p for p in got if p.haslayer(ICMP) and p[ICMP].type == 0]
        assert replies, "no reply to a fragmented 4000-byte echo"
        reply = replies[0]
        assert (reply[ICMP].id, reply[ICMP].seq) == (request[ICMP].id, request[ICMP].seq)
    assert icmp_payload(reply) == data
    assert ICMP(bytes(reply[ICMP])).chksum == reply[ICMP].chksum  # checksum is right


@pytest.mark.rfc(791, "3.2", "MUST")
def test_large_reply_is_fragmented_within_the_mtu(peer, sut):
    """A reply bigger than the link's MTU leaves in fragments of at most 1500
    bytes, every fragment but the last a multiple of 8 bytes of data."""
    request = echo_request(peer, sut, pattern(4000))
    peer.send(*fragments_of(request))
    frags = peer.collect(3.0, Ether() / IP(src=sut.ip, proto=1))
    assert len(frags) >= 3, f"{len(frags)} fragments for a 4028-byte reply"
    for f in frags:
        assert f[IP].len <= 1500
        if f[IP].flags.MF:
            assert (f[IP].len - f[IP].ihl * 4) % 8 == 0
    assert len(whole_replies(frags)) == 1


@pytest.mark.rfc(1122, "3.2.2.6", "MUST")
def test_reply_comes_from_the_address_the_request_went_to(peer, sut):
    """The reply's source MUST be the specific destination of the request."""
    request = echo_request(peer, sut, b"src")
    peer.send(request)
    reply = expect_echo_reply(peer, sut, request)
    assert reply[IP].src == sut.ip and reply[Ether].src.lower() == sut.mac.lower()


@pytest.mark.rfc(792, "Echo or Echo Reply Message", "MUST")
def test_echo_with_a_bad_checksum_is_dropped(peer, sut):
    """An echo request whose ICMP checksum is wrong is not answered."""
    request = echo_request(peer, sut, b"bad-icmp-checksum")
    request[ICMP].chksum = 0x0BAD
    peer.send(request)
    assert peer.collect(1.5, any_icmp_from(sut)) == []
    assert_alive(peer, sut)


@pytest.mark.rfc(1122, "3.2.2", "MUST")
def test_unknown_icmp_type_is_ignored(peer, sut):
    """An ICMP message of unknown type MUST be silently discarded."""
    peer.send(to_target(peer, sut) / ICMP(type=42, code=0) / Raw(b"unknown"))
    assert peer.collect(1.5, any_icmp_from(sut)) == []
    assert_alive(peer, sut)


@pytest.mark.rfc(1122, "3.2.2.1", "SHOULD")
def test_unknown_protocol_gets_protocol_unreachable_quoting_the_datagram(peer, sut):
    """A datagram for a protocol the host does not implement gets Destination
    Unreachable code 2, quoting the IP header and at least the first 8 data
    bytes (RFC 792; RFC 1122 §3.2.2 allows more)."""
    body = pattern(16)
    datagram = to_target(peer, sut, proto=UNKNOWN_PROTOCOL) / Raw(body)
    peer.send(datagram)
    error = peer.expect(Ether() / IP(src=sut.ip) / ICMP(type=3, code=2), timeout=3.0)
    assert error is not None, "no protocol unreachable"
    sent = bytes(datagram[IP])
    quoted = bytes(error[ICMP].payload)
    assert len(quoted) >= 20 + 8
    assert quoted[:28] == sent[:28], "the quote is not the datagram's header and first 8 bytes"
    assert error[IP].dst == peer.host(0).ip


@pytest.mark.rfc(1122, "3.2.2", "MUST")
def test_no_error_about_an_icmp_error(peer, sut):
    """An ICMP error MUST NOT be sent about an ICMP error message: here an
    incomplete, fragmented Destination Unreachable, whose reassembly times
    out, draws no Time Exceeded (an echo in its place would)."""
    inner = IP(src=sut.ip, dst=peer.host(0).ip) / ICMP(type=8) / Raw(b"x" * 8)
    error = to_target(peer, sut) / ICMP(type=3, code=1) / Raw(bytes(inner) + pattern(2000))
    frames = fragments_of(error)
    peer.send(frames[0])
    wait = sut.tunables["ipfrag_time_s"] + 3.0
    assert peer.collect(wait, any_icmp_from(sut)) == []
    assert_alive(peer, sut)


@pytest.mark.rfc(1122, "3.2.2", "MUST")
@pytest.mark.parametrize("how", ["ip-broadcast", "link-broadcast"])
def test_no_error_about_a_broadcast(peer, sut, wire, how):
    """An ICMP error MUST NOT be sent about a datagram to an IP broadcast
    address, nor about one that came as a link-layer broadcast."""
    dst = wire.addr.broadcast if how == "ip-broadcast" else sut.ip
    datagram = to_target(peer, sut, proto=UNKNOWN_PROTOCOL, dst=dst)
    datagram[Ether].dst = "ff:ff:ff:ff:ff:ff"  # a link-layer broadcast either way
    peer.send(datagram / Raw(pattern(16)))
    assert peer.collect(1.5, any_icmp_from(sut)) == []
    assert_alive(peer, sut)


@pytest.mark.rfc(1122, "3.2.2", "MUST")
def test_no_error_about_a_non_initial_fragment(peer, sut):
    """An ICMP error MUST NOT be sent about a non-initial fragment: a lone
    last fragment of an unknown-protocol datagram draws nothing, neither
    protocol unreachable nor (after the reassembly timeout) Time Exceeded."""
    lone = to_target(peer, sut, proto=UNKNOWN_PROTOCOL, frag=185, flags=0) / Raw(pattern(64))
    peer.send(lone)
    wait = sut.tunables["ipfrag_time_s"] + 3.0
    assert peer.collect(wait, any_icmp_from(sut)) == []
    assert_alive(peer, sut)


@pytest.mark.rfc(1122, "3.2.2.6", "MAY")
@pytest.mark.parametrize("dst", ["subnet", "limited"])
def test_echo_to_a_broadcast_address_is_not_answered(peer, sut, wire, dst):
    """An echo request to a broadcast address MAY be silently discarded;
    both targets do (Linux: icmp_echo_ignore_broadcasts=1, the default)."""
    address = wire.addr.broadcast if dst == "subnet" else "255.255.255.255"
    request = echo_request(peer, sut, b"broadcast", dst=address)
    request[Ether].dst = "ff:ff:ff:ff:ff:ff"
    peer.send(request)
    assert peer.collect(1.5, any_icmp_from(sut)) == []
    assert_alive(peer, sut)


@pytest.mark.rfc(1812, "4.3.2.8", "SHOULD")
def test_errors_are_rate_limited(peer, sut):
    """ICMP errors are rate-limited (RFC 1812's rule, which hosts such as
    Linux apply too): 30 unknown-protocol datagrams in a burst draw at least
    one protocol unreachable but far fewer than 30 (both targets allow a
    burst of 6, then one per icmp_ratelimit)."""
    burst = [
        to_target(peer, sut, proto=UNKNOWN_PROTOCOL, id=i) / Raw(pattern(16)) for i in range(30)
    ]
    peer.send(*burst)
    errors = peer.collect(2.0, Ether() / IP(src=sut.ip) / ICMP(type=3, code=2))
    assert 1 <= len(errors) <= 10, f"{len(errors)} errors for 30 datagrams"
    quoted_ids = {e[IPerror].id for e in errors}
    assert len(quoted_ids) == len(errors)
