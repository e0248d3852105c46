"""IPv4 input (RFC 791, RFC 1122 §3.2.1, §3.3.2): header checks, options,
local delivery only, and reassembly. An ICMP echo is the probe: a reply
shows the datagram was accepted."""

from __future__ import annotations

import pytest
from scapy.layers.inet import ICMP, IP, IPerror, IPOption, IPOption_NOP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from suites.netutil import (
    assert_alive,
    echo_request,
    expect_echo_reply,
    fragments_of,
    icmp_payload,
    ip_checksum_ok,
    pattern,
    whole_replies,
)

pytestmark = pytest.mark.requires("ipv4")


def no_echo_reply(peer, window: float = 1.5) -> bool:
    return peer.collect(window, Ether() / IP() / ICMP(type=0)) == []


@pytest.mark.rfc(791, "3.1", "MUST")
def test_well_formed_datagram_is_delivered(peer, sut):
    """Baseline: a well-formed datagram to the target's address is delivered."""
    request = echo_request(peer, sut, pattern(64))
    peer.send(request)
    reply = expect_echo_reply(peer, sut, request)
    assert icmp_payload(reply) == pattern(64)


@pytest.mark.rfc(791, "3.1", "MUST")
def test_reply_header_is_well_formed(peer, sut):
    """The target's own header: version 4, IHL 5 or more, total length equal
    to what is on the wire, a correct checksum, a TTL above zero (RFC 1122
    §3.2.1.7: a host MUST NOT send a datagram with TTL 0)."""
    request = echo_request(peer, sut, pattern(100))
    peer.send(request)
    reply = expect_echo_reply(peer, sut, request)
    raw = bytes(reply[IP])
    ihl = raw[0] & 0x0F
    assert raw[0] >> 4 == 4 and ihl >= 5
    assert int.from_bytes(raw[2:4], "big") == len(raw)
    assert ip_checksum_ok(raw[: ihl * 4])
    assert raw[8] > 0


@pytest.mark.rfc(1122, "3.2.1.2", "MUST")
def test_bad_header_checksum_is_dropped(peer, sut):
    """A host MUST verify the header checksum and silently discard a
    datagram whose checksum is wrong."""
    request = echo_request(peer, sut, b"bad-checksum", chksum=0x1234)
    peer.send(request)
    assert no_echo_reply(peer)
    assert_alive(peer, sut)


@pytest.mark.rfc(1122, "3.2.1.1", "MUST")
def test_version_other_than_4_is_dropped(peer, sut):
    """A datagram whose version number is not 4 MUST be silently discarded."""
    peer.send(echo_request(peer, sut, b"version-6", version=6))
    assert no_echo_reply(peer)
    assert_alive(peer, sut)


@pytest.mark.rfc(791, "3.1", "MUST")
@pytest.mark.parametrize("ihl", [0, 4])
def test_header_length_below_5_is_dropped(peer, sut, ihl):
    """IHL counts 32-bit words of header; 5 is the least a correct header has."""
    peer.send(echo_request(peer, sut, b"short-ihl", ihl=ihl))
    assert no_echo_reply(peer)
    assert_alive(peer, sut)


@pytest.mark.rfc(791, "3.1", "MUST")
def test_total_length_beyond_the_frame_is_dropped(peer, sut):
    """A total length larger than the frame carries means a truncated
    datagram: it is dropped, not read past its end."""
    request = echo_request(peer, sut, pattern(40))
    request[IP].len = 20 + 8 + 40 + 64
    peer.send(request)
    assert no_echo_reply(peer)
    assert_alive(peer, sut)


@pytest.mark.rfc(791, "3.1", "MUST")
def test_total_length_below_the_header_is_dropped(peer, sut):
    """A total length smaller than the header itself is malformed."""
    request = echo_request(peer, sut, pattern(40))
    request[IP].len = 16
    peer.send(request)
    assert no_echo_reply(peer)
    assert_alive(peer, sut)


@pytest.mark.rfc(791, "3.1", "MUST")
def test_bytes_after_total_length_are_ignored(peer, sut):
    """The datagram ends where its total length says, whatever follows in the
    frame (link padding, trailing junk): the echo data excludes it."""
    data = pattern(32)
    request = echo_request(peer, sut, data)
    frame = bytes(request) + b"\xee" * 24
    peer.send(frame)
    reply = expect_echo_reply(peer, sut, request)
    assert icmp_payload(reply) == data


@pytest.mark.rfc(1122, "3.2.1.7", "MUST")
def test_ttl_of_1_is_delivered(peer, sut):
    """A host MUST NOT discard a datagram just because it arrived with a TTL
    below 2."""
    request = echo_request(peer, sut, b"ttl-1", ttl=1)
    peer.send(request)
    reply = expect_echo_reply(peer, sut, request)
    assert reply[IP].ttl > 0


@pytest.mark.rfc(1122, "3.2.1.8", "MUST")
def test_datagram_with_options_is_delivered(peer, sut):
    """Options are accepted: four NOPs make a 24-byte header; the data after
    the options is delivered intact."""
    data = pattern(48)
    request = echo_request(peer, sut, data, options=[IPOption_NOP()] * 4)
    assert request[IP].ihl is None or request[IP].ihl == 6
    peer.send(request)
    reply = expect_echo_reply(peer, sut, request)
    assert icmp_payload(reply) == data


@pytest.mark.rfc(1122, "3.2.1.8", "MUST")
def test_unknown_option_is_ignored(peer, sut):
    """A host MUST ignore an option it does not implement (here option 30,
    an experiment number, with 2 bytes of data)."""
    data = pattern(24)
    unknown = IPOption(b"\x1e\x04\xab\xcd")
    request = echo_request(peer, sut, data, options=[unknown])
    peer.send(request)
    reply = expect_echo_reply(peer, sut, request)
    assert icmp_payload(reply) == data


@pytest.mark.rfc(1122, "3.2.1.3", "MUST")
@pytest.mark.parametrize("destination", ["unused", "off-link"])
def test_datagram_for_another_address_is_not_delivered_or_forwarded(peer, sut, wire, destination):
    """A host MUST silently discard a datagram not destined for it, and a
    host that is not a router does not forward it: nothing at all comes back
    or goes on."""
    dst = wire.addr.unused_ip if destination == "unused" else "192.0.2.1"
    peer.send(echo_request(peer, sut, b"not-mine", dst=dst))
    assert peer.collect(1.5, Ether() / IP()) == []
    assert_alive(peer, sut)


@pytest.mark.rfc(1122, "3.3.2", "MUST")
@pytest.mark.parametrize("order", ["in-order", "reversed"])
def test_fragments_are_reassembled(peer, sut, order):
    """A 3000-byte echo in three fragments, in order or last-first, is
    reassembled and answered with the whole data."""
    data = pattern(3000)
    request = echo_request(peer, sut, data)
    frames = fragments_of(request, 1480)
    assert len(frames) == 3
    if order == "reversed":
        frames.reverse()
    peer.send(*frames)
    got = whole_replies(peer.collect(3.0, Ether() / IP(src=sut.ip)))
    replies = [p for p in got if p.haslayer(ICMP) and p[ICMP].type == 0]
    assert replies, "no reply to a fragmented echo"
    assert replies[0][ICMP].id == request[ICMP].id
    assert icmp_payload(replies[0]) == data


@pytest.mark.rfc(1122, "3.3.2", "MUST")
def test_many_interleaved_datagrams_are_reassembled(peer, sut):
    """Sixteen fragmented datagrams at once, their fragments interleaved,
    each reassembled by its own identification."""
    requests = [
        echo_request(peer, sut, pattern(2000, seed=i), seq=i, id=0x5000 + i) for i in range(16)
    ]
    per = [fragments_of(r, 1000) for r in requests]
    interleaved = [f for group in zip(*per, strict=True) for f in group]
    peer.send(*interleaved)
    got = whole_replies(peer.collect(5.0, Ether() / IP(src=sut.ip)))
    seqs = sorted(p[ICMP].seq for p in got if p.haslayer(ICMP) and p[ICMP].type == 0)
    assert seqs == list(range(16))
    for p in got:
        if p.haslayer(ICMP) and p[ICMP].type == 0:
            assert icmp_payload(p) == pattern(2000, seed=p[ICMP].seq)


@pytest.mark.rfc(791, "3.2", "MAY")
def test_overlapping_fragments_drop_the_datagram(peer, sut):
    """Fragments that overlap with different data are an attack, not an
    accident: the datagram is dropped (RFC 791 leaves overlap handling to
    the implementation; Linux has dropped overlapping IPv4 fragments since
    4.19, and ringzero does the same)."""
    request = echo_request(peer, sut, pattern(3000))
    frames = fragments_of(request, 1480)
    overlap = frames[1].copy()
    overlap[IP].frag -= 40  # starts 320 bytes earlier, inside fragment 0
    overlap[IP].remove_payload()
    overlap = overlap / Raw(b"\x99" * 1480)
    overlap[IP].len = None
    overlap[IP].chksum = None
    peer.send(frames[0], overlap, frames[1], frames[2])
    assert no_echo_reply(peer, 2.0)
    assert_alive(peer, sut)


@pytest.mark.rfc(1122, "3.3.2", "MUST")
def test_incomplete_datagram_times_out_with_time_exceeded(peer, sut):
    """When reassembly times out (the targets run with a 3 s limit) the
    partial datagram is discarded, and since fragment zero arrived, an ICMP
    Time Exceeded (code 1) quoting it goes to the source; the missing
    fragment arriving later completes nothing."""
    request = echo_request(peer, sut, pattern(3000))
    frames = fragments_of(request, 1480)
    peer.send(frames[0], frames[1])
    wait = sut.tunables["ipfrag_time_s"] + 3.0
    exceeded = peer.expect(Ether() / IP(src=sut.ip) / ICMP(type=11, code=1), timeout=wait)
    assert exceeded is not None, f"no Time Exceeded within {wait} s"
    quoted = exceeded[IPerror]
    assert quoted.id == request[IP].id and quoted.frag == 0
    peer.send(frames[2])
    assert no_echo_reply(peer, 1.5)


@pytest.mark.rfc(791, "3.1", "MUST")
def test_datagram_over_65535_bytes_is_dropped(peer, sut):
    """Fragments that add up to more than 65535 bytes (a total length can
    say no more) are dropped: the old ping of death."""
    data = pattern(65600)
    request = echo_request(peer, sut, data)
    raw_ip = bytes(IP(src=request[IP].src, dst=request[IP].dst, id=0x7777, proto=1))
    icmp = bytes(request[ICMP])
    frames = []
    step = 1480
    for off in range(0, len(icmp), step):
        chunk = icmp[off : off + step]
        more = off + step < len(icmp)
        ip = IP(raw_ip)
        ip.flags = "MF" if more else 0
        ip.frag = off // 8
        ip.len = None
        ip.chksum = None
        frames.append(Ether(src=request[Ether].src, dst=request[Ether].dst) / ip / Raw(chunk))
    assert frames[-1][IP].frag * 8 + len(frames[-1][Raw].load) + 20 > 65535
    peer.send(*frames)
    assert no_echo_reply(peer, 3.0)
    assert_alive(peer, sut)


@pytest.mark.rfc(1122, "3.2.1.2", "MUST")
@pytest.mark.requires("drop-counters")
def test_discarded_datagrams_are_counted_by_reason(peer, sut):
    """Each silent discard is counted under its reason in the target's stats."""
    reasons = {
        "ipv4.rx.drop.bad_checksum": echo_request(peer, sut, b"c", chksum=0x1234),
        "ipv4.rx.drop.bad_version": echo_request(peer, sut, b"v", version=6),
        "ipv4.rx.drop.bad_ihl": echo_request(peer, sut, b"i", ihl=4),
    }
    before = sut.agent.request("stats")["counters"]
    for name, frame in reasons.items():
        assert name in before, f"no counter {name}"
        peer.send(frame)
    assert_alive(peer, sut)
    after = sut.agent.request("stats")["counters"]
    for name in reasons:
        assert after[name] == before[name] + 1, name
