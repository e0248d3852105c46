"""Timestamps (RFC 7323 §3 to §5): the target echoes our TSval in TSecr,
the TSval of the segment that last advanced its window's left edge (not
that of an out-of-order one); once agreed they are on every segment it
sends, never when one SYN lacked them; its clock ticks between once a
millisecond and once a second; and PAWS drops a segment whose TSval is
older than the last one in order (an RST excepted)."""

from __future__ import annotations

import time

import pytest
from ringzero.net.tcp import MOD, TargetTcp, TcpPeer, seq_add, seq_diff

pytestmark = pytest.mark.requires("tcp")

PORT = 5000


def ts_opts(val: int, ecr: int) -> list:
    return ["nop", "nop", ("ts", val, ecr)]


def with_timestamps(peer, sut) -> tuple[TcpPeer, TargetTcp, int, int]:
    """A connection whose SYNs both carried Timestamps; returns the peer,
    the target, the connection and our SYN's TSval. Tests that choose
    their TSvals start from c.tsval(), where the handshake left off."""
    tgt = TargetTcp(sut)
    tgt.listen(PORT)
    c = TcpPeer(peer, sut, remote_port=PORT)
    tsval = c.tsval()
    synack = c.connect(options=[("mss", 1460), *ts_opts(tsval, 0)])
    assert synack.timestamps is not None, f"no Timestamps in the SYN-ACK: {synack}"
    assert c.timestamps
    conn = tgt.accept_one(PORT)
    tgt.wait_state(conn, "ESTABLISHED")
    return c, tgt, conn, tsval


@pytest.mark.rfc(7323, "3.2", "MUST")
def test_timestamps_are_echoed(peer, sut):
    """The SYN-ACK echoes our SYN's TSval; the ACK of our data echoes that
    segment's TSval; the target's own data echoes our latest."""
    c, tgt, conn, syn_tsval = with_timestamps(peer, sut)
    synack = c.matched[0]
    assert synack.timestamps is not None and synack.timestamps[1] == syn_tsval, str(synack)
    t = c.tsval()
    data = c.send(flags="PA", payload=b"echo me", options=ts_opts(t + 50, c.ts_recent))
    ack = c.expect(flags="A", ack=data.end, options=["ts"])
    assert ack.timestamps is not None and ack.timestamps[1] == t + 50, str(ack)
    c.send(flags="A", options=ts_opts(t + 90, c.ts_recent))
    time.sleep(0.05)
    tgt.send(conn, b"and me")
    seg = c.expect(lambda s: s.length > 0, options=["ts"])
    assert seg.timestamps is not None and seg.timestamps[1] == t + 90, str(seg)


@pytest.mark.rfc(7323, "3.2", "MUST")
def test_every_segment_carries_timestamps_once_agreed(peer, sut):
    """From the SYN-ACK on, every segment the target sends on the
    connection carries a Timestamps option: ACKs, data, its FIN and the
    ACK of ours (an RST excepted, where it is only a SHOULD)."""
    c, tgt, conn, _ = with_timestamps(peer, sut)
    c.send_data(b"a" * 3000, segment_size=1000)
    c.expect(flags="A", ack=c.snd_nxt)
    tgt.send(conn, size=2000, seed=2)
    c.recv(2000)
    tgt.shutdown(conn)
    c.expect(has="F")
    c.close()
    segs = [s for s in c.segments() if not s.rst]
    assert len(segs) >= 5
    bare = [str(s) for s in segs if s.timestamps is None]
    assert not bare, f"segments without Timestamps: {bare}"


@pytest.mark.rfc(7323, "3.2", "MUST")
def test_no_timestamps_when_our_syn_ack_declines_them(peer, sut, tgt):
    """The target connects offering Timestamps; our SYN-ACK has none. Its
    later segments (the handshake's ACK, data) carry none either."""
    c = TcpPeer(peer, sut)
    conn = tgt.connect(c.ip, c.port)
    syn = c.expect_syn()
    if syn.timestamps is None:
        pytest.skip(f"the target's SYN offers no Timestamps: {syn}")
    c.send_syn_ack(options=[("mss", 1460)])
    c.expect(has="A", lacks="S", ack=c.snd_nxt, what="ACK of our SYN-ACK")
    tgt.wait_state(conn, "ESTABLISHED")
    tgt.send(conn, b"no timestamps please")
    c.recv(20)
    after = [str(s) for s in c.segments(syn.time) if not s.syn and s.timestamps is not None]
    assert not after, f"Timestamps after a SYN-ACK without them: {after}"


@pytest.mark.rfc(7323, "4.3", "MUST")
def test_tsecr_is_from_the_left_edge_not_from_an_out_of_order_segment(peer, sut):
    """Segment A in order (TSval T+10), then C out of order (T+20): the
    duplicate ACK for C echoes A's TSval, not C's (C does not cover the
    left edge, §4.3 (2)). Then B fills the hole (T+30): its ACK echoes
    B's TSval, the segment that advanced the left edge."""
    c, tgt, conn, _ = with_timestamps(peer, sut)
    t = c.tsval()
    a = c.send(flags="PA", payload=b"A" * 500, options=ts_opts(t + 10, c.ts_recent))
    c.expect(flags="A", ack=a.end)
    c.send(flags="PA", seq=seq_add(a.end, 500), payload=b"C" * 500, options=ts_opts(t + 20, 0))
    dup = c.expect(flags="A", ack=a.end, options=["ts"], what="duplicate ACK for C")
    assert dup.timestamps is not None and dup.timestamps[1] == t + 10, (
        f"the duplicate ACK echoes {dup.timestamps}, A's TSval was {t + 10}, C's {t + 20}"
    )
    b = c.send(flags="PA", seq=a.end, payload=b"B" * 500, options=ts_opts(t + 30, 0))
    ack = c.expect(flags="A", ack=seq_add(b.end, 500), options=["ts"], what="ACK of all")
    assert ack.timestamps is not None and ack.timestamps[1] == t + 30, (
        f"the ACK after the hole filled echoes {ack.timestamps}, B's TSval was {t + 30}"
    )
    assert tgt.recv_exactly(conn, 1500) == b"A" * 500 + b"B" * 500 + b"C" * 500


@pytest.mark.rfc(7323, "5.4", "MUST")
def test_timestamp_clock_ticks_between_once_a_millisecond_and_once_a_second(peer, sut):
    """The target's TSval grows with time, by 1 to 1000 ticks a second
    (§5.4: 1 ms to 1 s per tick), and never goes back."""
    c, _, _, _ = with_timestamps(peer, sut)
    first = c.matched[0]
    time.sleep(1.0)
    c.send_data(b"tick")
    later = c.expect(flags="A", ack=c.snd_nxt, options=["ts"])
    assert first.timestamps is not None and later.timestamps is not None
    ticks = seq_diff(later.timestamps[0], first.timestamps[0])
    elapsed = later.time - first.time
    slack = c.timing.tolerance(elapsed)
    assert ticks >= 1, f"TSval went from {first.timestamps[0]} to {later.timestamps[0]}"
    assert ticks <= 1000 * (elapsed + slack) + 1, (
        f"{ticks} ticks in {elapsed:.3f} s: faster than one per millisecond"
    )


@pytest.mark.rfc(7323, "5.3", "MUST")
def test_paws_drops_a_segment_with_an_old_timestamp(peer, sut):
    """After a segment in order with TSval T, data whose TSval is well
    before T (an old duplicate, §5.3 R1) is not acceptable: the target
    acknowledges RCV.NXT and drops it. The same octets with a current
    TSval are then taken."""
    c, tgt, conn, _ = with_timestamps(peer, sut)
    t = c.tsval()
    c.send(flags="PA", payload=b"first", options=ts_opts(t + 1000, c.ts_recent))
    c.expect(flags="A", ack=c.snd_nxt)
    old = (t + 1000 - 100_000) % MOD
    c.send(flags="PA", payload=b"stale", options=ts_opts(old, c.ts_recent), advance=False)
    c.expect(flags="A", ack=c.snd_nxt, what="ACK of RCV.NXT for the old segment")
    time.sleep(0.1)
    assert tgt.recv_exactly(conn, 5) == b"first"
    assert tgt.recv(conn) == (b"", False), "the segment with the old TSval was delivered"
    c.send(flags="PA", payload=b"fresh", options=ts_opts(t + 1200, c.ts_recent))
    c.expect(flags="A", ack=c.snd_nxt)
    assert tgt.recv_exactly(conn, 5) == b"fresh"


@pytest.mark.rfc(7323, "5.3", "MUST")
def test_paws_does_not_apply_to_a_reset(peer, sut):
    """A RST at RCV.NXT whose TSval is old still resets the connection:
    PAWS tests only segments without RST (§5.3 R1)."""
    c, tgt, conn, _ = with_timestamps(peer, sut)
    t = c.tsval()
    c.send(flags="PA", payload=b"first", options=ts_opts(t + 1000, c.ts_recent))
    c.expect(flags="A", ack=c.snd_nxt)
    old = (t + 1000 - 100_000) % MOD
    c.send(flags="R", ack=0, options=ts_opts(old, c.ts_recent))
    st = tgt.wait_state(conn, "CLOSED")
    assert st["error"] == "reset"


@pytest.mark.rfc(7323, "3.2", "MUST")
def test_timestamps_on_a_connection_that_did_not_agree_are_ignored(peer, sut, tgt):
    """Our SYN had no Timestamps; our data then carries one anyway. The
    option is ignored: the data is delivered, and the target's ACK carries
    no Timestamps."""
    tgt.listen(PORT)
    c = TcpPeer(peer, sut, remote_port=PORT)
    c.connect(options=[("mss", 1460)])
    conn = tgt.accept_one(PORT)
    c.send(flags="PA", payload=b"stray option", options=ts_opts(12345, 999))
    ack = c.expect(flags="A", ack=c.snd_nxt)
    assert ack.timestamps is None, f"Timestamps in reply to a stray one: {ack}"
    assert tgt.recv_exactly(conn, 12) == b"stray option"


@pytest.mark.rfc(7323, "3.2", "MUST")
def test_a_segment_without_timestamps_does_not_end_the_connection(peer, sut, record_property):
    """Timestamps agreed, then a data segment without them: the target
    SHOULD drop it silently, and MUST NOT abort the connection for it (§3.2).
    The connection goes on; the same data with Timestamps is delivered once.
    Whether the bare segment was taken is recorded (bare_segment)."""
    c, tgt, conn, _ = with_timestamps(peer, sut)
    c.send(flags="PA", payload=b"bare", options=[], advance=False)
    time.sleep(0.2)
    taken, _eof = tgt.recv(conn)
    record_property("bare_segment", "delivered" if taken else "dropped")
    assert not [s for s in c.segments() if s.rst], "the connection was reset"
    if not taken:
        c.send(flags="PA", payload=b"bare")
        c.expect(flags="A", ack=c.snd_nxt)
        taken = tgt.recv_exactly(conn, 4)
    assert taken == b"bare"
    st = tgt.state(conn)
    assert st["state"] == "ESTABLISHED" and st["error"] is None, st


@pytest.mark.rfc(7323, "4.3", "MUST")
def test_an_ack_echoes_the_first_segment_it_acknowledges(peer, sut):
    """Two segments back to back (TSval T+10, then T+20): whether the target
    acknowledges them together (a delayed ACK) or one by one, each ACK
    echoes the TSval of the earliest segment it is the first to
    acknowledge (§4.3 (2): the second segment is past Last.ACK.sent when it
    arrives, unless the first was ACKed alone)."""
    c, _, _, _ = with_timestamps(peer, sut)
    t = c.tsval()
    a = c.send(flags="A", payload=b"1" * 500, options=ts_opts(t + 10, c.ts_recent))
    b = c.send(flags="PA", payload=b"2" * 500, options=ts_opts(t + 20, c.ts_recent))
    c.expect(flags="A", ack=b.end, options=["ts"], what="ACK of both")
    acks = [s for s in c.segments(a.time) if s.ack in (a.end, b.end) and s.length == 0]
    first_of = {a.end: t + 10, b.end: t + 10}
    if any(s.ack == a.end for s in acks):
        first_of[b.end] = t + 20  # the first was acknowledged on its own
    wrong = [str(s) for s in acks if s.timestamps is None or s.timestamps[1] != first_of[s.ack]]
    assert not wrong, f"ACKs echoing the wrong TSval (A: {t + 10}, B: {t + 20}): {wrong}"


@pytest.mark.rfc(7323, "3.2", "SHOULD")
def test_the_rst_of_an_abort_carries_timestamps(peer, sut):
    """Timestamps agreed; the application aborts: the RST that goes out
    carries a Timestamps option too (§3.2: SHOULD on an RST)."""
    c, tgt, conn, _ = with_timestamps(peer, sut)
    tgt.abort(conn)
    rst = c.expect(has="R", what="the RST of the abort")
    ts = rst.timestamps
    assert ts is not None, f"an RST without Timestamps: {rst}"
