"""Putting a connection between a virtual host (the scripted peer) and the
target into a given RFC 9293 state, the target side driven by its agent.

    s = drive(peer, sut, "CLOSING")
    s.c        # the TcpPeer, its sequence numbers in step with the target's
    s.conn     # the agent's connection id (None in SYN-RECEIVED: not accepted yet)

The target is the passive side (a listener on PORT, hold mode). The states
after the target's own FIN are reached with tcp_close (close(): the kernel
carries the connection on; tcp_state still reports it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ringzero.net.tcp import MOD, Seg, TargetTcp, TcpPeer, seq_add

PORT = 5000
SYNCHRONIZED = (
    "ESTABLISHED",
    "FIN-WAIT-1",
    "FIN-WAIT-2",
    "CLOSE-WAIT",
    "CLOSING",
    "LAST-ACK",
    "TIME-WAIT",
)
# Out-of-window ACKs may be rate-limited (RFC 5961 §7; Linux: one per
# 500 ms per connection for segments without data); tests that need two
# such ACKs on one connection leave this much between them.
OOW_ACK_SPACING = 0.6
BLOCK = bytes(range(256)) * 300  # fill_window's data: octet i of the stream is i & 0xff


@dataclass
class Driven:
    c: TcpPeer
    tgt: TargetTcp
    conn: int | None
    state: str
    target_fin: Seg | None = None


def listening(sut: Any, port: int = PORT, **kw: Any) -> TargetTcp:
    tgt = TargetTcp(sut)
    tgt.listen(port, **kw)
    return tgt


def established(
    peer: Any, sut: Any, *, port: int = PORT, listen: bool = True, **peer_kw: Any
) -> Driven:
    """Handshake from a virtual host to a listener of the target."""
    tgt = listening(sut, port) if listen else TargetTcp(sut)
    c = TcpPeer(peer, sut, remote_port=port, **peer_kw)
    c.connect()
    conn = tgt.accept_one(port)
    tgt.wait_state(conn, "ESTABLISHED")
    return Driven(c, tgt, conn, "ESTABLISHED")


def drive(peer: Any, sut: Any, state: str, *, port: int = PORT, **peer_kw: Any) -> Driven:
    """A connection in `state` (any of SYN-RECEIVED and the synchronized
    states), checked through tcp_state where the agent has an id for it."""
    if state == "SYN-RECEIVED":
        tgt = listening(sut, port)
        c = TcpPeer(peer, sut, remote_port=port, **peer_kw)
        c.send_syn()
        c.expect_syn_ack()
        return Driven(c, tgt, None, state)
    d = established(peer, sut, port=port, **peer_kw)
    c, tgt, conn = d.c, d.tgt, d.conn
    assert conn is not None
    if state == "ESTABLISHED":
        return d
    if state in ("CLOSE-WAIT", "LAST-ACK"):
        c.send(flags="FA")
        c.expect(flags="A", ack=c.snd_nxt, what="ACK of our FIN")
        tgt.wait_state(conn, "CLOSE-WAIT")
        if state == "LAST-ACK":
            tgt.close(conn)
            d.target_fin = c.expect(has="FA", what="the target's FIN")
            tgt.wait_state(conn, "LAST-ACK")
        d.state = state
        return d
    # The target closes first.
    tgt.close(conn)
    fin = c.expect(has="FA", what="the target's FIN")
    d.target_fin = fin
    if state == "FIN-WAIT-1":
        tgt.wait_state(conn, "FIN-WAIT-1")
    elif state == "CLOSING":
        # Our FIN crosses theirs: it does not acknowledge it.
        c.send(flags="FA", ack=fin.seq)
        c.expect(has="A", lacks="F", ack=c.snd_nxt, what="ACK of our FIN")
        tgt.wait_state(conn, "CLOSING")
    else:
        c.send(flags="A")
        tgt.wait_state(conn, "FIN-WAIT-2")
        if state == "TIME-WAIT":
            c.send(flags="FA")
            c.expect(flags="A", ack=c.snd_nxt, what="ACK of our FIN")
            tgt.wait_state(conn, "TIME-WAIT")
    d.state = state
    return d


def beyond_window(c: TcpPeer) -> int:
    """A sequence number well past the right edge of the target's receive
    window (its RCV.NXT is our SND.NXT)."""
    return seq_add(c.snd_nxt, max(c.snd_wnd, 65535) + 100_000) % MOD


def still_in(d: Driven, state: str, settle: float = 0.2) -> None:
    """The target's connection is (still) in `state` a moment later."""
    time.sleep(settle)
    if d.conn is not None:
        got = d.tgt.state(d.conn)["state"]
        assert got == state, f"the connection left {state}: now {got}"


def fill_window(c: TcpPeer, limit: int = 16 << 20) -> int:
    """Sends in-window data (the target holds it unread) until the target
    advertises a zero window; returns the octets sent. The right edge of
    the target's window (SND.UNA + SND.WND) is checked never to move left
    (RFC 9293 SHLD-14)."""
    sent = 0
    edge = c.snd_right_edge
    size = c.remote_mss or c.mss
    while c.snd_wnd > 0:
        if sent > limit:
            raise AssertionError(f"the window did not close after {sent} octets")
        usable = (c.snd_right_edge - c.snd_nxt) % MOD
        if usable == 0 or usable > 1 << 30:
            usable = 0
        while usable > 0:
            n = min(size, usable)
            c.send(flags="A", payload=BLOCK[sent % 256 : sent % 256 + n])
            sent += n
            usable -= n
        c.expect(has="A", ack=c.snd_nxt, within=2.0, what="ACK of the data")
        # Window updates that follow (the agent reading into its buffer).
        c.collect(0.05, since="match", update=True)
        new_edge = c.snd_right_edge
        assert (new_edge - edge) % MOD < 1 << 31, (
            f"the target moved the right edge of its window left, from {edge} to {new_edge}"
        )
        edge = new_edge
    return sent
