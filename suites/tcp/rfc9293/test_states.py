"""Closing and the states it passes through (RFC 9293 §3.6, §3.10.4,
§3.10.5, §3.10.7.4 steps five and eight): the peer's FIN and CLOSE-WAIT,
half-closed connections both ways, LAST-ACK, FIN-WAIT-1 and -2, the
simultaneous close through CLOSING, TIME-WAIT, FIN with data, abort."""

from __future__ import annotations

import time

import pytest
from ringzero.net.tcp import seq_add

from .drive import PORT, drive, established

pytestmark = pytest.mark.requires("tcp")


@pytest.mark.rfc(9293, "3.10.7.4", "MUST")
@pytest.mark.tcp_req("MUST-12")
def test_peers_fin_moves_the_target_to_close_wait(peer, sut):
    """ESTABLISHED + FIN: the FIN is acknowledged (RCV.NXT advances over
    it), the state is CLOSE-WAIT, and the application sees the end of the
    stream as a normal close, not an error."""
    d = established(peer, sut)
    d.c.send(flags="FA")
    ack = d.c.expect(flags="A", ack=d.c.snd_nxt, what="ACK of our FIN")
    assert ack.seq == d.c.rcv_nxt
    st = d.tgt.wait_state(d.conn, "CLOSE-WAIT")
    assert st["error"] is None
    assert d.tgt.recv(d.conn) == (b"", True)


@pytest.mark.rfc(9293, "3.6.1", "MUST")
def test_target_keeps_sending_in_close_wait(peer, sut):
    """Half-closed by the peer: the target may go on sending (CLOSE-WAIT);
    its CLOSE then sends FIN (LAST-ACK), and our ACK of it ends the
    connection (CLOSED)."""
    d = drive(peer, sut, "CLOSE-WAIT")
    c, tgt, conn = d.c, d.tgt, d.conn
    tgt.send(conn, size=3000, seed=9)
    data = c.recv(3000)
    assert data == bytes((i * 7 + 9) & 0xFF for i in range(3000))
    tgt.close(conn)
    fin = c.expect(has="FA", what="FIN")
    assert fin.seq == seq_add(c.rcv_nxt, -1) and fin.ack == c.snd_nxt
    tgt.wait_state(conn, "LAST-ACK")
    c.send(flags="A")
    tgt.wait_state(conn, "CLOSED")


@pytest.mark.rfc(9293, "3.10.4", "MUST")
def test_target_close_goes_through_fin_wait_1_and_fin_wait_2(peer, sut):
    """The application closes: FIN, FIN-WAIT-1 until the FIN is
    acknowledged, then FIN-WAIT-2."""
    d = established(peer, sut)
    d.tgt.shutdown(d.conn)
    fin = d.c.expect(has="FA", what="FIN")
    assert fin.ack == d.c.snd_nxt
    d.tgt.wait_state(d.conn, "FIN-WAIT-1")
    d.c.send(flags="A")
    d.tgt.wait_state(d.conn, "FIN-WAIT-2")


@pytest.mark.rfc(9293, "3.6.1", "MUST")
@pytest.mark.tcp_req("MUST-13")
def test_target_keeps_receiving_in_fin_wait_2(peer, sut):
    """Half-closed by the target (shutdown for sending): data from the peer
    is still acknowledged and delivered; the peer's FIN then ends the
    stream, and the target, which closed first, is in TIME-WAIT."""
    d = established(peer, sut)
    d.tgt.shutdown(d.conn)
    d.c.expect(has="FA", what="FIN")
    d.c.send(flags="A")
    d.tgt.wait_state(d.conn, "FIN-WAIT-2")
    d.c.send_data(b"after your FIN")
    d.c.expect(flags="A", ack=d.c.snd_nxt)
    assert d.tgt.recv_exactly(d.conn, 14) == b"after your FIN"
    d.c.send(flags="FA")
    d.c.expect(flags="A", ack=d.c.snd_nxt)
    assert d.tgt.recv(d.conn) == (b"", True)
    st = d.tgt.wait_state(d.conn, "TIME-WAIT")
    assert st["error"] is None


@pytest.mark.rfc(9293, "3.10.7.4", "MUST")
@pytest.mark.tcp_req("MUST-13")
def test_fin_wait_2_and_a_fin_enter_time_wait(peer, sut):
    """FIN-WAIT-2 + FIN: acknowledged, TIME-WAIT."""
    d = drive(peer, sut, "FIN-WAIT-2")
    d.c.send(flags="FA")
    ack = d.c.expect(flags="A", ack=d.c.snd_nxt)
    assert ack.seq == d.c.rcv_nxt
    d.tgt.wait_state(d.conn, "TIME-WAIT")


@pytest.mark.rfc(9293, "3.10.7.4", "MUST")
@pytest.mark.tcp_req("MUST-13")
def test_fin_acking_our_fin_in_fin_wait_1_goes_straight_to_time_wait(peer, sut):
    """FIN-WAIT-1 + a FIN that also acknowledges the target's FIN: straight
    to TIME-WAIT (Figure 5, note 2)."""
    d = drive(peer, sut, "FIN-WAIT-1")
    d.c.send(flags="FA")
    d.c.expect(flags="A", ack=d.c.snd_nxt)
    d.tgt.wait_state(d.conn, "TIME-WAIT")


@pytest.mark.rfc(9293, "3.6", "MUST")
@pytest.mark.tcp_req("MUST-13")
def test_simultaneous_close_passes_through_closing(peer, sut):
    """Both FINs cross (Figure 13): the target acknowledges ours and is in
    CLOSING; our ACK of its FIN takes it to TIME-WAIT."""
    d = drive(peer, sut, "CLOSING")
    d.c.send(flags="A")
    d.tgt.wait_state(d.conn, "TIME-WAIT")


@pytest.mark.rfc(9293, "3.6.1", "MUST")
@pytest.mark.tcp_req("MUST-13")
def test_time_wait_holds_and_acknowledges_a_retransmitted_fin(peer, sut):
    """TIME-WAIT lasts 2*MSL (minutes; not waited for here): a second on,
    the target is still in TIME-WAIT, and a retransmission of our FIN is
    acknowledged again."""
    d = drive(peer, sut, "TIME-WAIT")
    time.sleep(1.0)
    assert d.tgt.state(d.conn)["state"] == "TIME-WAIT"
    d.c.send(flags="FA", seq=seq_add(d.c.snd_nxt, -1))
    ack = d.c.expect(flags="A", ack=d.c.snd_nxt, what="ACK of the retransmitted FIN")
    assert ack.seq == d.c.rcv_nxt
    assert d.tgt.state(d.conn)["state"] == "TIME-WAIT"


@pytest.mark.rfc(9293, "3.10.7.4", "MUST")
def test_fin_with_data_delivers_the_data_then_the_end(peer, sut):
    """Data and FIN in one segment: everything is acknowledged (data + 1),
    the data is read, then the end of the stream; CLOSE-WAIT."""
    d = established(peer, sut)
    d.c.send(flags="FPA", payload=b"last words")
    ack = d.c.expect(flags="A", ack=d.c.snd_nxt)
    assert ack.ack == seq_add(d.c.iss, 1 + 10 + 1)
    assert d.tgt.recv_all(d.conn) == b"last words"
    d.tgt.wait_state(d.conn, "CLOSE-WAIT")


@pytest.mark.rfc(9293, "3.10.7.4", "MUST")
def test_target_fin_with_data(peer, sut):
    """The target's last data and its FIN: all of it arrives, the FIN after
    the last octet."""
    d = established(peer, sut)
    d.tgt.send(d.conn, b"goodbye")
    d.tgt.close(d.conn)
    data = d.c.recv(0, until_fin=True)
    assert data == b"goodbye"
    assert d.c.fin_received


@pytest.mark.rfc(9293, "3.10.5", "MUST")
@pytest.mark.tcp_req("MUST-12")
def test_abort_sends_rst_and_forgets_the_connection(peer, sut):
    """ABORT in ESTABLISHED: <SEQ=SND.NXT><CTL=RST>, the connection CLOSED;
    a later segment on its 4-tuple finds no connection (the listener
    answers our ACK with a RST)."""
    d = established(peer, sut)
    d.tgt.abort(d.conn)
    rst = d.c.expect(has="R", what="RST")
    assert rst.seq == d.c.rcv_nxt
    st = d.tgt.state(d.conn)
    assert st["state"] == "CLOSED"
    d.c.send_data(b"anyone?")
    again = d.c.expect(has="R", what="RST")
    assert again.seq == d.c.rcv_nxt


@pytest.mark.rfc(9293, "3.10.7.4", "MUST")
def test_ack_of_last_ack_closes_and_the_port_listens_on(peer, sut):
    """LAST-ACK + the ACK of the target's FIN: CLOSED; the listener still
    takes a new connection on the same port."""
    d = drive(peer, sut, "LAST-ACK")
    d.c.send(flags="A")
    d.tgt.wait_state(d.conn, "CLOSED")
    again = established(peer, sut, listen=False, port=PORT)
    assert again.conn != d.conn


@pytest.mark.rfc(9293, "3.6.1", "SHOULD")
@pytest.mark.tcp_req("SHLD-3")
def test_close_with_unread_data_resets_the_connection(peer, sut):
    """The application closes while data it never read is waiting: the
    data is lost, and the target says so with a RST instead of a FIN
    (RFC 9293 3.6.1; RFC 2525 2.17)."""
    d = drive(peer, sut, "ESTABLISHED")
    c = d.c
    c.send_data(b"never read")
    c.expect(flags="A", ack=c.snd_nxt, what="ACK of the data")
    assert d.conn is not None
    d.tgt.close(d.conn)
    c.expect(has="R", lacks="F", what="RST for the unread data")


@pytest.mark.rfc(9293, "3.6.1", "SHOULD")
@pytest.mark.tcp_req("SHLD-3")
def test_data_after_close_resets_the_connection(peer, sut):
    """After the application has closed (its FIN sent and acknowledged),
    data from the peer has nobody to read it: the target answers with RST."""
    d = drive(peer, sut, "FIN-WAIT-2")
    c = d.c
    c.send_data(b"too late")
    c.expect(has="R", what="RST for data nobody will read")
