"""Reset processing (RFC 9293 §3.5.3, §3.10.7.4 second step): a RST whose
sequence number is RCV.NXT closes the connection in every synchronized
state and the application is told; a RST outside the window is dropped
without a word; a RST may carry data. (In-window RSTs away from RCV.NXT,
RFC 5961's challenge ACKs, are suites/tcp/rfc5961's.)"""

from __future__ import annotations

import time

import pytest
from ringzero.net.tcp import seq_add

from .drive import SYNCHRONIZED, drive, established

pytestmark = pytest.mark.requires("tcp")

# Still held by the application (the agent): the reset is reported to it.
OWNED = ("ESTABLISHED", "CLOSE-WAIT")


@pytest.mark.rfc(9293, "3.10.7.4", "MUST")
@pytest.mark.tcp_req("MUST-12")
@pytest.mark.parametrize("state", SYNCHRONIZED)
def test_rst_at_rcv_nxt_closes_the_connection(peer, sut, state):
    """A RST with SEG.SEQ = RCV.NXT: the connection is CLOSED at once, with
    no reply; an application still holding it hears "reset". The 4-tuple
    is then unknown: a further segment is answered by a RST from its ACK."""
    d = drive(peer, sut, state)
    c = d.c
    c.send(flags="R", ack=0)
    assert d.conn is not None
    st = d.tgt.wait_state(d.conn, "CLOSED")
    if state in OWNED:
        assert st["error"] == "reset"
    c.expect_nothing(0.3, has="R")
    c.send(flags="A", seq=seq_add(c.snd_nxt, 1), ack=c.rcv_nxt)
    rst = c.expect(has="R", what="RST from the closed connection")
    assert rst.seq == c.rcv_nxt


@pytest.mark.rfc(9293, "3.10.7.4", "MUST")
@pytest.mark.parametrize("where", ["above", "below"])
def test_rst_outside_the_window_is_dropped_silently(peer, sut, where):
    """A RST whose sequence number lies outside the receive window is
    dropped: no answer, and the connection carries on."""
    d = established(peer, sut)
    c = d.c
    off = 10 * max(c.snd_wnd, 65535) if where == "above" else -100_000
    c.send(flags="R", seq=seq_add(c.snd_nxt, off), ack=0)
    c.expect_nothing(0.5)
    st = d.tgt.state(d.conn)
    assert st["state"] == "ESTABLISHED" and st["error"] is None
    c.send_data(b"alive")
    c.expect(flags="A", ack=c.snd_nxt)
    assert d.tgt.recv_exactly(d.conn, 5) == b"alive"


@pytest.mark.rfc(9293, "3.10.7.4", "MUST")
def test_rst_with_ack_flag_and_right_sequence_closes(peer, sut):
    """RST,ACK at RCV.NXT (the usual form of an abort) resets as well."""
    d = established(peer, sut)
    d.c.send(flags="RA")
    st = d.tgt.wait_state(d.conn, "CLOSED")
    assert st["error"] == "reset"


@pytest.mark.rfc(9293, "3.5.3", "SHOULD")
@pytest.mark.tcp_req("SHLD-2")
def test_rst_carrying_data_is_still_a_reset(peer, sut):
    """A RST segment may carry data (a diagnostic); it resets all the same,
    and the data is not delivered."""
    d = established(peer, sut)
    d.c.send(flags="R", ack=0, payload=b"reason: test over", advance=False)
    st = d.tgt.wait_state(d.conn, "CLOSED")
    assert st["error"] == "reset"
    data, _eof = d.tgt.recv(d.conn)
    assert b"reason" not in data


@pytest.mark.rfc(9293, "3.10.7.4", "SHOULD")
def test_rst_flushes_unread_data_and_reports_reset(peer, sut):
    """Data acknowledged but not yet read when a RST comes is flushed with
    the connection's queues, and the application is told "reset" (RFC 9293
    3.10.7.4: "All segment queues should be flushed")."""
    d = established(peer, sut)
    c = d.c
    c.send_data(b"before the reset")
    c.expect(flags="A", ack=c.snd_nxt)
    time.sleep(0.1)
    c.send(flags="R", ack=0)
    st = d.tgt.wait_state(d.conn, "CLOSED")
    assert st["error"] == "reset"
    data, _ = d.tgt.recv(d.conn)
    assert data == b""
