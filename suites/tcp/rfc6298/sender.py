"""The target as the sender: a connection from a virtual host to a
listener of the target, whose data the test asks for with tcp_send and
then watches segment by segment on the wire, acknowledging what it likes
when it likes (the RFC 6298 timers, the RFC 5681 windows).

    s = sending(peer, sut)                  # handshake; the target will send
    s.send(20_000)                          # tcp_send of 20000 pattern octets
    first = s.flight()                      # its first burst, unacknowledged
    s.ack_each(first)                       # one ACK per segment
    rto = s.stats()["rto_ms"]

Offsets are octets of the target's stream (0 = its first data octet);
``acked`` is the offset our ACKs have reached. ``synack`` is the segment
that carried the target's ISN (its SYN, for a connection it opened).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ringzero.net.tcp import OptionItem, Seg, TargetTcp, TcpPeer, seq_add, seq_diff

PORT = 5000
BULK = 256 * 1024  # more than any window the suites open: the target is never short of data


@dataclass
class Sender:
    c: TcpPeer
    tgt: TargetTcp
    conn: int
    synack: Seg
    acked: int = 0

    @property
    def base(self) -> int:
        """The sequence number of the target's first data octet."""
        return seq_add(self.synack.seq, 1)

    def offset(self, seq: int) -> int:
        return seq_diff(seq, self.base)

    def stats(self) -> dict[str, Any]:
        return dict(self.tgt.state(self.conn)["stats"])

    def send(self, size: int, seed: int = 0) -> float:
        """tcp_send of `size` pattern octets; returns the time just before."""
        self.c.mark()
        when = time.time()
        self.tgt.send(self.conn, size=size, seed=seed)
        return when

    def data(self, since: float) -> list[Seg]:
        """The target's data segments captured since a time, in order."""
        return [s for s in self.c.segments(since) if s.length > 0]

    def flight(self, since: float | None = None, within: float = 2.0) -> list[Seg]:
        """The burst of data segments the target sends from `since` (default:
        the last event): waits for the first, then until nothing new has
        come for a moment (short of any retransmission timeout)."""
        start = self.c.last_event if since is None else since
        quiet = 0.06 * self.c.timing.slow
        deadline = time.time() + self.c.timing.wait(within)
        segs: list[Seg] = []
        last_change = time.time()
        while True:
            time.sleep(0.01)
            now = time.time()
            got = self.data(start)
            if len(got) != len(segs):
                segs = got
                last_change = now
            if segs and now - last_change >= quiet:
                break
            if not segs and now >= deadline:
                raise AssertionError(f"{self.c}: no data from the target within {within} s")
        # Later expectations look past this flight; timing counts from its end.
        self.c.mark()
        self.c.last_event = segs[-1].time
        return segs

    def ack(self, upto: int, **kw: Any) -> Seg:
        """An ACK of the stream up to sequence number `upto`."""
        if seq_diff(upto, self.c.rcv_nxt or upto) > 0:
            self.c.rcv_nxt = upto
        self.acked = max(self.acked, self.offset(upto))
        return self.c.send(flags="A", ack=upto, **kw)

    def ack_each(self, segs: list[Seg]) -> None:
        """One ACK per segment, in order (each acknowledging up to its end)."""
        for s in segs:
            self.ack(s.end)

    def next_flight(self, segs: list[Seg]) -> list[Seg]:
        """ACKs each segment of a flight; returns the flight that releases."""
        t = time.time()
        self.ack_each(segs)
        return self.flight(since=t)

    def filled(self, seg: Seg) -> None:
        """`seg` (a retransmission) fills the hole at our left edge: our next
        ACK echoes its TSval, as RFC 7323 §4.3 has a receiver do. Echoing an
        older one would tell the target its retransmission was spurious, and
        Linux then undoes the window reduction (RFC 3522)."""
        if seg.timestamps is not None:
            self.c.ts_recent = seg.timestamps[0]

    def dupack(self, times: int = 1) -> None:
        """Duplicate ACKs: the last acknowledgment again, no data, same window."""
        assert self.c.rcv_nxt is not None
        for _ in range(times):
            self.c.send(flags="A", ack=self.c.rcv_nxt)

    def sent_octets(self, segs: list[Seg]) -> int:
        """How far past the last ACK these segments reach (the flight)."""
        return max(self.offset(s.end) for s in segs) - self.acked


def sending(
    peer: Any,
    sut: Any,
    *,
    port: int = PORT,
    mss: int = 1460,
    window: int = 65535,
    options: list[OptionItem] | None = None,
    handshake_rtt: float = 0.0,
    listen: bool = True,
    host: int = 0,
) -> Sender:
    """A connection the target accepted, ESTABLISHED, with nothing sent yet.
    handshake_rtt: our ACK of its SYN-ACK waits this long after the SYN-ACK
    (the target's first RTT sample). options: of our SYN (default: MSS)."""
    tgt = TargetTcp(sut)
    if listen:
        tgt.listen(port, backlog=64)
    c = TcpPeer(peer, sut, remote_port=port, mss=mss, window=window, host=host)
    c.send_syn(options=options)
    synack = c.expect_syn_ack()
    if handshake_rtt:
        time.sleep(max(0.0, handshake_rtt - (time.time() - synack.time)))
    c.send(flags="A")
    conn = tgt.accept_one(port)
    tgt.wait_state(conn, "ESTABLISHED")
    return Sender(c, tgt, conn, synack)
