"""Opening connections (RFC 9293 §3.5, §3.10.7.1-3): the three-way
handshake both ways, SYN-ACK contents, RSTs from CLOSED and LISTEN,
SYN-SENT's checks, simultaneous open, SYN-RECEIVED's memory of how it was
reached, data on the SYN, and which SYNs must be ignored."""

from __future__ import annotations

import contextlib
import time

import pytest
from ringzero.agent import AgentError
from ringzero.net.tcp import MOD, Seg, TargetTcp, TcpPeer, seq_add, seq_gt

from .drive import PORT, established, listening

pytestmark = pytest.mark.requires("tcp")

CLOSED_PORT = 5999  # nobody listens


def handshake_ack_then_accept(c: TcpPeer, tgt: TargetTcp, port: int = PORT) -> int:
    c.send(flags="A")
    conn = tgt.accept_one(port)
    tgt.wait_state(conn, "ESTABLISHED")
    return conn


# ---- passive open: the target listens ---------------------------------------------------


@pytest.mark.rfc(9293, "3.10.7.2", "MUST")
@pytest.mark.tcp_req("MUST-14", "SHLD-5", "MAY-3", "MUST-67", "MUST-2")
def test_syn_to_a_listener_gets_a_syn_ack_with_an_mss(peer, sut):
    """A SYN to a listening port is answered <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>,
    carrying an MSS option no larger than the link allows (1500-octet MTU:
    1460), with a correct checksum; our ACK completes the handshake."""
    tgt = listening(sut)
    c = TcpPeer(peer, sut, remote_port=PORT)
    c.send_syn()
    synack = c.expect_syn_ack()
    assert synack.flagstr == "SA"
    assert synack.ack == seq_add(c.iss, 1)
    assert synack.length == 0
    assert synack.mss is not None, f"no MSS option in the SYN-ACK: {synack}"
    assert 536 <= synack.mss <= 1460, f"MSS {synack.mss} for a 1500-octet MTU"
    conn = handshake_ack_then_accept(c, tgt)
    st = tgt.state(conn)
    assert (st["remote_ip"], st["remote_port"]) == (c.ip, c.port)
    assert (st["local_ip"], st["local_port"]) == (sut.ip, PORT)


@pytest.mark.rfc(9293, "3.10.7.2", "MUST")
@pytest.mark.tcp_req("MUST-65")
def test_handshake_completes_and_only_syns_carry_an_mss(peer, sut):
    """After the handshake both ends exchange data; the MSS option appears
    in the target's SYN-ACK and in none of its later segments."""
    d = established(peer, sut)
    d.c.send_data(b"ping")
    d.c.expect(flags="A", ack=d.c.snd_nxt)
    assert d.tgt.recv_exactly(d.conn, 4) == b"ping"
    d.tgt.send(d.conn, b"pong")
    assert d.c.recv(4) == b"pong"
    later = [s for s in d.c.segments() if not s.syn]
    assert later, "no segments after the SYN-ACK"
    assert all(s.mss is None for s in later), [str(s) for s in later if s.mss is not None]


@pytest.mark.rfc(9293, "3.10.7.1", "MUST")
def test_syn_to_a_closed_port_gets_rst_ack(peer, sut):
    """No connection (CLOSED): a SYN is refused with
    <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>."""
    c = TcpPeer(peer, sut, remote_port=CLOSED_PORT)
    c.send_syn()
    rst = c.expect(has="R", what="RST")
    assert rst.flagstr == "RA" and rst.seq == 0 and rst.ack == seq_add(c.iss, 1)
    assert rst.length == 0


@pytest.mark.rfc(9293, "3.10.7.1", "MUST")
def test_syn_with_data_to_a_closed_port_acknowledges_all_of_it(peer, sut):
    """SEG.LEN counts the SYN and the data: the RST's ACK is past both."""
    c = TcpPeer(peer, sut, remote_port=CLOSED_PORT)
    c.send_syn(payload=b"0123456789")
    rst = c.expect(has="R", what="RST")
    assert rst.flagstr == "RA" and rst.seq == 0 and rst.ack == seq_add(c.iss, 11)


@pytest.mark.rfc(9293, "3.10.7.1", "MUST")
def test_ack_to_a_closed_port_gets_rst_from_its_ack_field(peer, sut):
    """A segment with ACK to a closed port: <SEQ=SEG.ACK><CTL=RST>."""
    c = TcpPeer(peer, sut, remote_port=CLOSED_PORT)
    c.send(flags="PA", seq=1000, ack=0xDEADBEEF, payload=b"stray")
    rst = c.expect(has="R", what="RST")
    assert rst.flagstr == "R" and rst.seq == 0xDEADBEEF and rst.length == 0


@pytest.mark.rfc(9293, "3.10.7.1", "MUST")
def test_fin_without_ack_to_a_closed_port_counts_the_fin(peer, sut):
    """Without ACK, the RST acknowledges SEG.SEQ+SEG.LEN, the FIN included."""
    c = TcpPeer(peer, sut, remote_port=CLOSED_PORT)
    c.send(flags="F", seq=5000, payload=b"abc")
    rst = c.expect(has="R", what="RST")
    assert rst.flagstr == "RA" and rst.seq == 0 and rst.ack == 5004


@pytest.mark.rfc(9293, "3.10.7.1", "MUST")
def test_rst_to_a_closed_port_draws_nothing(peer, sut):
    """An incoming RST is discarded: never a RST in reply to a RST."""
    c = TcpPeer(peer, sut, remote_port=CLOSED_PORT)
    c.send(flags="R", seq=100)
    c.send(flags="RA", seq=200, ack=300)
    c.expect_nothing(1.0)


@pytest.mark.rfc(9293, "3.10.7.2", "MUST")
def test_ack_to_a_listener_gets_rst_and_the_listener_stays(peer, sut):
    """LISTEN: any acknowledgment is bad, answered <SEQ=SEG.ACK><CTL=RST>;
    the listener goes on accepting."""
    tgt = listening(sut)
    c = TcpPeer(peer, sut, remote_port=PORT)
    c.send(flags="A", seq=777, ack=123456)
    rst = c.expect(has="R", what="RST")
    assert rst.flagstr == "R" and rst.seq == 123456
    other = TcpPeer(peer, sut, remote_port=PORT)
    other.connect()
    tgt.accept_one(PORT)


@pytest.mark.rfc(9293, "3.10.7.2", "MUST")
def test_rst_to_a_listener_is_ignored(peer, sut):
    """LISTEN: an incoming RST cannot be valid and is ignored (no reply);
    the same port then completes a handshake from the same 4-tuple."""
    tgt = listening(sut)
    c = TcpPeer(peer, sut, remote_port=PORT)
    c.send(flags="R", seq=c.iss)
    c.expect_nothing(0.5)
    c.connect()
    tgt.accept_one(PORT)


@pytest.mark.rfc(9293, "3.10.7.2", "MUST")
def test_segment_without_syn_ack_or_rst_to_a_listener_is_dropped(peer, sut):
    """LISTEN, fourth step: a segment with neither SYN, ACK nor RST (here
    data with FIN) is dropped without reply, and nothing is accepted."""
    tgt = listening(sut)
    c = TcpPeer(peer, sut, remote_port=PORT)
    c.send(flags="FP", seq=c.iss, payload=b"no handshake")
    c.expect_nothing(0.5)
    assert tgt.accepted(PORT) == []


# ---- active open: the target connects ---------------------------------------------------


@pytest.mark.rfc(9293, "3.10.7.3", "MUST")
@pytest.mark.tcp_req("MUST-14", "SHLD-5", "MUST-67")
def test_active_open_sends_syn_with_mss_and_completes(peer, sut):
    """The target's SYN carries an MSS option (at most 1460 here); our
    SYN-ACK is acknowledged and the connection is ESTABLISHED."""
    tgt = TargetTcp(sut)
    c = TcpPeer(peer, sut)
    conn = tgt.connect(c.ip, c.port)
    syn = c.accept()
    assert syn.flagstr == "S" and syn.length == 0
    assert syn.mss is not None and 536 <= syn.mss <= 1460, f"SYN {syn}"
    st = tgt.wait_state(conn, "ESTABLISHED")
    assert st["remote_port"] == c.port and st["local_port"] == syn.sport
    tgt.send(conn, b"from the client")
    assert c.recv(15) == b"from the client"


@pytest.mark.rfc(9293, "3.10.7.3", "MUST")
def test_syn_ack_with_a_bad_ack_gets_rst_and_syn_sent_goes_on(peer, sut):
    """SYN-SENT: a SYN-ACK whose ACK does not acknowledge the SYN is answered
    <SEQ=SEG.ACK><CTL=RST> and discarded; a right SYN-ACK then completes."""
    tgt = TargetTcp(sut)
    c = TcpPeer(peer, sut)
    conn = tgt.connect(c.ip, c.port)
    syn = c.expect_syn()
    bad = seq_add(syn.seq, 1000)
    c.send(flags="SA", seq=c.iss, ack=bad, advance=False)
    rst = c.expect(has="R", what="RST")
    assert rst.flagstr == "R" and rst.seq == bad
    assert tgt.state(conn)["state"] == "SYN-SENT"
    c.send_syn_ack()
    c.expect(has="A", lacks="SR", ack=seq_add(c.iss, 1), what="ACK of our SYN-ACK")
    tgt.wait_state(conn, "ESTABLISHED")


@pytest.mark.rfc(9293, "3.10.7.3", "MUST")
def test_rst_with_a_bad_ack_in_syn_sent_is_dropped(peer, sut):
    """SYN-SENT: a RST whose ACK is unacceptable is dropped: no RST back,
    the connection attempt goes on."""
    tgt = TargetTcp(sut)
    c = TcpPeer(peer, sut)
    conn = tgt.connect(c.ip, c.port)
    syn = c.expect_syn()
    c.send(flags="RA", seq=0, ack=seq_add(syn.seq, 5000))
    c.expect_nothing(0.3, has="R")
    st = tgt.state(conn)
    assert st["state"] == "SYN-SENT" and st["error"] is None


@pytest.mark.rfc(9293, "3.10.7.3", "MUST")
def test_rst_without_ack_in_syn_sent_is_dropped(peer, sut):
    """SYN-SENT: a RST without ACK is dropped; a SYN-ACK then completes."""
    tgt = TargetTcp(sut)
    c = TcpPeer(peer, sut)
    conn = tgt.connect(c.ip, c.port)
    c.expect_syn()
    c.send(flags="R", seq=0)
    time.sleep(0.2)
    st = tgt.state(conn)
    assert st["state"] == "SYN-SENT" and st["error"] is None
    c.send_syn_ack()
    tgt.wait_state(conn, "ESTABLISHED")


@pytest.mark.rfc(9293, "3.10.7.3", "MUST")
@pytest.mark.tcp_req("MUST-12")
def test_rst_acknowledging_the_syn_refuses_the_connection(peer, sut):
    """SYN-SENT: a RST whose ACK acknowledges the SYN aborts the attempt:
    CLOSED, and the application hears "connection refused"."""
    tgt = TargetTcp(sut)
    c = TcpPeer(peer, sut)
    conn = tgt.connect(c.ip, c.port)
    syn = c.expect_syn()
    c.send(flags="RA", seq=0, ack=seq_add(syn.seq, 1))
    st = tgt.wait(conn, lambda s: s["error"] is not None, what="an error")
    assert st["error"] == "refused" and st["state"] == "CLOSED"
    c.expect_nothing(0.3, has="R")


@pytest.mark.rfc(9293, "3.5", "MUST")
@pytest.mark.tcp_req("MUST-10")
def test_simultaneous_open(peer, sut):
    """Both ends send a SYN before seeing the other's (Figure 7): the target
    goes SYN-SENT -> SYN-RECEIVED, sends <SEQ=ISS><ACK=our ISN+1><SYN,ACK>,
    and our ACK makes the connection ESTABLISHED; data flows both ways."""
    tgt = TargetTcp(sut)
    c = TcpPeer(peer, sut)
    conn = tgt.connect(c.ip, c.port)
    syn = c.expect_syn()
    c.send_syn()  # crossing theirs: no ACK
    synack = c.expect(flags="SA", what="SYN-ACK")
    assert synack.seq == syn.seq and synack.ack == seq_add(c.iss, 1)
    assert tgt.state(conn)["state"] == "SYN-RECEIVED"
    c.snd_una = c.snd_nxt = seq_add(c.iss, 1)
    c.state = "ESTABLISHED"
    c.send(flags="A")
    tgt.wait_state(conn, "ESTABLISHED")
    c.send_data(b"both ways")
    assert tgt.recv_exactly(conn, 9) == b"both ways"
    tgt.send(conn, b"ok")
    assert c.recv(2) == b"ok"


@pytest.mark.rfc(9293, "3.5", "MUST")
@pytest.mark.tcp_req("MUST-11")
def test_rst_in_syn_received_from_a_passive_open_returns_to_listen(peer, sut):
    """SYN-RECEIVED reached from LISTEN: an acceptable RST sends it back to
    LISTEN; the application never sees the connection, a late ACK of the
    dead SYN-ACK is refused like any ACK to a listener, and the listener
    accepts the next connection."""
    tgt = listening(sut)
    c = TcpPeer(peer, sut, remote_port=PORT)
    c.send_syn()
    synack = c.expect_syn_ack()
    c.send(flags="R", seq=c.snd_nxt, ack=0)
    time.sleep(0.2)
    assert tgt.accepted(PORT) == []
    c.send(flags="A", ack=seq_add(synack.seq, 1))
    rst = c.expect(has="R", what="RST")
    assert rst.seq == seq_add(synack.seq, 1)
    other = TcpPeer(peer, sut, remote_port=PORT, host=1)
    other.connect()
    conns = []
    deadline = time.monotonic() + 3
    while not conns and time.monotonic() < deadline:
        conns = tgt.accepted(PORT)
        time.sleep(0.05)
    assert [(x["remote_ip"], x["remote_port"]) for x in conns] == [(other.ip, other.port)]


@pytest.mark.rfc(9293, "3.5", "MUST")
@pytest.mark.tcp_req("MUST-11")
def test_rst_in_syn_received_from_an_active_open_closes(peer, sut):
    """SYN-RECEIVED reached from SYN-SENT (simultaneous open): an acceptable
    RST means the connection was refused: it is CLOSED (not LISTEN) and the
    application is told."""
    tgt = TargetTcp(sut)
    c = TcpPeer(peer, sut)
    conn = tgt.connect(c.ip, c.port)
    c.expect_syn()
    c.send_syn()
    c.expect(flags="SA", what="SYN-ACK")
    c.send(flags="R", seq=seq_add(c.iss, 1), ack=0)
    st = tgt.wait(conn, lambda s: s["error"] is not None, what="an error")
    assert st["state"] == "CLOSED" and st["error"] in ("refused", "reset")


# ---- data on the SYN and on the handshake's ACK -------------------------------------------


@pytest.mark.rfc(9293, "3.10.7.2", "MUST")
def test_data_on_a_syn_is_delivered_exactly_once(peer, sut):
    """Data on a SYN is legal (§3.5). The target may take it with the SYN or
    leave it unacknowledged; either way, after we send what its SYN-ACK did
    not acknowledge again, the application reads it exactly once."""
    tgt = listening(sut)
    data = b"data riding on the SYN"
    c = TcpPeer(peer, sut, remote_port=PORT)
    c.send_syn(payload=data)
    synack = c.expect(flags="SA", what="SYN-ACK")
    taken = (synack.ack - c.iss - 1) % MOD
    assert taken in (0, len(data)), f"the SYN-ACK acknowledges {taken} of {len(data)} octets"
    c.update(synack)
    c.snd_una = c.snd_nxt = synack.ack
    c.send(flags="A")
    if taken == 0:
        c.send_data(data)
    c.expect(has="A", ack=seq_add(c.iss, 1 + len(data)), since="match")
    conn = tgt.accept_one(PORT)
    assert tgt.recv_exactly(conn, len(data)) == data
    time.sleep(0.2)
    assert tgt.recv(conn) == (b"", False)


@pytest.mark.rfc(9293, "3.10.7.4", "MUST")
def test_data_on_the_handshakes_ack_is_delivered(peer, sut):
    """The third segment of the handshake may carry data."""
    tgt = listening(sut)
    c = TcpPeer(peer, sut, remote_port=PORT)
    c.connect(ack_payload=b"third segment")
    c.expect(has="A", ack=c.snd_nxt)
    conn = tgt.accept_one(PORT)
    assert tgt.recv_exactly(conn, 13) == b"third segment"


# ---- the MSS --------------------------------------------------------------------------


@pytest.mark.rfc(9293, "3.7.1", "MUST")
@pytest.mark.tcp_req("MUST-15", "MUST-16")
def test_without_an_mss_option_segments_are_at_most_536(peer, sut):
    """No MSS option in our SYN: the target must assume 536 for IPv4."""
    tgt = listening(sut)
    c = TcpPeer(peer, sut, remote_port=PORT)
    c.connect(options=[])
    conn = tgt.accept_one(PORT)
    tgt.send(conn, size=4000, seed=1)
    c.recv(4000)
    sizes = [s.length for s in c.matched if s.length]
    assert max(sizes) <= 536, f"segment sizes {sizes}"


@pytest.mark.rfc(9293, "3.7.1", "MUST")
@pytest.mark.tcp_req("MUST-14", "MUST-16", "SHLD-28")
def test_the_peers_mss_is_honoured(peer, sut):
    """Our MSS of 700: no segment larger, and full-sized ones while there is
    enough data."""
    tgt = listening(sut)
    c = TcpPeer(peer, sut, remote_port=PORT, mss=700)
    c.connect()
    conn = tgt.accept_one(PORT)
    tgt.send(conn, size=5000, seed=2)
    c.recv(5000)
    sizes = [s.length for s in c.matched if s.length]
    assert max(sizes) == 700, f"segment sizes {sizes}"


# ---- SYNs that must be ignored, opens that must fail ----------------------------------------


@pytest.mark.rfc(9293, "3.9.2.3", "MUST")
@pytest.mark.tcp_req("MUST-57")
@pytest.mark.parametrize("dst", ["255.255.255.255", "10.33.0.255"])
def test_syn_to_a_broadcast_address_is_dropped_silently(peer, sut, dst):
    """A SYN addressed to a broadcast address gets neither SYN-ACK nor RST;
    the listener still answers a SYN to its own address."""
    tgt = listening(sut)
    c = TcpPeer(peer, sut, remote_port=PORT)
    c.send_syn(ip={"dst": dst, "dst_mac": "ff:ff:ff:ff:ff:ff"})
    c.expect_nothing(1.0)
    c.connect()
    tgt.accept_one(PORT)


@pytest.mark.rfc(9293, "3.9.2.3", "MUST")
@pytest.mark.tcp_req("MUST-63")
@pytest.mark.parametrize("src", ["255.255.255.255", "224.0.0.5", "0.0.0.0", "127.0.0.1"])
def test_syn_from_an_invalid_source_address_is_ignored(peer, sut, src):
    """A SYN whose source is a broadcast, multicast, unspecified or loopback
    address gets no answer at all, and creates no connection."""
    tgt = listening(sut)
    c = TcpPeer(peer, sut, remote_port=PORT)
    c.send_syn(ip={"src": src})

    def reply(pkt):
        seg = Seg.from_packet(pkt)
        return seg is not None and seg.sport == PORT

    assert peer.collect(1.0, reply) == []
    assert tgt.accepted(PORT) == []


@pytest.mark.rfc(9293, "3.9.1.1", "MUST")
@pytest.mark.tcp_req("MUST-46")
@pytest.mark.parametrize("dst", ["255.255.255.255", "10.33.0.255", "224.0.0.1"])
def test_connect_to_a_broadcast_or_multicast_address_is_refused(peer, sut, dst):
    """An active OPEN to a broadcast or multicast address is an error; no
    SYN goes out."""
    tgt = TargetTcp(sut)
    try:
        conn = tgt.connect(dst, 80)
    except AgentError:
        pass  # refused at once
    else:
        st = tgt.wait(conn, lambda s: s["error"] is not None, within=1.0, what="an error")
        assert st["state"] == "CLOSED"

    def syn(pkt):
        seg = Seg.from_packet(pkt)
        return seg is not None and seg.syn and seg.dst == dst

    assert peer.collect(0.5, syn, since_start=True) == []


@pytest.mark.rfc(9293, "3.9.1.1", "MUST")
@pytest.mark.tcp_req("MUST-42")
def test_listen_on_a_port_in_use_by_a_connection_in_syn_sent(peer, sut):
    """An application can LISTEN on a port while a connection with the same
    local port is in SYN-SENT; the listener then accepts connections."""
    tgt = TargetTcp(sut)
    c = TcpPeer(peer, sut)
    conn = tgt.connect(c.ip, c.port, local_port=6000)
    c.expect_syn()
    assert tgt.state(conn)["state"] == "SYN-SENT"
    tgt.listen(6000)
    other = TcpPeer(peer, sut, remote_port=6000, host=1)
    other.connect()
    tgt.accept_one(6000)
    assert tgt.state(conn)["state"] == "SYN-SENT"


@pytest.mark.rfc(9293, "3.9.1.1", "MUST")
@pytest.mark.tcp_req("MUST-41")
def test_a_new_listen_leaves_existing_connections_alone(peer, sut):
    """A passive OPEN creates a listener or fails; it never disturbs a
    connection that exists: listening on the port again (refused), and
    closing and reopening the listener, leave the connection working."""
    d = established(peer, sut)
    with contextlib.suppress(AgentError):
        d.tgt.listen(PORT)  # a second listener on the port: refused, or not
    d.tgt.unlisten(PORT)
    d.tgt.listen(PORT)
    d.c.send_data(b"still")
    d.c.expect(flags="A", ack=d.c.snd_nxt)
    assert d.tgt.recv_exactly(d.conn, 5) == b"still"
    d.tgt.send(d.conn, b"here")
    assert d.c.recv(4) == b"here"
    assert d.tgt.state(d.conn)["state"] == "ESTABLISHED"


@pytest.mark.rfc(9293, "3.9.2", "MUST")
@pytest.mark.tcp_req("MUST-50")
def test_ip_options_tcp_does_not_know_are_ignored(peer, sut):
    """A SYN and data in datagrams carrying IP options (an experimental
    option, RFC 4727, and NOPs) are handled as without them."""
    tgt = listening(sut)
    c = TcpPeer(peer, sut, remote_port=PORT)
    ip_opts = {"options": b"\x1e\x04\xab\xcd\x01\x01\x01\x00"}
    c.send_syn(ip=ip_opts)
    c.expect_syn_ack()
    c.send(flags="A", ip=ip_opts)
    conn = tgt.accept_one(PORT)
    c.send(flags="PA", payload=b"optioned", ip=ip_opts)
    c.expect(flags="A", ack=c.snd_nxt)
    assert tgt.recv_exactly(conn, 8) == b"optioned"


@pytest.mark.rfc(9293, "3.6.1", "MAY")
@pytest.mark.tcp_req("MAY-2")
def test_new_syn_reopens_a_connection_in_time_wait(peer, sut):
    """The target closed first and is in TIME-WAIT; a SYN of the same
    4-tuple with a sequence number above the old connection's may reopen
    it, with an ISN above the old connection's sequence numbers."""
    from .drive import drive

    d = drive(peer, sut, "TIME-WAIT")
    old_target_seq = d.c.rcv_nxt
    assert old_target_seq is not None
    again = TcpPeer(peer, sut, port=d.c.port, remote_port=PORT, iss=seq_add(d.c.snd_nxt, 100_000))
    again.send_syn()
    synack = again.expect_syn_ack()
    assert seq_gt(synack.seq, old_target_seq), (
        f"new ISN {synack.seq} not above the old connection's {old_target_seq}"
    )
    again.send(flags="A")
    conn = d.tgt.accept_one(PORT)
    again.send_data(b"second life")
    assert d.tgt.recv_exactly(conn, 11) == b"second life"
