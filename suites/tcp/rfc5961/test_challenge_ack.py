"""Blind in-window attacks (RFC 5961): a RST that is in the window but not
exactly at RCV.NXT, and any SYN on a synchronized connection, get a
challenge ACK instead of ending it (a real peer answers that ACK with a
RST at the right sequence number, which does end it); data whose ACK
field is outside SND.UNA - MAX.SND.WND .. SND.NXT is acknowledged and
dropped; and challenge ACKs are rate-limited.

A challenge ACK is <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>: from the scripted
peer's side, seq = c.rcv_nxt and ack = c.snd_nxt."""

from __future__ import annotations

import time

import pytest
from ringzero.net.tcp import MOD, Seg, TcpPeer, seq_add

from ..rfc9293.drive import Driven, drive, established

pytestmark = pytest.mark.requires("tcp")


def expect_challenge(c: TcpPeer, what: str = "challenge ACK") -> Seg:
    assert c.rcv_nxt is not None
    return c.expect(
        lambda s: not (s.syn or s.fin or s.rst),
        has="A",
        seq=c.rcv_nxt,
        ack=c.snd_nxt,
        length=0,
        within=1.0,
        what=what,
    )


def survives(d: Driven, state: str = "ESTABLISHED") -> None:
    """Still in `state` and (when ESTABLISHED) carrying data both ways."""
    assert d.conn is not None
    time.sleep(0.1)
    st = d.tgt.state(d.conn)
    assert st["state"] == state and st["error"] is None, st
    if state == "ESTABLISHED":
        d.c.send_data(b"still here")
        d.c.expect(flags="A", ack=d.c.snd_nxt)
        assert d.tgt.recv_exactly(d.conn, 10) == b"still here"


# ---- RST (§3) --------------------------------------------------------------------------------


@pytest.mark.rfc(5961, "3.2", "MUST")
@pytest.mark.parametrize("where", ["rcv-nxt+1", "middle", "last"])
def test_in_window_rst_not_at_rcv_nxt_draws_a_challenge_ack(peer, sut, where):
    """A RST inside the receive window but not at RCV.NXT (just after it,
    in the middle, at the last octet of the window) does not reset: the
    target sends a challenge ACK and the connection goes on."""
    d = established(peer, sut)
    c = d.c
    assert c.rcv_nxt is not None and c.snd_wnd > 2
    off = {"rcv-nxt+1": 1, "middle": c.snd_wnd // 2, "last": c.snd_wnd - 1}[where]
    c.send(flags="R", seq=seq_add(c.snd_nxt, off), ack=0)
    expect_challenge(c)
    survives(d)


@pytest.mark.rfc(5961, "3.2", "MUST")
@pytest.mark.tcp_req("MUST-12")
def test_rst_at_the_sequence_number_the_challenge_asks_for_resets(peer, sut):
    """After a challenge ACK, a RST whose sequence number is the ACK field of
    that challenge (RCV.NXT, what a real peer would send) resets the
    connection, and the application hears so."""
    d = established(peer, sut)
    c = d.c
    c.send(flags="R", seq=seq_add(c.snd_nxt, 100), ack=0)
    challenge = expect_challenge(c)
    c.send(flags="R", seq=challenge.ack, ack=0)
    assert d.conn is not None
    st = d.tgt.wait_state(d.conn, "CLOSED")
    assert st["error"] == "reset"


@pytest.mark.rfc(5961, "3.2", "MUST")
@pytest.mark.parametrize("state", ["CLOSE-WAIT", "FIN-WAIT-1", "LAST-ACK"])
def test_in_window_rst_draws_a_challenge_ack_in_other_states(peer, sut, state):
    """The same in every synchronized state the connection still has a full
    record in on both targets (Linux keeps FIN-WAIT-2 and TIME-WAIT in a
    reduced form without this check): CLOSE-WAIT, FIN-WAIT-1, LAST-ACK.
    The state does not change."""
    d = drive(peer, sut, state)
    c = d.c
    c.send(flags="R", seq=seq_add(c.snd_nxt, 10), ack=0)
    expect_challenge(c)
    survives(d, state)


# ---- SYN (§4) --------------------------------------------------------------------------------


@pytest.mark.rfc(5961, "4.2", "MUST")
@pytest.mark.parametrize("where", ["rcv-nxt", "in-window", "below-window", "above-window"])
def test_syn_on_an_established_connection_draws_a_challenge_ack(peer, sut, where):
    """A SYN on an established connection, wherever its sequence number
    lies, is answered by a challenge ACK (§4.2: "irrespective of the
    sequence number"); the connection is neither reset nor restarted."""
    d = established(peer, sut)
    c = d.c
    seq = {
        "rcv-nxt": c.snd_nxt,
        "in-window": seq_add(c.snd_nxt, 1000),
        "below-window": seq_add(c.snd_nxt, -100_000),
        "above-window": seq_add(c.snd_nxt, max(c.snd_wnd, 65535) + 100_000),
    }[where]
    c.send(flags="S", seq=seq, ack=0, options=[("mss", 1460)])
    expect_challenge(c)
    survives(d)


# ---- the ACK field (§5) ----------------------------------------------------------------------


@pytest.mark.rfc(5961, "5.2", "MUST")
@pytest.mark.tcp_req("MAY-12")
def test_data_acknowledging_one_octet_never_sent_is_dropped(peer, sut):
    """The target has 1000 octets in flight; our data segment acknowledges
    them and one octet more (SEG.ACK = SND.NXT + 1): the target answers
    with an ACK and drops the segment, its data not delivered. The same
    data with a proper ACK is then taken."""
    d = established(peer, sut)
    c = d.c
    assert d.conn is not None and c.rcv_nxt is not None
    d.tgt.send(d.conn, b"o" * 1000)
    sent = c.expect(lambda s: s.length == 1000, what="the target's data")
    too_new = seq_add(sent.end, 1)
    c.send(flags="PA", ack=too_new, payload=b"injected", advance=False)
    c.expect(flags="A", ack=c.snd_nxt, what="ACK for the ACK of unsent data")
    time.sleep(0.1)
    assert d.tgt.recv(d.conn) == (b"", False), "data with an ACK of unsent data was delivered"
    c.send(flags="PA", payload=b"genuine!")
    c.expect(has="A", ack=c.snd_nxt)
    assert d.tgt.recv_exactly(d.conn, 8) == b"genuine!"


@pytest.mark.rfc(5961, "5.2", "MUST")
@pytest.mark.tcp_req("MAY-12")
def test_data_with_an_ack_older_than_the_window_is_dropped(peer, sut):
    """SEG.ACK below SND.UNA - MAX.SND.WND (here 100000 octets below
    SND.UNA, our window never having been more than 65535) marks a blind
    injection: answered by an ACK, dropped, its data not delivered."""
    d = established(peer, sut)
    c = d.c
    assert d.conn is not None and c.rcv_nxt is not None
    old = seq_add(c.rcv_nxt, -100_000)
    c.send(flags="PA", ack=old, payload=b"injected", advance=False)
    c.expect(flags="A", ack=c.snd_nxt, what="ACK for the old ACK")
    time.sleep(0.1)
    assert d.tgt.recv(d.conn) == (b"", False), "data with a far too old ACK was delivered"
    survives(d)


@pytest.mark.rfc(5961, "5.2", "MUST")
def test_data_with_an_old_ack_inside_the_window_is_taken(peer, sut):
    """An ACK field behind SND.UNA but within MAX.SND.WND of it is merely a
    duplicate: the segment's data is accepted and acknowledged."""
    d = established(peer, sut)
    c = d.c
    assert d.conn is not None
    d.tgt.send(d.conn, size=3000, seed=1)
    c.recv(3000)
    assert c.rcv_nxt is not None
    c.send(flags="PA", ack=seq_add(c.rcv_nxt, -1000), payload=b"late ack")
    c.expect(has="A", ack=c.snd_nxt, what="ACK of the data")
    assert d.tgt.recv_exactly(d.conn, 8) == b"late ack"


# ---- throttling (§7) ---------------------------------------------------------------------


@pytest.mark.rfc(5961, "7", "SHOULD")
def test_challenge_acks_are_rate_limited(peer, sut, record_property):
    """500 in-window RSTs (none at RCV.NXT) as fast as the peer can send
    them: the target answers some with challenge ACKs, at least one and
    fewer than half (RFC 5961 §7; Linux: one per 500 ms per connection,
    tcp_invalid_ratelimit; the unikernel: tcp_challenge_ack_limit a second
    for all connections, 100 by default). The connection survives."""
    d = established(peer, sut)
    c = d.c
    n = 500
    frames = [
        c.segment(flags="R", seq=seq_add(c.snd_nxt, 1 + (i * 97) % 5000), ack=0) for i in range(n)
    ]
    c.mark()
    start = time.time()
    peer.send(*frames)
    acks = c.collect(1.0, has="A", lacks="SFR", ack=c.snd_nxt % MOD, length=0)
    record_property("challenge_acks", f"{len(acks)} for {n} RSTs in {time.time() - start:.2f} s")
    assert acks, "no challenge ACK at all"
    assert len(acks) < n // 2, f"{len(acks)} challenge ACKs for {n} RSTs: not limited"
    survives(d)
