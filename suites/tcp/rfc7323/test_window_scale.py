"""Window scaling (RFC 7323 §2): the option appears in the target's SYN
only when ours had it, with a shift of at most 14; once both SYNs carry
it, the target reads our window fields shifted by our scale (a shift
above 14 counting as 14), writes its own shifted by its scale, never
scales the window of a SYN, and ignores the option outside a SYN."""

from __future__ import annotations

import time

import pytest
from ringzero.net.tcp import TcpPeer

from ..rfc6298.sender import BULK, Sender, sending

pytestmark = pytest.mark.requires("tcp")


def wscale_syn(shift: int) -> list:
    return [("mss", 1460), "nop", ("wscale", shift)]


@pytest.mark.rfc(7323, "2.2", "MUST")
def test_syn_ack_carries_a_window_scale_when_the_syn_did(peer, sut, tgt):
    """Our SYN offers a shift of 7: the SYN-ACK answers with a Window Scale
    option of its own, a shift from 0 to 14 (§2.3)."""
    tgt.listen(5000)
    c = TcpPeer(peer, sut, remote_port=5000)
    c.send_syn(options=wscale_syn(7))
    synack = c.expect_syn_ack()
    assert synack.wscale is not None, f"no Window Scale option in the SYN-ACK: {synack}"
    assert 0 <= synack.wscale <= 14, f"shift {synack.wscale} (at most 14)"


@pytest.mark.rfc(7323, "2.2", "MUST")
def test_no_options_in_the_syn_ack_that_the_syn_did_not_offer(peer, sut, tgt):
    """A SYN with only an MSS option: the SYN-ACK has neither Window Scale
    (§2.2: only in reply to one) nor Timestamps (§3.2) nor SACK-permitted
    (RFC 2018), and the target's later segments carry no Timestamps."""
    tgt.listen(5000)
    c = TcpPeer(peer, sut, remote_port=5000)
    synack = c.connect(options=[("mss", 1460)])
    assert synack.wscale is None, f"Window Scale not offered, yet in the SYN-ACK: {synack}"
    assert synack.timestamps is None, f"Timestamps not offered, yet in the SYN-ACK: {synack}"
    assert not synack.sack_permitted, f"SACK not offered, yet permitted: {synack}"
    conn = tgt.accept_one(5000)
    c.send_data(b"x" * 100)
    tgt.send(conn, b"y" * 100)
    c.recv(100)
    with_ts = [str(s) for s in c.segments() if s.timestamps is not None]
    assert not with_ts, f"Timestamps that were never agreed: {with_ts}"


@pytest.mark.rfc(7323, "2.3", "MUST")
def test_target_reads_our_window_shifted_by_our_scale(peer, sut):
    """With a shift of 7 agreed, our window field of 23 means 23 << 7 = 2944
    octets: the target sends at least a full segment (it does scale) and
    no more than 2944 octets before our next ACK."""
    s = sending(peer, sut, options=wscale_syn(7), window=23 << 7)
    assert s.synack.wscale is not None
    assert s.c.window_field() == 23
    s.send(BULK)
    first = s.flight()
    octets = s.sent_octets(first)
    assert 1460 <= octets <= 23 << 7, (
        f"{octets} octets in reply to a window field of 23 with a shift of 7 (= 2944 octets)"
    )


@pytest.mark.rfc(7323, "2.3", "MUST")
def test_a_shift_above_14_is_taken_as_14(peer, sut):
    """Our SYN asks for a shift of 15; the target must use 14. Our window
    field of 1 then means 16384 octets (not 32768): over three rounds of
    slow start the target never has more than 16384 octets beyond our
    latest ACK, and does fill that window."""
    s = sending(peer, sut, options=wscale_syn(15), window=1 << 15)
    assert s.c.window_field() == 1
    s.send(BULK)
    segs = s.flight()
    most = s.sent_octets(segs)
    for _ in range(3):
        t = time.time()
        s.ack_each(segs)
        segs = s.flight(since=t)
        most = max(most, s.sent_octets(segs))
    assert most <= 16384, f"{most} octets outstanding with a window field of 1 at shift 14"
    assert most > 10 * 1460, f"at most {most} octets outstanding: the window was never filled"


@pytest.mark.rfc(7323, "2.3", "MUST")
def test_target_advertises_its_window_shifted_by_its_scale(peer, sut):
    """The window field of the target's ACKs is its receive window shifted
    right by the scale of its SYN-ACK: shifted back, it is the receive
    window tcp_state reports (to within the 2**shift the shift rounds off)."""
    s = sending(peer, sut, options=wscale_syn(7))
    shift = s.synack.wscale
    assert shift is not None
    s.c.send_data(b"z" * 1000)
    s.c.expect(flags="A", ack=s.c.snd_nxt)
    time.sleep(0.2)
    st = s.tgt.state(s.conn)["stats"]
    last = [x for x in s.c.segments(s.synack.time) if not x.syn][-1]
    scaled = last.window << shift
    assert abs(scaled - st["rcv_wnd"]) < 1 << shift, (
        f"window field {last.window} << {shift} = {scaled}; the target reports a receive "
        f"window of {st['rcv_wnd']}"
    )


@pytest.mark.rfc(7323, "2.2", "MUST")
def test_the_window_of_our_syn_ack_is_not_scaled(peer, sut, tgt):
    """The target connects offering a Window Scale; our SYN-ACK agrees (shift
    7) with a window of 3000. A SYN's window is never scaled: the target
    sends at most 3000 octets (not 3000 << 7) before our next ACK."""
    c = TcpPeer(peer, sut)
    conn = tgt.connect(c.ip, c.port)
    syn = c.expect_syn()
    assert syn.wscale is not None, f"the target's SYN offers no Window Scale: {syn}"
    c.rcv_wnd = 3000
    c.send_syn_ack(options=wscale_syn(7), window=3000)
    c.expect(has="A", lacks="S", ack=c.snd_nxt, what="ACK of our SYN-ACK")
    tgt.wait_state(conn, "ESTABLISHED")
    s = Sender(c, tgt, conn, syn)
    s.send(BULK)
    first = s.flight()
    octets = s.sent_octets(first)
    assert 0 < octets <= 3000, f"{octets} octets against a SYN-ACK window of 3000"


@pytest.mark.rfc(7323, "2.2", "MUST")
def test_a_window_scale_option_outside_a_syn_is_ignored(peer, sut):
    """Neither SYN had Window Scale; our next ACK carries one (shift 7) with
    a window field of 23. The option is ignored: the window is 23 octets,
    not 23 << 7, and the target sends no more than 23 octets."""
    s = sending(peer, sut)
    assert s.synack.wscale is None
    # An octet first: a window update needs a segment later than the last
    # one that set the window (Linux takes a smaller window only then).
    s.c.send_data(b"!")
    s.c.expect(flags="A", ack=s.c.snd_nxt)
    s.c.send(flags="A", window=23, options=["nop", ("wscale", 7)])
    start = s.send(BULK)
    time.sleep(0.5)
    segs = s.data(start)
    octets = max((s.offset(x.end) for x in segs), default=0)
    assert octets <= 23, f"{octets} octets sent into a window of 23: the option was applied"
