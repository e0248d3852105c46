"""Windows (RFC 9293 §3.8.6): the target sends within the window we offer
and copes with it shrinking; its own receive window closes as the
application leaves data unread and reopens, in worthwhile steps, once it
reads; a zero window we offer is probed, with growing intervals, for as
long as we answer."""

from __future__ import annotations

import itertools
import time

import pytest
from ringzero.net.tcp import Seg, TcpPeer, assert_on_time, seq_add, seq_diff, seq_le

from .drive import PORT, established, fill_window, listening

pytestmark = pytest.mark.requires("tcp")


def connected_with_window(peer, sut, window: int, mss: int = 1000):
    """A connection whose handshake ACK offers `window` octets (our SYN
    offers 65535)."""
    tgt = listening(sut)
    c = TcpPeer(peer, sut, remote_port=PORT, mss=mss)
    c.send_syn()
    c.expect_syn_ack()
    c.rcv_wnd = window
    c.send(flags="A")
    conn = tgt.accept_one(PORT)
    return c, tgt, conn


def beyond(c: TcpPeer, seg: Seg, edge: int) -> bool:
    """The segment carries data past `edge`."""
    return seg.length > 0 and seq_diff(seq_add(seg.seq, seg.length), edge) > 0


@pytest.mark.rfc(9293, "3.8.6", "MUST")
def test_target_sends_no_more_than_the_window_allows(peer, sut):
    """We offer 3000 octets: the target sends at most that much before our
    ACK, and the rest once we acknowledge with the window open."""
    c, tgt, conn = connected_with_window(peer, sut, 3000)
    edge = seq_add(c.rcv_nxt, 3000)
    tgt.send(conn, size=10000, seed=21)
    segs = c.collect(0.5, lambda s: s.length > 0)
    assert segs, "no data within the window"
    over = [str(s) for s in segs if beyond(c, s, edge)]
    assert not over, f"data past the offered window (right edge {edge}): {over}"
    for s in segs:
        c.update(s)
    c.rcv_wnd = 65535
    c.send(flags="A")
    c.recv(10000 - len(c.received))
    assert bytes(c.received) == bytes((i * 7 + 21) & 0xFF for i in range(10000))


@pytest.mark.rfc(9293, "3.1", "MUST")
@pytest.mark.tcp_req("MUST-1")
def test_windows_of_32768_and_more_are_not_negative(peer, sut):
    """The window field is unsigned: offering 32768 (0x8000, negative as a
    signed 16-bit number) lets data flow at once, as much as the window."""
    c, tgt, conn = connected_with_window(peer, sut, 0x8000)
    tgt.send(conn, size=20000, seed=23)
    first = c.expect(lambda s: s.length > 0, within=0.5)
    assert first.length > 0
    c.recv(20000 - len(c.received), within=3.0)


@pytest.mark.rfc(9293, "3.8.6", "MUST")
@pytest.mark.tcp_req("MUST-34", "SHLD-15", "SHLD-16")
def test_a_shrunk_window_gets_no_new_data_and_old_data_is_retransmitted(peer, sut):
    """We offer 8000 octets, the target sends 4000, then we acknowledge
    1000 with a window of 500: the right edge moves left of what was sent.
    The target sends nothing new beyond the old data, retransmits from
    SND.UNA within the window, and once the window opens the whole stream
    arrives."""
    c, tgt, conn = connected_with_window(peer, sut, 8000)
    tgt.send(conn, size=4000, seed=25)
    c.recv(4000, ack=False)
    una = seq_add(c.irs or 0, 1)
    sent_end = c.rcv_nxt
    c.send(flags="A", ack=seq_add(una, 1000), window=500)
    new_una = seq_add(una, 1000)
    tgt.send(conn, size=4000, seed=26)
    segs = c.collect(1.5, lambda s: s.length > 0)
    new = [str(s) for s in segs if beyond(c, s, sent_end)]
    assert not new, f"new data sent into a shrunk window: {new}"
    retx = [s for s in segs if s.seq == new_una]
    assert retx, "no retransmission from SND.UNA: " + ", ".join(str(s) for s in segs)
    assert all(seq_le(s.end, seq_add(new_una, 500)) for s in retx), [str(s) for s in retx]
    # All of the first 4000 came: acknowledged with the window open, the
    # target goes on with the rest.
    c.rcv_wnd = 65535
    c.send(flags="A", ack=sent_end)
    assert c.recv(4000, within=5.0) == bytes((i * 7 + 26) & 0xFF for i in range(4000))
    assert tgt.state(conn)["error"] is None


@pytest.mark.rfc(9293, "3.8.6", "SHOULD")
@pytest.mark.tcp_req("SHLD-14", "MUST-39")
def test_receive_window_closes_while_data_is_unread_and_reopens(peer, sut):
    """Data the application does not read fills the receive buffer: the
    offered window shrinks to zero without its right edge ever moving
    left. Once the application reads, the target sends a window update by
    itself, a worthwhile one (at least one MSS: receiver-side SWS
    avoidance)."""
    d = established(peer, sut)
    c = d.c
    sent = fill_window(c)
    assert c.snd_wnd == 0
    c.mark()
    got = d.tgt.recv_exactly(d.conn, sent, within=10.0)
    assert got == bytes(i & 0xFF for i in range(sent))
    update = c.expect(has="A", window=lambda w: w > 0, within=2.0, what="window update")
    mss = c.mss
    assert update.window >= mss, f"window update of {update.window} (< MSS {mss})"


@pytest.mark.rfc(9293, "3.8.6.2.2", "MUST")
@pytest.mark.tcp_req("MUST-39")
def test_reading_a_little_does_not_open_a_silly_window(peer, sut):
    """With the window zero, the application reads one octet: the target
    must not offer that one octet (a silly window). Probed, it still
    offers zero (or, if anything, at least an MSS)."""
    d = established(peer, sut)
    c = d.c
    fill_window(c)
    time.sleep(0.1)
    data, _eof = d.tgt.recv(d.conn, 1)
    assert len(data) == 1
    time.sleep(0.3)
    c.send(flags="A", payload=b"?", advance=False)
    ack = c.expect(flags="A", ack=c.snd_nxt, what="ACK of the probe")
    assert ack.window == 0 or ack.window >= c.mss, f"offered window {ack.window}"


def is_probe(c: TcpPeer, next_seq: int):
    """A zero-window probe: new data at SND.NXT, or a segment just below it
    (SND.NXT - 1) that makes us answer with our window."""

    def test(s: Seg) -> bool:
        if s.syn or s.fin or s.rst:
            return False
        if s.seq == next_seq and s.length >= 1:
            return True
        return s.seq == seq_add(next_seq, -1) and s.length <= 1

    return test


@pytest.mark.rfc(9293, "3.8.6.1", "MUST")
@pytest.mark.tcp_req("MUST-35", "MUST-36", "MUST-37", "SHLD-29", "SHLD-30")
def test_zero_window_is_probed_with_growing_intervals(peer, sut):
    """We offer a zero window and the application has data to send. The
    target probes the window: the first probe one RTO after the data was
    queued, the intervals between probes growing exponentially (each at
    least half again the one before), and it keeps probing while we
    answer each probe with a zero window. Opening the window lets all the
    data through."""
    c, tgt, conn = connected_with_window(peer, sut, 0)
    next_seq = c.rcv_nxt
    rto = tgt.state(conn)["stats"]["rto_ms"] / 1000
    c.mark()
    queued = time.time()
    tgt.send(conn, size=3000, seed=27)
    times = [queued]
    for _ in range(3):
        probe = c.expect(is_probe(c, next_seq), within=10.0, update=False, since="match")
        assert probe.seq != next_seq or probe.length <= c.mss
        times.append(probe.time)
        c.send(flags="A", window=0)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    if rto:
        assert_on_time(rto, gaps[0], c.timing, "the first zero-window probe")
    for a, b in itertools.pairwise(gaps):
        assert b >= 1.5 * a - c.timing.tolerance(a), f"probe intervals {gaps} do not grow"
    st = tgt.state(conn)
    assert st["state"] == "ESTABLISHED" and st["error"] is None
    c.rcv_wnd = 65535
    c.send(flags="A")
    c.recv(3000, within=5.0)
    assert bytes(c.received[-3000:]) == bytes((i * 7 + 27) & 0xFF for i in range(3000))


@pytest.mark.rfc(9293, "3.8.6.2.1", "MUST")
@pytest.mark.tcp_req("MUST-38")
def test_sender_avoids_silly_window_syndrome(peer, sut):
    """We offered 8000 octets (ACKing them without moving the right edge)
    and acknowledge all of them with a window of 10 octets, and every small
    segment again with 10: the sender must not fill each 10-octet window at
    once (10 octets are less than an MSS, less
    than half the largest window seen, and not all the queued data). Only
    its override timeout (0.1 to 1 s) or probing may send a small segment:
    at most a few in a second."""
    c, tgt, conn = connected_with_window(peer, sut, 8000)
    tgt.send(conn, size=60000, seed=29)
    # Take the 8000 octets, ACKing as they come (a sender in slow start
    # waits for ACKs) but never moving the right edge past the first 8000.
    begin = len(c.received)
    while len(c.received) - begin < 8000:
        c.recv(1, ack=False, within=3.0)
        c.send(flags="A", window=c.window_field(max(0, 8000 - (len(c.received) - begin))))
    c.send(flags="A", window=10)
    deadline = time.monotonic() + 1.0
    small = []
    while time.monotonic() < deadline:
        segs = c.collect(0.05, lambda s: 0 < s.length < c.mss, update=True)
        for s in segs:
            small.append(s)
            c.send(flags="A", window=10)
    assert len(small) <= 10, f"{len(small)} small segments in a second: " + ", ".join(
        str(s) for s in small[:5]
    )


@pytest.mark.rfc(9293, "3.9.1.2", "SHOULD")
@pytest.mark.tcp_req("SHLD-27", "SHLD-28", "MAY-16")
def test_small_writes_held_by_a_zero_window_go_out_as_full_segments(peer, sut):
    """Ten writes of 300 octets while our window is zero, then the window
    opens: the data goes out in full-sized segments (MSS 1000 here), the
    writes' PUSH marks folded together, not one small segment per write."""
    c, tgt, conn = connected_with_window(peer, sut, 0, mss=1000)
    data = bytes((i * 7 + 37) & 0xFF for i in range(3000))
    for i in range(10):
        tgt.send(conn, data[300 * i : 300 * (i + 1)])
    time.sleep(0.1)
    c.rcv_wnd = 65535
    c.send(flags="A")
    assert c.recv(3000, within=3.0) == data
    sizes = [s.length for s in c.matched if s.length]
    assert sizes == [1000, 1000, 1000], f"segment sizes {sizes}"
