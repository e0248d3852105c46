"""Data transfer (RFC 9293 §3.4, §3.8, §3.10.7.4 seventh step): in-order,
out-of-order and overlapping segments delivered once and in order,
sequence numbers wrapping, acknowledgment timing (delayed ACKs), PSH on
the last segment, checksums of what the target sends, and the Nagle
algorithm with its per-connection switch."""

from __future__ import annotations

import itertools
import time

import pytest
from ringzero.net.tcp import MOD, seq_add, seq_diff

from .drive import established

pytestmark = pytest.mark.requires("tcp")


def pattern(size: int, seed: int = 0) -> bytes:
    return bytes((i * 7 + seed) & 0xFF for i in range(size))


@pytest.mark.rfc(9293, "3.10.7.4", "MUST")
@pytest.mark.tcp_req("MUST-2")
def test_in_order_segments_are_delivered_and_acknowledged(peer, sut):
    """Five segments in order: all acknowledged, read back exactly; every
    segment the target sent has a right checksum."""
    d = established(peer, sut)
    data = pattern(5000, 3)
    d.c.send_data(data, segment_size=1000)
    d.c.expect(flags="A", ack=d.c.snd_nxt)
    assert d.tgt.recv_exactly(d.conn, 5000) == data
    bad = [str(s) for s in d.c.segments() if not s.checksum_ok]
    assert not bad, bad


@pytest.mark.rfc(9293, "3.10.7.4", "SHOULD")
@pytest.mark.tcp_req("SHLD-31", "MUST-59", "MUST-58", "MAY-13")
def test_out_of_order_segments_are_held_and_delivered_once_the_hole_fills(peer, sut):
    """Segments 2 and 3 arrive before 1: they are kept (any ACK meanwhile
    acknowledges only RCV.NXT, the hole); when 1 arrives, all three are
    processed before acknowledging, so the first ACK covers them all, and
    the application reads them in order."""
    d = established(peer, sut)
    c = d.c
    base = c.snd_nxt
    data = pattern(3000, 5)
    c.send(flags="A", seq=seq_add(base, 1000), payload=data[1000:2000])
    c.send(flags="PA", seq=seq_add(base, 2000), payload=data[2000:])
    early = c.collect(0.3)
    assert all(s.ack == base for s in early if s.is_ack), [str(s) for s in early]
    time.sleep(0.1)
    assert d.tgt.recv(d.conn) == (b"", False)
    c.send(flags="A", seq=base, payload=data[:1000])
    c.snd_nxt = seq_add(base, 3000)
    ack = c.expect(has="A", ack=lambda a: a != base, what="ACK after the hole filled")
    assert ack.ack == c.snd_nxt, f"acknowledged up to {seq_diff(ack.ack, base)} of 3000 octets"
    assert d.tgt.recv_exactly(d.conn, 3000) == data


@pytest.mark.rfc(9293, "3.10.7.4", "MUST")
@pytest.mark.tcp_req("SHLD-31")
def test_segments_in_reverse_order_are_delivered_in_order(peer, sut):
    """Eight segments sent last first: the stream comes out in order."""
    d = established(peer, sut)
    c = d.c
    base = c.snd_nxt
    data = pattern(8 * 500, 7)
    for i in reversed(range(8)):
        c.send(flags="A", seq=seq_add(base, 500 * i), payload=data[500 * i : 500 * (i + 1)])
    c.snd_nxt = seq_add(base, len(data))
    c.expect(has="A", ack=c.snd_nxt, within=3.0, since="match")
    assert d.tgt.recv_exactly(d.conn, len(data)) == data


@pytest.mark.rfc(9293, "3.10", "MUST")
def test_overlapping_segments_are_delivered_once(peer, sut):
    """Segments that overlap each other (and a hole between) are delivered
    as one stream, every octet once."""
    d = established(peer, sut)
    c = d.c
    base = c.snd_nxt
    data = pattern(2000, 11)
    for start, end in ((1200, 2000), (0, 700), (500, 1500), (300, 400)):
        c.send(flags="A", seq=seq_add(base, start), payload=data[start:end])
    c.snd_nxt = seq_add(base, 2000)
    c.expect(has="A", ack=c.snd_nxt, within=3.0, since="match")
    assert d.tgt.recv_exactly(d.conn, 2000) == data
    time.sleep(0.1)
    assert d.tgt.recv(d.conn) == (b"", False)


@pytest.mark.rfc(9293, "3.4", "MUST")
def test_sequence_numbers_wrap_around(peer, sut):
    """Sequence arithmetic is modulo 2**32: a stream that starts just below
    2**32 crosses zero without a hitch, both ways."""
    d = established(peer, sut, iss=MOD - 1500)
    c = d.c
    data = pattern(4000, 13)
    c.send_data(data, segment_size=1000)
    ack = c.expect(flags="A", ack=c.snd_nxt)
    assert ack.ack == 4000 - 1500 + 1
    assert d.tgt.recv_exactly(d.conn, 4000) == data


@pytest.mark.rfc(9293, "3.8.6.3", "MUST")
@pytest.mark.tcp_req("MUST-40", "SHLD-18")
def test_ack_is_never_delayed_half_a_second(peer, sut):
    """A lone small segment (nothing to piggyback the ACK on): the ACK may
    be delayed, but by less than 0.5 s; twice, a little apart."""
    d = established(peer, sut)
    c = d.c
    for _ in range(2):
        sent = c.send_data(b"ack me")[0]
        ack = c.expect(flags="A", ack=c.snd_nxt, within=1.0)
        gap = ack.time - sent.time
        assert gap < 0.5 + c.timing.absolute, f"ACK after {gap * 1000:.0f} ms"
        time.sleep(0.3)


@pytest.mark.rfc(9293, "3.8.6.3", "SHOULD")
@pytest.mark.tcp_req("SHLD-19", "MUST-40")
def test_every_second_full_sized_segment_is_acknowledged(peer, sut):
    """Eight full-sized segments back to back: an ACK comes for at least
    every second one (no ACK advances by more than 2 * MSS over the one
    before), each within 0.5 s."""
    d = established(peer, sut)
    c = d.c
    mss = c.remote_mss or 536
    base = c.snd_nxt
    c.send_data(pattern(8 * mss, 17), segment_size=mss)
    c.expect(flags="A", ack=c.snd_nxt, within=1.0)
    acks = [s.ack for s in c.segments(c.sent[-8].time) if s.is_ack]
    steps = [seq_diff(b, a) for a, b in itertools.pairwise([base, *acks])]
    assert max(steps) <= 2 * mss, f"ACK steps {steps} (MSS {mss})"


@pytest.mark.rfc(9293, "3.9.1.2", "MUST")
@pytest.mark.tcp_req("MUST-61", "MUST-60")
def test_the_segment_that_empties_the_send_queue_has_psh(peer, sut):
    """Without a PUSH flag in the interface, the sender sets PSH in the
    segment carrying the last queued octet (and sends it: nothing is kept
    back)."""
    d = established(peer, sut)
    d.tgt.send(d.conn, size=5000, seed=19)
    d.c.recv(5000)
    data_segs = [s for s in d.c.matched if s.length]
    last = max(data_segs, key=lambda s: seq_diff(s.end, d.c.irs or 0))
    assert last.has("P"), f"no PSH on the last segment: {last}"


@pytest.mark.rfc(9293, "3.7.4", "SHOULD")
@pytest.mark.tcp_req("SHLD-7")
def test_nagle_holds_small_writes_while_data_is_unacknowledged(peer, sut):
    """With the Nagle algorithm (the default), a small write waits while
    earlier data is unacknowledged; our ACK releases the waiting writes,
    together."""
    d = established(peer, sut)
    c = d.c
    d.tgt.send(d.conn, b"a")
    first = c.expect(lambda s: s.length > 0, update=True)
    assert first.payload == b"a"
    d.tgt.send(d.conn, b"b")
    d.tgt.send(d.conn, b"c")
    new = seq_add(first.seq, 1)
    c.expect_nothing(0.15, lambda s: s.length > 0 and s.seq == new, what="new small data")
    c.send(flags="A")
    rest = c.expect(lambda s: s.length > 0 and s.seq == new, since="match")
    assert rest.payload == b"bc"


@pytest.mark.rfc(9293, "3.7.4", "MUST")
@pytest.mark.tcp_req("MUST-17")
def test_nagle_can_be_turned_off_for_a_connection(peer, sut):
    """With Nagle off (the agent's nodelay), each small write goes out at
    once, without waiting for the ACK of the one before."""
    d = established(peer, sut)
    c = d.c
    d.tgt.set(d.conn, nodelay=True)
    d.tgt.send(d.conn, b"a")
    c.expect(lambda s: s.length > 0, payload=b"a")
    d.tgt.send(d.conn, b"b")
    seg = c.expect(lambda s: s.length > 0, since="match", within=0.15)
    assert seg.payload == b"b"
