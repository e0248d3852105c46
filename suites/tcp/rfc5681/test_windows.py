"""The congestion window as the wire shows it (RFC 5681 §3.1, §4.1, RFC
6928): how much the target sends before any ACK (one segment after a
lost SYN-ACK), how the flight grows per round trip in slow start, what it
sends after a timeout and how ssthresh is held over a second one, and
that a connection which has not sent data for an RTO starts again from
the initial window.

The target sends; we acknowledge segment by segment (sender.Sender) and
count each *flight*: the burst that follows a round of our ACKs."""

from __future__ import annotations

import time

import pytest
from ringzero.net.tcp import Seg, TcpPeer

from ..rfc6298.sender import BULK, Sender, sending

pytestmark = pytest.mark.requires("tcp")


def rfc5681_iw(smss: int) -> int:
    """RFC 5681 §3.1: the upper bound on the initial window, in octets."""
    if smss > 2190:
        return 2 * smss
    if smss > 1095:
        return 3 * smss
    return 4 * smss


def rfc6928_iw(smss: int) -> int:
    """RFC 6928 §2: IW = min(10 * MSS, max(2 * MSS, 14600))."""
    return min(10 * smss, max(2 * smss, 14600))


def no_retransmissions(segs: list[Seg]) -> None:
    seqs = [x.seq for x in segs]
    assert len(set(seqs)) == len(seqs), "a flight with retransmissions: " + ", ".join(
        str(x) for x in segs
    )


@pytest.mark.rfc(5681, "3.1", "MUST")
@pytest.mark.tcp_req("MUST-19")
@pytest.mark.parametrize("mss", [1460, 1000, 536])
def test_initial_window_counted_on_the_wire(peer, sut, mss, record_property):
    """Right after the handshake the target has 256 KB to send and we
    acknowledge nothing: what it sends before its first retransmission is
    its initial window, at most RFC 5681's (3 segments of 1095 to 2190
    octets, 4 below) or RFC 6928's min(10 * MSS, max(2 * MSS, 14600)).
    Which of the two it follows is recorded (initial_window)."""
    s = sending(peer, sut, mss=mss)
    smss = int(s.stats()["mss"])
    assert smss <= mss
    s.send(BULK)
    first = s.flight()
    no_retransmissions(first)
    octets = s.sent_octets(first)
    old, new = rfc5681_iw(smss), rfc6928_iw(smss)
    which = "RFC 5681" if octets <= old else "RFC 6928"
    record_property(
        "initial_window", f"{octets} octets, {len(first)} segments of SMSS {smss} ({which})"
    )
    assert all(x.length <= smss for x in first), [str(x) for x in first]
    assert octets <= max(old, new), (
        f"{octets} octets before any ACK: more than RFC 5681's {old} and RFC 6928's {new} "
        f"(SMSS {smss})"
    )


@pytest.mark.rfc(5681, "3.1", "MUST")
@pytest.mark.tcp_req("MUST-19")
def test_slow_start_doubles_the_flight_every_round_trip(peer, sut):
    """Slow start (cwnd += SMSS per ACK of new data, §3.1): acknowledging
    each segment of a flight, one ACK apiece, releases twice as many
    segments as the flight had, round after round."""
    s = sending(peer, sut)
    s.send(BULK)
    segs = s.flight()
    rounds = [len(segs)]
    for _ in range(2):
        segs = s.next_flight(segs)
        no_retransmissions(segs)
        rounds.append(len(segs))
    assert rounds[1] == 2 * rounds[0] and rounds[2] == 2 * rounds[1], (
        f"segments per round trip: {rounds} (each round should double)"
    )


@pytest.mark.rfc(5681, "3.1", "MUST")
@pytest.mark.tcp_req("MUST-19")
def test_after_a_timeout_one_segment_then_slow_start(peer, sut):
    """A whole flight goes unacknowledged until the RTO: the target then
    sends one segment only (cwnd = LW, one full-sized segment), with
    ssthresh at most max(FlightSize / 2, 2 * SMSS) (eq. 4); our ACK of it
    releases two (slow start again from one segment)."""
    s = sending(peer, sut)
    s.send(BULK)
    second = s.next_flight(s.flight())
    smss = int(s.stats()["mss"])
    flight_size = s.sent_octets(second)
    rto = s.stats()["rto_ms"] / 1000
    again = s.c.expect(
        lambda x: x.length > 0 and x.seq == second[0].seq,
        within=2 * rto + 1,
        update=False,
        what="the retransmission at the timeout",
    )
    quiet = min(0.3, rto / 2)
    time.sleep(max(0.0, again.time + quiet - time.time()))
    more = [x for x in s.data(again.time) if x.time > again.time]
    assert not more, "more than one segment after the timeout: " + ", ".join(str(x) for x in more)
    st = s.stats()
    assert st["cwnd"] <= smss, f"cwnd {st['cwnd']} after a timeout (SMSS {smss})"
    assert st["ssthresh"] <= max(flight_size // 2, 2 * smss), (
        f"ssthresh {st['ssthresh']} for a FlightSize of {flight_size}"
    )
    t = time.time()
    s.ack(again.end)
    after = s.flight(since=t)
    assert len(after) == 2, "after the ACK of the retransmission: " + ", ".join(
        str(x) for x in after
    )


@pytest.mark.rfc(5681, "3.1", "MUST")
@pytest.mark.tcp_req("MUST-19")
def test_ssthresh_is_held_on_a_second_timeout(peer, sut):
    """The same segment times out twice: ssthresh is set at the first
    timeout and held at the second (§3.1: "if the given segment has
    already been retransmitted by way of the retransmission timer at least
    once, the value of ssthresh is held constant"), while cwnd stays at
    one segment."""
    s = sending(peer, sut)
    s.send(BULK)
    second = s.next_flight(s.flight())
    smss = int(s.stats()["mss"])
    rto = s.stats()["rto_ms"] / 1000
    lost = second[0]
    first = s.c.expect(
        lambda x: x.length > 0 and x.seq == lost.seq, within=2 * rto + 1, update=False
    )
    time.sleep(0.05)
    after_one = s.stats()
    s.c.expect(
        lambda x: x.length > 0 and x.seq == lost.seq,
        within=4 * rto + 1,
        since=first.time + 0.001,
        update=False,
        what="the second retransmission",
    )
    time.sleep(0.05)
    after_two = s.stats()
    assert after_two["ssthresh"] == after_one["ssthresh"], (
        f"ssthresh {after_one['ssthresh']} after one timeout, {after_two['ssthresh']} after two"
    )
    assert after_two["cwnd"] <= smss


def grown(s: Sender, segments: int = 40) -> int:
    """Sends `segments` full segments, acknowledged one by one as they come
    (cwnd grows past the initial window); returns the initial window seen."""
    smss = int(s.stats()["mss"])
    total = segments * smss
    s.send(total)
    segs = s.flight()
    iw = s.sent_octets(segs)
    while True:
        t = time.time()
        s.ack_each(segs)
        if s.acked >= total:
            return iw
        segs = s.flight(since=t)


def idle_s(st: dict) -> float:
    """How long the restart tests stay idle: four RTOs and a half second.
    §4.1 asks for the restart after one RTO; the Linux reference instead
    halves cwnd for each RTO of idle time (tcp_cwnd_restart, after RFC
    2861) down to the initial window, which takes three halvings from the
    50 segments these tests grow to. Just over one RTO would test Linux's
    decay rate, not the requirement."""
    return 4 * st["rto_ms"] / 1000 + 0.5


@pytest.mark.rfc(5681, "4.1", "SHOULD")
@pytest.mark.tcp_req("MUST-19")
def test_restart_after_idle_starts_from_the_initial_window(peer, sut):
    """The window grows over a transfer of 40 segments, all acknowledged;
    then nothing is sent for longer than an RTO (four: see idle_s). The next data goes out
    as from a fresh start: a first flight no larger than the initial
    window (cwnd = min(IW, cwnd) after the idle time)."""
    s = sending(peer, sut)
    iw = grown(s)
    st = s.stats()
    assert st["cwnd"] > iw, f"cwnd {st['cwnd']} did not grow past the initial window {iw}"
    time.sleep(idle_s(st))
    s.send(BULK)
    octets = s.sent_octets(s.flight())
    assert octets <= iw, (
        f"{octets} octets after the idle time, initial window {iw} (cwnd was {st['cwnd']})"
    )


@pytest.mark.rfc(5681, "4.1", "SHOULD")
@pytest.mark.tcp_req("MUST-19")
def test_acks_sent_while_idle_do_not_count_as_sending_data(peer, sut):
    """As above, but during the idle time we send the target a little data
    every 250 ms, which it acknowledges. §4.1 asks for the restart when the
    TCP "has not sent data" for an RTO: ACKs are not data, so the next
    flight is still no larger than the initial window."""
    s = sending(peer, sut)
    iw = grown(s)
    st = s.stats()
    assert st["cwnd"] > iw, f"cwnd {st['cwnd']} did not grow past the initial window {iw}"
    until = time.time() + idle_s(st)
    while time.time() < until:
        s.c.send_data(b"keep talking")
        time.sleep(0.25)
    s.c.expect(flags="A", ack=s.c.snd_nxt, what="ACK of our data")
    s.send(BULK)
    octets = s.sent_octets(s.flight())
    assert octets <= iw, (
        f"{octets} octets after an RTO without sending data (only ACKs), "
        f"initial window {iw} (cwnd was {st['cwnd']})"
    )


@pytest.mark.rfc(5681, "3.1", "MUST")
@pytest.mark.tcp_req("MUST-19")
def test_initial_window_is_one_segment_after_the_syn_ack_was_lost(peer, sut, tgt):
    """Our SYN's SYN-ACK is "lost" twice (we answer its second
    retransmission): after a SYN or SYN-ACK was lost, the initial window
    MUST be one segment (§3.1). The target sends one segment and waits.
    (Linux applies this from the second loss on, hence two.)"""
    tgt.listen(5000)
    c = TcpPeer(peer, sut, remote_port=5000)
    c.send_syn()
    synack = c.expect_syn_ack()
    for gap in (1.0, 2.0):
        c.expect(flags="SA", within=gap + 1, update=False, what=f"SYN-ACK again after {gap} s")
    c.send(flags="A")
    conn = tgt.accept_one(5000)
    s = Sender(c, tgt, conn, synack)
    smss = int(s.stats()["mss"])
    s.send(BULK)
    first = s.flight()
    octets = s.sent_octets(first)
    assert octets <= smss, (
        f"{octets} octets in {len(first)} segments after a lost SYN-ACK "
        f"(one segment of at most {smss} allowed)"
    )
