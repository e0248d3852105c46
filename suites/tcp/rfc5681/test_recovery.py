"""Loss recovery without the timer (RFC 5681 §3.2, RFC 6582): the third
duplicate ACK, not the second, makes the target retransmit the missing
segment at once, with ssthresh halved; in fast recovery a partial ACK
makes it retransmit the next hole at once, and the full ACK ends recovery
with cwnd deflated to ssthresh.

The target's second flight (after one round of slow start) is what gets
"lost": we acknowledge around holes with duplicate ACKs."""

from __future__ import annotations

import time

import pytest
from ringzero.net.tcp import Seg

from ..rfc6298.sender import BULK, Sender, sending

pytestmark = pytest.mark.requires("tcp")


def second_flight(s: Sender, at_least: int) -> list[Seg]:
    s.send(BULK)
    segs = s.next_flight(s.flight())
    assert len(segs) >= at_least, f"a second flight of {len(segs)} segments"
    return segs


def resent(seg: Seg):
    return lambda x: x.length > 0 and x.seq == seg.seq


def prompt(s: Sender) -> float:
    """Well within any RTO: how soon an "at once" retransmission must come."""
    return min(0.1, s.stats()["rto_ms"] / 4000) + s.c.timing.absolute


@pytest.mark.rfc(5681, "3.2", "SHOULD")
@pytest.mark.tcp_req("MUST-19")
def test_fast_retransmit_after_the_third_duplicate_ack(peer, sut):
    """The first segment of a flight is lost and the others draw duplicate
    ACKs: two are not enough (nothing is resent), the third brings the
    missing segment back at once, long before the RTO. ssthresh is then at
    most max(FlightSize / 2, 2 * SMSS) (§3.2 step 2, eq. 4)."""
    s = sending(peer, sut)
    segs = second_flight(s, 4)
    lost = segs[0]
    smss = int(s.stats()["mss"])
    flight_size = s.sent_octets(segs)
    s.dupack(2)
    # Not long: the RTO (Linux: 200 ms and more) runs from our last new ACK.
    s.c.expect_nothing(min(0.05, prompt(s) / 2), resent(lost), what="retransmission on 2 dupacks")
    s.dupack(1)
    third = s.c.sent[-1]
    again = s.c.expect(resent(lost), within=1.0, update=False, what="fast retransmission")
    assert again.time - third.time <= prompt(s), (
        f"retransmitted {(again.time - third.time) * 1000:.0f} ms after the third duplicate ACK"
    )
    assert again.payload == lost.payload
    st = s.stats()
    assert st["ssthresh"] <= max(flight_size // 2, 2 * smss), (
        f"ssthresh {st['ssthresh']} after fast retransmit, FlightSize {flight_size}"
    )


@pytest.mark.rfc(6582, "3.2", "MUST")
@pytest.mark.tcp_req("MUST-19")
def test_newreno_partial_ack_retransmits_the_next_hole_at_once(peer, sut):
    """Two segments of a flight are lost (the first and the fourth). Three
    and more duplicate ACKs: fast retransmit of the first. Our ACK of it
    stops short at the second hole, a partial ACK: the target resends the
    segment there at once, without waiting for three more duplicates
    (RFC 6582 §3.2 step 5). The full ACK, of everything up to "recover"
    (what was sent when recovery began), then ends fast recovery with cwnd
    deflated to at most ssthresh (step 3: min(ssthresh, max(FlightSize,
    SMSS) + SMSS) or ssthresh).

    What we read is cwnd after that ACK, and the same ACK may also count
    for congestion avoidance: with byte counting (RFC 5681 §3.1, RFC 3465
    §2.1) the bytes it acknowledges allow one SMSS per cwnd of them, so
    an ACK of two windows' worth grows cwnd by two SMSS (Linux's reno does
    so, from ssthresh 14,600 to 17,520 for twenty segments). The bound is
    ssthresh plus that allowance, at least one SMSS; a sender that kept
    its inflated window (ssthresh plus a segment per duplicate ACK) is
    still well above it."""
    s = sending(peer, sut)
    segs = second_flight(s, 6)
    hole1, hole2 = segs[0], segs[3]
    smss = int(s.stats()["mss"])
    s.dupack(len(segs) - 2)  # one for each segment that arrived
    first = s.c.expect(
        resent(hole1), within=1.0, update=False, what="fast retransmission of hole 1"
    )
    s.filled(first)
    s.ack(hole2.seq)
    partial = s.c.sent[-1]
    again = s.c.expect(resent(hole2), within=1.0, update=False, what="hole 2 after a partial ACK")
    s.filled(again)
    assert again.time - partial.time <= prompt(s), (
        f"hole 2 resent {(again.time - partial.time) * 1000:.0f} ms after the partial ACK"
    )
    time.sleep(0.05)
    before = [x for x in s.data(segs[0].time) if x.time < first.time]
    recover = max((x.end for x in before), key=s.offset)
    s.ack(recover)
    time.sleep(0.05)
    st = s.stats()
    acked = s.offset(recover) - s.offset(hole2.seq)
    growth = smss * max(1, acked // int(st["ssthresh"]))
    assert st["cwnd"] <= st["ssthresh"] + growth, (
        f"cwnd {st['cwnd']} after a full ACK of {acked} octets, ssthresh {st['ssthresh']}"
    )
