"""TCP options (RFC 9293 §3.1, §3.2, §3.7.1): the mandatory set (EOL, NOP,
MSS) wherever it sits, unknown options skipped, options in any segment,
malformed lists handled without harm, and the target's own option lists
well formed. A malformed list may get its segment dropped or the
connection reset (RFC 9293 suggests the latter); it must never stop the
target, and a connection it did not reset keeps working."""

from __future__ import annotations

import time

import pytest
from ringzero.net.tcp import Seg, TcpPeer, encode_options, seq_add
from scapy.layers.inet import IP, TCP

from suites.netutil import assert_alive

from .drive import PORT, established, listening

pytestmark = pytest.mark.requires("tcp")


def sizes_after_handshake(peer, sut, options, size: int = 4000) -> list[int]:
    """Connects with these SYN options and has the target send `size`
    octets: the sizes of its data segments."""
    tgt = listening(sut)
    c = TcpPeer(peer, sut, remote_port=PORT)
    c.connect(options=options)
    conn = tgt.accept_one(PORT)
    tgt.send(conn, size=size, seed=31)
    assert c.recv(size) == bytes((i * 7 + 31) & 0xFF for i in range(size))
    return [s.length for s in c.matched if s.length]


def survives(c: TcpPeer, tgt, conn: int) -> None:
    """After our last segment (sent without advancing SND.NXT): unless the
    target reset the connection (permitted for a malformed option list),
    the connection still carries data. The segment's data may have been
    taken: then SND.NXT moves over it."""
    last = c.sent[-1]
    replies = c.collect(0.3, since=last.time)
    if any(s.rst for s in replies):
        return
    if any(s.is_ack and s.ack == seq_add(last.seq, last.length) for s in replies):
        c.snd_nxt = seq_add(last.seq, last.length)
    c.send_data(b"still fine")
    c.expect(flags="A", ack=c.snd_nxt)
    assert tgt.recv(conn, 65536)[0].endswith(b"still fine")


@pytest.mark.rfc(9293, "3.1", "MUST")
@pytest.mark.tcp_req("MUST-6", "MUST-14")
def test_unknown_options_in_a_syn_are_skipped(peer, sut):
    """Options the target does not know (an experimental kind 253, kind 99)
    are skipped by their length; the MSS after them is still honoured."""
    sizes = sizes_after_handshake(
        peer, sut, [(253, b"\x12\x34\x56\x78"), (99, b"abcdef"), ("mss", 600)]
    )
    assert max(sizes) <= 600, sizes


@pytest.mark.rfc(9293, "3.2", "MUST")
@pytest.mark.tcp_req("MUST-64", "MUST-4")
def test_options_off_word_alignment_are_parsed(peer, sut):
    """Options need not start on 32-bit boundaries: a NOP, an odd-length
    unknown option, then the MSS at an odd offset."""
    raw = encode_options(["nop", (99, b""), ("mss", 700)], pad=False)
    assert raw.index(b"\x02\x04") == 3
    sizes = sizes_after_handshake(peer, sut, [raw + b"\x00"])
    assert max(sizes) <= 700, sizes


@pytest.mark.rfc(9293, "3.1", "MUST")
@pytest.mark.tcp_req("MUST-4", "MUST-15")
def test_nothing_after_end_of_option_list_is_read(peer, sut):
    """EOL ends the list: an MSS of 64 placed after it is not an option, so
    the target uses the default send MSS (536), not 64."""
    raw = b"\x01\x00" + b"\x02\x04\x00\x40"
    sizes = sizes_after_handshake(peer, sut, [raw + b"\x00\x00"])
    assert max(sizes) > 64, sizes
    assert max(sizes) <= 536, sizes


@pytest.mark.rfc(9293, "3.1", "MUST")
@pytest.mark.tcp_req("MUST-5", "MUST-6")
def test_options_on_data_segments_are_accepted(peer, sut):
    """Options may come on any segment: data carrying NOPs, an unknown
    option and a (meaningless outside a SYN) MSS option is delivered, and
    the MSS option does not change the segment size the target uses."""
    d = established(peer, sut)
    c = d.c
    c.send(flags="PA", payload=b"with options", options=["nop", "nop", (99, b"zz"), ("mss", 100)])
    c.expect(flags="A", ack=c.snd_nxt)
    assert d.tgt.recv_exactly(d.conn, 12) == b"with options"
    d.tgt.send(d.conn, size=3000, seed=33)
    c.recv(3000)
    assert max(s.length for s in c.matched if s.length) > 100


@pytest.mark.rfc(9293, "3.1", "MUST")
@pytest.mark.tcp_req("MUST-7")
@pytest.mark.parametrize(
    "raw",
    [
        b"\x02\x00\x05\xb4",  # MSS with length 0
        b"\x63\x01\x00\x00",  # unknown kind, length 1
        b"\x01\x01\x02\x08\x05\xb4\x00\x00",  # MSS of length 8 running past the header
        b"\x01\x01\x01\x02",  # a kind without a length octet at the end
    ],
    ids=["length-0", "length-1", "past-the-header", "no-length"],
)
def test_malformed_options_in_a_syn_are_survived(peer, sut, raw):
    """A SYN with an illegal option length: the target may answer it, drop
    it or reset; afterwards it still runs, and a proper SYN connects."""
    tgt = listening(sut)
    c = TcpPeer(peer, sut, remote_port=PORT)
    c.send_syn(options=raw)
    c.collect(0.3)
    assert_alive(peer, sut)
    other = TcpPeer(peer, sut, remote_port=PORT, host=1)
    other.connect()
    tgt.accept_one(PORT)


@pytest.mark.rfc(9293, "3.1", "MUST")
@pytest.mark.tcp_req("MUST-7", "MUST-5")
@pytest.mark.parametrize(
    "raw",
    [b"\x01\x01\x00\x00\x63\x00\x00\x00", b"\x01\x01\x08\x0a\x00\x00", b"\x05\xff\x00\x00"],
    ids=["length-0", "timestamps-cut-short", "sack-length-255"],
)
def test_malformed_options_on_an_established_connection_are_survived(peer, sut, raw):
    """Data with an illegal option list: dropped, taken, or the connection
    reset; the target keeps running, and a connection it did not reset
    still carries data."""
    d = established(peer, sut)
    d.c.send(flags="PA", payload=b"odd options", options=raw.ljust(8, b"\0"), advance=False)
    time.sleep(0.2)
    assert_alive(peer, sut)
    survives(d.c, d.tgt, d.conn)


@pytest.mark.rfc(9293, "3.1", "MUST")
@pytest.mark.parametrize("dataofs", [0, 4, 15], ids=["offset-0", "offset-4", "offset-past-end"])
def test_bad_data_offsets_are_dropped(peer, sut, dataofs):
    """A data offset below 5 words (shorter than the fixed header) or past
    the end of the segment cannot be right: the segment is dropped, and
    the connection carries on."""
    d = established(peer, sut)
    c = d.c
    c.send(flags="PA", payload=b"broken header", dataofs=dataofs, advance=False)
    c.expect_nothing(0.3, lambda s: s.ack != c.snd_nxt)
    assert_alive(peer, sut)
    survives(c, d.tgt, d.conn)
    assert b"broken" not in d.tgt.recv(d.conn)[0]


@pytest.mark.rfc(9293, "3.1", "MUST")
@pytest.mark.tcp_req("MUST-68", "MUST-69")
def test_targets_option_lists_are_well_formed(peer, sut):
    """Every option the target sends (in its SYN-ACK to a SYN asking for
    everything, and after) has a length octet within the header unless it
    is EOL or NOP, and whatever follows an EOL is zero."""
    d = established(
        peer,
        sut,
    )
    c = TcpPeer(peer, sut, remote_port=PORT, host=1)
    c.send_syn(options=[("mss", 1460), "sackok", ("ts", 1, 0), "nop", ("wscale", 7)])
    c.expect_syn_ack()
    c.send(flags="A")
    conn = d.tgt.accept_one(PORT)
    d.tgt.send(conn, size=3000, seed=35)
    c.recv(3000)
    for seg in c.segments():
        p = seg.parsed_options
        assert p.error is None, f"{seg}: {p.error}"
        assert not any(p.after_eol), f"{seg}: padding after EOL is {p.after_eol.hex()}"


@pytest.mark.rfc(9293, "3.1", "MUST")
def test_reserved_bits_are_ignored(peer, sut):
    """The reserved header bits, set by a sender, are ignored on receipt."""
    d = established(peer, sut)
    d.c.send(flags="PA", payload=b"reserved", reserved=0b111)
    d.c.expect(flags="A", ack=d.c.snd_nxt)
    assert d.tgt.recv_exactly(d.conn, 8) == b"reserved"


@pytest.mark.rfc(9293, "3.1", "MUST")
@pytest.mark.tcp_req("MUST-2")
def test_the_targets_checksums_verify_independently(peer, sut):
    """Scapy recomputes the checksum of a segment from the target (header,
    options, data, pseudo-header) and gets the one it carries."""
    d = established(peer, sut)
    d.tgt.send(d.conn, b"odd length!")
    seg = d.c.expect(lambda s: s.length > 0)
    assert isinstance(seg, Seg) and seg.packet is not None
    ip = IP(bytes(seg.packet[IP]))
    want = ip[TCP].chksum
    del ip[TCP].chksum
    assert IP(bytes(ip))[TCP].chksum == want
    assert seg.ack == d.c.snd_nxt and seg.seq == seq_add(d.c.rcv_nxt, -11)
