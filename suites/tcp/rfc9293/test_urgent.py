"""Urgent data (RFC 9293 §3.8.5, §3.10.7.4 sixth step). The urgent
pointer marks a point in the stream; the urgent octets stay part of the
stream (the agent reads it inline: what a socket option such as
SO_OOBINLINE gives, as RFC 6093 §5 recommends), so an URG never corrupts
what the application reads, whatever the pointer says. The target sends
urgent data with tcp_send urgent=true (MSG_OOB on Linux)."""

from __future__ import annotations

import time

import pytest

from .drive import established

pytestmark = pytest.mark.requires("tcp")


@pytest.mark.rfc(9293, "3.8.5", "MUST")
@pytest.mark.tcp_req("MUST-30")
def test_urgent_data_stays_in_the_stream(peer, sut):
    """A segment with URG and a pointer to its fourth octet (urgent data:
    the first three), then ordinary data: the application reads every
    octet, in order."""
    d = established(peer, sut)
    c = d.c
    c.send(flags="UPA", payload=b"abcdef", urgptr=3)
    c.send(flags="PA", payload=b"ghi")
    c.expect(flags="A", ack=c.snd_nxt)
    assert d.tgt.recv_exactly(d.conn, 9) == b"abcdefghi"


@pytest.mark.rfc(9293, "3.8.5", "MUST")
@pytest.mark.tcp_req("MUST-31", "MUST-30")
def test_urgent_data_longer_than_a_segment(peer, sut):
    """Urgent data of any length: three segments of 1000 octets all carry
    URG with a pointer to the same point, 2500 octets in; the stream
    arrives whole."""
    d = established(peer, sut)
    c = d.c
    data = bytes((i * 5 + 1) & 0xFF for i in range(3000))
    for i in range(3):
        c.send(flags="UA", payload=data[1000 * i : 1000 * (i + 1)], urgptr=max(0, 2500 - 1000 * i))
    c.expect(flags="A", ack=c.snd_nxt)
    assert d.tgt.recv_exactly(d.conn, 3000) == data


@pytest.mark.rfc(9293, "3.8.5", "MUST")
@pytest.mark.tcp_req("MUST-30")
@pytest.mark.parametrize("urgptr", [0, 0xFFFF], ids=["zero", "far-ahead"])
def test_odd_urgent_pointers_do_no_harm(peer, sut, urgptr):
    """A receiver is robust to invalid urgent pointer values (§3.8.5): an
    urgent pointer of zero, or one far past anything sent, leaves the
    stream intact and the connection working."""
    d = established(peer, sut)
    c = d.c
    c.send(flags="UPA", payload=b"pointer test", urgptr=urgptr)
    c.expect(flags="A", ack=c.snd_nxt)
    c.send(flags="PA", payload=b" and more")
    c.expect(flags="A", ack=c.snd_nxt)
    assert d.tgt.recv_exactly(d.conn, 21) == b"pointer test and more"
    time.sleep(0.1)
    assert d.tgt.state(d.conn)["error"] is None


@pytest.mark.rfc(9293, "3.10.7.4", "MUST")
@pytest.mark.tcp_req("MUST-30")
def test_urg_bit_without_data_is_harmless(peer, sut):
    """An empty segment with URG (the pointer announcing urgent data still
    to come) changes nothing the application reads."""
    d = established(peer, sut)
    c = d.c
    c.send(flags="UA", urgptr=4)
    c.send(flags="PA", payload=b"next")
    c.expect(flags="A", ack=c.snd_nxt)
    assert d.tgt.recv_exactly(d.conn, 4) == b"next"


@pytest.mark.rfc(9293, "3.8.5", "MUST")
@pytest.mark.tcp_req("MUST-62")
def test_sent_urgent_pointer_points_after_the_last_urgent_octet(peer, sut):
    """The application sends "data" then urgent "URG!": the segment that
    carries the urgent octets has URG set and SEQ + urgent pointer equal to
    the sequence number of the octet after the last urgent one."""
    d = established(peer, sut)
    c = d.c
    d.tgt.send(d.conn, b"data")
    c.recv(4)
    d.tgt.agent.request("tcp_send", conn=d.conn, hex=b"URG!".hex(), urgent=True)
    seg = c.expect(lambda s: s.length > 0, has="U", what="data with URG")
    end = (seg.seq + seg.length) & 0xFFFFFFFF
    assert (seg.seq + seg.urgptr) & 0xFFFFFFFF == end, (
        f"urgent pointer {seg.urgptr} from SEQ {seg.seq}: points to {seg.seq + seg.urgptr},"
        f" not to {end}, the octet after the urgent data"
    )
    assert seg.payload.endswith(b"URG!")
