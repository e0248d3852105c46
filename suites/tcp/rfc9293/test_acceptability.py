"""The segment acceptability test (RFC 9293 §3.4 Table 5, §3.10.7.4 first
step) in every state that applies it, the zero-window cases, checksums and
unacceptable ACKs. An unacceptable segment is answered
<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and dropped; the connection stays in
its state.

The out-of-window probes carry data: pure ACKs out of the window may have
their answers rate-limited (RFC 5961 §7), segments with data not."""

from __future__ import annotations

import time

import pytest
from ringzero.net.tcp import seq_add

from .drive import PORT, beyond_window, drive, established, fill_window, still_in

pytestmark = pytest.mark.requires("tcp")

STATES = (
    "SYN-RECEIVED",
    "ESTABLISHED",
    "FIN-WAIT-1",
    "FIN-WAIT-2",
    "CLOSE-WAIT",
    "CLOSING",
    "LAST-ACK",
    "TIME-WAIT",
)


@pytest.mark.rfc(9293, "3.10.7.4", "MUST")
@pytest.mark.parametrize("state", STATES)
def test_segment_beyond_the_window_is_acked_and_dropped(peer, sut, state):
    """A segment starting far beyond RCV.NXT+RCV.WND is not acceptable: the
    target answers with an ACK of RCV.NXT from SND.NXT, carrying no data,
    and the segment changes nothing (the state stays, its data never
    reaches the application)."""
    d = drive(peer, sut, state)
    c = d.c
    c.send(flags="PA", seq=beyond_window(c), payload=b"out of window")
    ack = c.expect(
        has="A",
        lacks="SFR",
        ack=c.snd_nxt,
        seq=c.rcv_nxt,
        length=0,
        what="ACK for the unacceptable segment",
    )
    assert ack.is_ack
    if state == "SYN-RECEIVED":
        # Still waiting for the ACK of its SYN: ours completes the handshake,
        # and nothing of the out-of-window data shows.
        c.send(flags="A")
        conn = d.tgt.accept_one(PORT)
        d.tgt.wait_state(conn, "ESTABLISHED")
        time.sleep(0.2)
        assert d.tgt.recv(conn) == (b"", False)
        return
    still_in(d, state)
    if state == "ESTABLISHED":
        c.send_data(b"in order")
        c.expect(flags="A", ack=c.snd_nxt)
        assert d.tgt.recv_exactly(d.conn, 8) == b"in order"


@pytest.mark.rfc(9293, "3.10.7.4", "MUST")
def test_old_duplicate_data_is_acked_and_not_delivered_again(peer, sut):
    """Data entirely below RCV.NXT (a retransmission of what was taken) is
    not acceptable: ACK of RCV.NXT, and the application does not read it
    twice."""
    d = established(peer, sut)
    c = d.c
    first = c.send_data(b"once only")[0]
    c.expect(flags="A", ack=c.snd_nxt)
    assert d.tgt.recv_exactly(d.conn, 9) == b"once only"
    c.send(flags="PA", seq=first.seq, payload=b"once only")
    c.expect(flags="A", ack=c.snd_nxt, length=0, what="ACK for the duplicate")
    time.sleep(0.2)
    assert d.tgt.recv(d.conn) == (b"", False)


@pytest.mark.rfc(9293, "3.10.7.4", "MUST")
def test_segment_straddling_the_left_edge_gives_only_its_new_octets(peer, sut):
    """A segment starting below RCV.NXT and ending beyond it is acceptable;
    only the new part is processed (the old part is not delivered again)."""
    d = established(peer, sut)
    c = d.c
    first = c.send_data(b"abcdef")[0]
    c.expect(flags="A", ack=c.snd_nxt)
    c.send(flags="PA", seq=seq_add(first.seq, 3), payload=b"defghi", advance=True)
    c.expect(flags="A", ack=c.snd_nxt)
    assert c.snd_nxt == seq_add(first.seq, 9)
    assert d.tgt.recv_exactly(d.conn, 9) == b"abcdefghi"
    time.sleep(0.1)
    assert d.tgt.recv(d.conn) == (b"", False)


@pytest.mark.rfc(9293, "3.4", "MUST")
def test_data_just_past_the_right_edge_is_not_acceptable(peer, sut):
    """Table 5, SEG.LEN > 0: a segment whose first octet is RCV.NXT+RCV.WND
    (the first octet outside the window) is not acceptable: ACK, dropped.
    The hole below it is then filled and only the filling is delivered."""
    d = established(peer, sut)
    c = d.c
    c.send_data(b"x")
    c.expect(flags="A", ack=c.snd_nxt)
    window = c.snd_wnd
    assert window > 0
    c.send(flags="PA", seq=seq_add(c.snd_nxt, window), payload=b"outside")
    c.expect(flags="A", ack=c.snd_nxt, length=0, what="ACK for the segment past the window")
    c.send_data(b"y")
    c.expect(flags="A", ack=c.snd_nxt)
    assert d.tgt.recv_exactly(d.conn, 2) == b"xy"
    time.sleep(0.2)
    assert d.tgt.recv(d.conn) == (b"", False)


# ---- zero receive window ------------------------------------------------------------------


@pytest.mark.rfc(9293, "3.4", "MUST")
def test_data_to_a_zero_window_is_acked_and_not_taken(peer, sut):
    """RCV.WND = 0, SEG.LEN > 0: not acceptable, even at RCV.NXT. The target
    answers with an ACK of RCV.NXT advertising the zero window."""
    d = established(peer, sut)
    c = d.c
    fill_window(c)
    c.send(flags="PA", payload=b"z", advance=False)
    ack = c.expect(flags="A", ack=c.snd_nxt, what="ACK refusing the octet")
    assert ack.window == 0


@pytest.mark.rfc(9293, "3.4", "MUST")
def test_zero_window_still_accepts_acks(peer, sut):
    """RCV.WND = 0, SEG.LEN = 0, SEG.SEQ = RCV.NXT: acceptable, so our ACK
    of the target's data is processed: it does not retransmit that data,
    and what it sends next follows it."""
    d = established(peer, sut)
    c = d.c
    fill_window(c)
    d.tgt.send(d.conn, b"while your window is shut")
    c.recv(25)
    c.expect_nothing(1.0, lambda s: s.length > 0, what="retransmission of acknowledged data")
    next_seq = c.rcv_nxt
    d.tgt.send(d.conn, b"more")
    seg = c.expect(lambda s: s.length > 0, what="new data")
    assert seg.seq == next_seq and seg.payload == b"more"


@pytest.mark.rfc(9293, "3.4", "MUST")
@pytest.mark.tcp_req("MUST-66")
def test_zero_window_still_processes_rst(peer, sut):
    """The RST bit is processed even with a zero receive window: a RST at
    RCV.NXT resets the connection."""
    d = established(peer, sut)
    fill_window(d.c)
    d.c.send(flags="R", ack=0)
    st = d.tgt.wait(d.conn, lambda s: s["error"] is not None, what="the reset")
    assert st["error"] == "reset" and st["state"] == "CLOSED"


@pytest.mark.rfc(9293, "3.4", "MUST")
@pytest.mark.tcp_req("MUST-66")
def test_zero_window_urg_does_not_disturb_the_connection(peer, sut):
    """An URG on an empty segment at RCV.NXT while the window is zero is
    processed (here: accepted without harm): no RST, and once the data is
    read the connection carries on."""
    d = established(peer, sut)
    c = d.c
    sent = fill_window(c)
    c.send(flags="UA", urgptr=1)
    c.expect_nothing(0.3, has="R")
    got = d.tgt.recv_exactly(d.conn, sent, within=10.0)
    assert len(got) == sent
    c.send_data(b"after")
    c.expect(has="A", ack=c.snd_nxt, within=3.0)
    assert d.tgt.recv_exactly(d.conn, 5) == b"after"


# ---- checksums and ACK fields --------------------------------------------------------------


@pytest.mark.rfc(9293, "3.1", "MUST")
@pytest.mark.tcp_req("MUST-3")
def test_segment_with_a_wrong_checksum_is_dropped(peer, sut):
    """A segment that fails the checksum is discarded: not acknowledged,
    not delivered; the same data with a right checksum is."""
    d = established(peer, sut)
    c = d.c
    c.send(flags="PA", payload=b"corrupt", checksum=0x1234, advance=False)
    c.expect_nothing(0.5, lambda s: s.ack == seq_add(c.snd_nxt, 7))
    assert d.tgt.recv(d.conn) == (b"", False)
    c.send_data(b"correct")
    c.expect(flags="A", ack=c.snd_nxt)
    assert d.tgt.recv_exactly(d.conn, 7) == b"correct"


@pytest.mark.rfc(9293, "3.10.7.4", "MUST")
def test_ack_of_unsent_data_is_answered_and_the_segment_dropped(peer, sut):
    """ESTABLISHED, fifth step: SEG.ACK > SND.NXT acknowledges something not
    yet sent: the target sends an ACK and drops the segment (its data is
    not delivered)."""
    d = established(peer, sut)
    c = d.c
    c.send(flags="PA", ack=seq_add(c.rcv_nxt, 5000), payload=b"bogus ack", advance=False)
    c.expect(flags="A", ack=c.snd_nxt, seq=c.rcv_nxt, what="ACK for the bad ACK")
    time.sleep(0.2)
    assert d.tgt.recv(d.conn) == (b"", False)
    c.send_data(b"good")
    c.expect(flags="A", ack=c.snd_nxt)
    assert d.tgt.recv_exactly(d.conn, 4) == b"good"


@pytest.mark.rfc(9293, "3.10.7.4", "MUST")
def test_segment_without_ack_in_established_is_dropped(peer, sut):
    """Fifth step: with the ACK bit off, the segment is dropped (its data
    not delivered)."""
    d = established(peer, sut)
    c = d.c
    c.send(flags="P", ack=0, payload=b"no ack bit", advance=False)
    time.sleep(0.3)
    assert d.tgt.recv(d.conn) == (b"", False)
    c.send_data(b"with ack")
    c.expect(flags="A", ack=c.snd_nxt)
    assert d.tgt.recv_exactly(d.conn, 8) == b"with ack"
