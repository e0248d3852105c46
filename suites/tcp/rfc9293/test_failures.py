"""When things go wrong (RFC 9293 §3.8.3, §3.8.4, §3.9.2.2): ICMP errors
about a connection (soft ones never abort it, Source Quench is ignored,
a hard one ends an attempt to connect), keep-alives on an idle connection,
and the user timeout (R2) that gives up on unacknowledged data."""

from __future__ import annotations

import time

import pytest
from ringzero.net.tcp import (
    TargetTcp,
    TcpPeer,
    Timing,
    assert_on_time,
    build_segment,
    seq_add,
)
from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import Ether

from .drive import established

pytestmark = pytest.mark.requires("tcp")


def icmp_about(c: TcpPeer, sut, icmp_type: int, code: int, seq: int) -> Ether:
    """An ICMP error from our host to the target quoting a segment the
    target sent on the connection (IP header and the TCP header's first 8
    octets: ports and sequence number)."""
    assert c.remote_port is not None
    quoted_tcp = build_segment(sut.ip, c.ip, c.remote_port, c.port, seq=seq, flags="A")[:8]
    quoted = bytes(IP(src=sut.ip, dst=c.ip, proto=6, len=40, flags="DF"))[:20] + quoted_tcp
    return (
        Ether(src=c.mac, dst=sut.mac)
        / IP(src=c.ip, dst=sut.ip)
        / ICMP(type=icmp_type, code=code)
        / quoted
    )


def still_works(d) -> None:
    st = d.tgt.state(d.conn)
    assert st["state"] == "ESTABLISHED" and st["error"] is None, st
    d.c.send_data(b"ok?")
    d.c.expect(flags="A", ack=d.c.snd_nxt)
    assert d.tgt.recv_exactly(d.conn, 3) == b"ok?"
    d.tgt.send(d.conn, b"ok!")
    assert d.c.recv(3) == b"ok!"


@pytest.mark.rfc(9293, "3.9.2.2", "MUST")
@pytest.mark.tcp_req("MUST-56", "MUST-54")
@pytest.mark.parametrize(
    ("icmp_type", "code"),
    [(3, 0), (3, 1), (3, 5), (11, 0), (11, 1), (12, 0)],
    ids=[
        "net-unreachable",
        "host-unreachable",
        "source-route-failed",
        "ttl",
        "reassembly",
        "param",
    ],
)
def test_soft_icmp_errors_do_not_abort_a_connection(peer, sut, icmp_type, code):
    """Destination Unreachable codes 0, 1, 5, Time Exceeded and Parameter
    Problem are soft errors: the connection stays up and working."""
    d = established(peer, sut)
    assert d.c.rcv_nxt is not None
    peer.send(icmp_about(d.c, sut, icmp_type, code, d.c.rcv_nxt))
    time.sleep(0.2)
    still_works(d)


@pytest.mark.rfc(9293, "3.9.2.2", "MUST")
@pytest.mark.tcp_req("MUST-55")
def test_source_quench_is_ignored(peer, sut):
    """ICMP Source Quench is discarded: nothing about the connection changes."""
    d = established(peer, sut)
    assert d.c.rcv_nxt is not None
    for _ in range(3):
        peer.send(icmp_about(d.c, sut, 4, 0, d.c.rcv_nxt))
    time.sleep(0.2)
    still_works(d)


@pytest.mark.rfc(9293, "3.9.2.2", "SHOULD")
@pytest.mark.tcp_req("SHLD-26", "MUST-54")
def test_hard_icmp_error_aborts_an_attempt_to_connect(peer, sut):
    """A Port Unreachable (a hard error) about the target's SYN reaches the
    connection it names: the attempt is abandoned at once (no wait for SYN
    retransmissions), and the application is told. (In synchronized
    states the RFC notes that many stacks do not abort; not tested.)"""
    tgt = TargetTcp(sut)
    c = TcpPeer(peer, sut)
    conn = tgt.connect(c.ip, c.port)
    syn = c.expect_syn()
    peer.send(icmp_about(c, sut, 3, 3, syn.seq))
    st = tgt.wait(conn, lambda s: s["error"] is not None, within=0.8, what="an error")
    assert st["state"] == "CLOSED"


@pytest.mark.rfc(9293, "3.9.2.2", "MUST")
@pytest.mark.tcp_req("MUST-54")
def test_icmp_error_for_another_connection_leaves_this_one_alone(peer, sut):
    """ICMP errors go to the connection the quoted header names: a Port
    Unreachable quoting other ports does not touch this connection."""
    d = established(peer, sut)
    assert d.c.rcv_nxt is not None
    other = TcpPeer(peer, sut, remote_port=d.c.remote_port)
    other.port = d.c.port % 65535 + 1
    peer.send(icmp_about(other, sut, 3, 3, d.c.rcv_nxt))
    time.sleep(0.2)
    still_works(d)


# ---- keep-alives -------------------------------------------------------------------------

KEEPALIVE = {
    "keepalive": True,
    "keepalive_idle_ms": 1000,
    "keepalive_interval_ms": 1000,
    "keepalive_count": 3,
}


def keepalive_probe(c: TcpPeer):
    """SEG.SEQ = SND.NXT - 1, no data (or one garbage octet, MAY-6)."""
    assert c.rcv_nxt is not None
    want = seq_add(c.rcv_nxt, -1)
    return lambda s: s.seq == want and s.length <= 1 and not (s.syn or s.fin or s.rst)


@pytest.mark.rfc(9293, "3.8.4", "MUST")
@pytest.mark.tcp_req("MUST-24", "MUST-27", "SHLD-12", "MAY-5")
def test_keepalive_probes_an_idle_connection(peer, sut):
    """Keep-alives switched on for the connection with an idle time of 1 s:
    after 1 s without traffic a probe comes, empty (SEG.SEQ = SND.NXT-1);
    answered, the connection stays, and the next probe comes after the
    connection has been idle again."""
    d = established(peer, sut)
    c = d.c
    d.tgt.set(d.conn, **KEEPALIVE)
    c.mark()
    probe = c.expect(keepalive_probe(c), after=1.0, update=False, what="keep-alive")
    assert probe.length == 0, f"keep-alive with data: {probe}"
    c.send(flags="A")
    c.expect(keepalive_probe(c), after=1.0, update=False, what="second keep-alive")
    c.send(flags="A")
    assert d.tgt.state(d.conn)["error"] is None


@pytest.mark.rfc(9293, "3.8.4", "MUST")
@pytest.mark.tcp_req("MUST-29")
def test_one_unanswered_keepalive_does_not_kill_the_connection(peer, sut):
    """ACK segments are not reliable: one keep-alive left unanswered must
    not end the connection. The next probe comes; answered, all is well."""
    d = established(peer, sut)
    c = d.c
    d.tgt.set(d.conn, **KEEPALIVE)
    c.mark()
    c.expect(keepalive_probe(c), within=2.0, update=False, what="keep-alive")
    c.expect(keepalive_probe(c), within=2.0, update=False, since="match", what="next one")
    c.send(flags="A")
    time.sleep(0.3)
    still_works(d)


@pytest.mark.rfc(9293, "3.8.4", "MUST")
@pytest.mark.tcp_req("MUST-26")
def test_no_keepalive_while_data_flows(peer, sut):
    """A keep-alive goes out only after the idle time with nothing
    received: data arriving every 0.4 s (idle time 1 s) keeps them away."""
    d = established(peer, sut)
    c = d.c
    d.tgt.set(d.conn, **KEEPALIVE)
    c.mark()
    start = time.time()
    for i in range(6):
        c.send_data(b"tick %d" % i)
        time.sleep(0.4)
    assert c.rcv_nxt is not None
    probe_seq = seq_add(c.rcv_nxt, -1)
    early = [s for s in c.segments(start) if s.seq == probe_seq and s.length <= 1]
    assert not early, f"keep-alive while data was flowing: {early[0]}"


# ---- the user timeout ---------------------------------------------------------------------


@pytest.mark.rfc(9293, "3.8.3", "MUST")
@pytest.mark.tcp_req("MUST-20", "MUST-21")
def test_user_timeout_gives_up_on_unacknowledged_data(peer, sut):
    """With the connection's R2 set to 1.5 s (the user timeout), data that
    stays unacknowledged is retransmitted, then the connection is closed
    about 1.5 s after the data was first sent, the application told
    ("timeout"), and nothing more is sent."""
    d = established(peer, sut)
    c = d.c
    d.tgt.set(d.conn, user_timeout_ms=1500)
    d.tgt.send(d.conn, b"nobody acks this")
    first = c.expect(lambda s: s.length > 0, update=False)
    st = d.tgt.wait(d.conn, lambda s: s["error"] is not None, within=4.0, what="the timeout")
    gave_up = time.time()
    assert st["error"] == "timeout" and st["state"] == "CLOSED"
    retx = [s for s in c.segments(first.time) if s.length > 0]
    assert len(retx) >= 2, "no retransmission before giving up"
    last = retx[-1].time
    assert last - first.time < 1.5 + c.timing.tolerance(1.5)
    # Seen through the agent, polled: a wider absolute tolerance.
    assert_on_time(1.5, gave_up - first.time, Timing(0.3, 0.25), "the end of the connection")
    c.mark()
    c.expect_nothing(1.0, lambda s: s.length > 0)
