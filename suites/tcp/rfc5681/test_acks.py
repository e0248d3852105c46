"""The receiver's side of congestion control (RFC 5681 §4.2): an
out-of-order segment is answered at once with a duplicate ACK (the
sender's fast retransmit depends on them, one per segment), and a
segment that fills the hole is acknowledged at once, cumulatively."""

from __future__ import annotations

import pytest
from ringzero.net.tcp import TcpPeer, seq_add

from ..rfc6298.sender import sending

pytestmark = pytest.mark.requires("tcp")

SIZE = 1000


def immediate(c: TcpPeer) -> float:
    """An ACK "at once": well under any delayed-ACK timer (Linux's is 40 ms
    at least, the unikernel's 200 ms)."""
    return max(0.025, 2 * c.timing.absolute)


def block(i: int) -> bytes:
    return bytes([0x41 + i]) * SIZE


@pytest.mark.rfc(5681, "4.2", "SHOULD")
@pytest.mark.tcp_req("MAY-13", "SHLD-31")
def test_each_out_of_order_segment_draws_an_immediate_duplicate_ack(peer, sut):
    """Three segments past a hole of 1000 octets, one by one: each is
    answered at once by an ACK of the hole's start (RCV.NXT): three
    duplicate ACKs, none delayed."""
    s = sending(peer, sut)
    c = s.c
    hole = c.snd_nxt
    for i in (1, 2, 3):
        sent = c.send(flags="PA", seq=seq_add(hole, i * SIZE), payload=block(i))
        dup = c.expect(flags="A", ack=hole, length=0, within=1.0, what=f"duplicate ACK {i}")
        assert dup.time - sent.time <= immediate(c), (
            f"duplicate ACK {i} came {(dup.time - sent.time) * 1000:.0f} ms after the segment"
        )


@pytest.mark.rfc(5681, "4.2", "SHOULD")
@pytest.mark.tcp_req("SHLD-31", "MUST-59")
def test_segment_filling_the_hole_is_acknowledged_at_once(peer, sut):
    """Two segments wait behind a hole; the segment that fills it is
    acknowledged at once, and the ACK covers all three (what was queued
    is processed before the ACK goes, MUST-59). The application reads the
    3000 octets in order."""
    s = sending(peer, sut)
    c = s.c
    hole = c.snd_nxt
    for i in (1, 2):
        c.send(flags="PA", seq=seq_add(hole, i * SIZE), payload=block(i))
        c.expect(flags="A", ack=hole, within=1.0, what="duplicate ACK")
    filler = c.send(flags="PA", payload=block(0))
    end = seq_add(hole, 3 * SIZE)
    ack = c.expect(flags="A", ack=end, within=1.0, what="ACK of all three")
    assert ack.time - filler.time <= immediate(c), (
        f"the hole's ACK came {(ack.time - filler.time) * 1000:.0f} ms after the segment"
    )
    assert s.tgt.recv_exactly(s.conn, 3 * SIZE) == block(0) + block(1) + block(2)
