"""The scripted TCP peer's pure parts: sequence arithmetic, flags, option
encoding and parsing, segment building and parsing (against Scapy),
timing tolerances, and the state it tracks from segments."""

import pytest
from ringzero.net.peer import Host
from ringzero.net.tcp import (
    MOD,
    NATIVE,
    TCG,
    Seg,
    TcpPeer,
    Timing,
    assert_on_time,
    build_ipv4,
    build_segment,
    encode_options,
    ether_frame,
    field_tests,
    flags_text,
    flags_value,
    parse_options,
    seq_add,
    seq_between,
    seq_diff,
    seq_ge,
    seq_gt,
    seq_le,
    seq_lt,
    tcp_checksum,
    timing_for,
)
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

A, B = "10.33.0.10", "10.33.0.2"
MAC_A, MAC_B = "02:00:00:33:00:0a", "52:54:00:33:00:02"

# ---- sequence numbers -------------------------------------------------------------------


def test_sequence_arithmetic_wraps():
    assert seq_add(MOD - 10, 20) == 10
    assert seq_diff(10, MOD - 10) == 20
    assert seq_diff(MOD - 10, 10) == -20
    assert seq_lt(MOD - 1, 0) and seq_gt(0, MOD - 1)
    assert seq_le(5, 5) and seq_ge(5, 5)
    assert seq_between(MOD - 5, 3, 10) and not seq_between(MOD - 5, 11, 10)
    # Half the space away is "after" (RFC 1982-style tie broken one way).
    assert seq_diff(1 << 31, 0) == 1 << 31


# ---- flags ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [("SA", 0x12), ("AS", 0x12), ("F", 0x01), ("R", 0x04), ("PA", 0x18), ("UA", 0x30), ("", 0)],
)
def test_flags_both_ways(text, value):
    assert flags_value(text) == value
    assert flags_value(flags_text(value)) == value
    assert flags_value(value) == value


def test_flags_text_order_and_unknown_letters():
    assert flags_text(0x1FF) == "SFRPAUECN"
    with pytest.raises(ValueError, match="unknown TCP flag"):
        flags_value("SX")


# ---- options ----------------------------------------------------------------------------


def test_mandatory_options_encode_as_the_rfc_lays_them_out():
    assert encode_options([("mss", 1460)]) == b"\x02\x04\x05\xb4"
    assert encode_options(["nop", "eol"]) == b"\x01\x00\x00\x00"  # padded with zeros
    assert encode_options(["nop"], pad=False) == b"\x01"
    assert encode_options([]) == b""


def test_other_options_encode():
    assert encode_options([("wscale", 7)], pad=False) == b"\x03\x03\x07"
    assert encode_options(["sackok"], pad=False) == b"\x04\x02"
    assert encode_options([("ts", 1, 2)]) == b"\x08\x0a\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00"
    assert encode_options([("sack", [(1, 2)])], pad=False) == b"\x05\x0a" + bytes(
        [0, 0, 0, 1, 0, 0, 0, 2]
    )
    # Any kind, its length computed; raw octets verbatim (malformed lists).
    assert encode_options([(99, b"ab")], pad=False) == b"\x63\x04ab"
    assert encode_options([b"\x02\x00"], pad=False) == b"\x02\x00"
    with pytest.raises(ValueError, match="unknown option"):
        encode_options([("bogus", 1)])


def test_options_agree_with_scapy():
    raw = encode_options(["nop", ("mss", 1200), ("wscale", 3), "sackok", ("ts", 5, 6)])
    seg = build_segment(A, B, 1, 2, flags="S", options=raw)
    parsed = TCP(seg)
    assert dict((k, v) for k, v in parsed.options if k != "NOP") == {
        "MSS": 1200,
        "WScale": 3,
        "SAckOK": b"",
        "Timestamp": (5, 6),
    }


def test_parse_options_reads_what_was_encoded():
    raw = encode_options(["nop", ("mss", 536), (30, b"xyz"), "eol"])
    p = parse_options(raw)
    assert p.error is None
    assert [o.kind for o in p.options] == [1, 2, 30, 0]
    assert p.options[1].data == b"\x02\x18"
    assert str(p.options[1]) == "mss 536"
    assert p.after_eol == b"\0" * (len(raw) - 1 - raw.index(b"\x00", 9))


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"\x02\x00\x05\xb4", "length 0"),
        (b"\x02\x01\x05\xb4", "length 1"),
        (b"\x01\x01\x02\x08\x05\xb4", "runs past the header"),
        (b"\x01\x01\x01\x02", "no length octet"),
    ],
)
def test_parse_options_reports_malformed_lists(raw, error):
    p = parse_options(raw)
    assert p.error is not None and error in p.error


def test_padding_after_eol_is_kept_for_inspection():
    p = parse_options(b"\x01\x00\x00\x07")
    assert p.error is None and p.after_eol == b"\x00\x07"


# ---- building and parsing segments --------------------------------------------------------


def test_built_segment_has_scapys_checksum():
    payload = b"hello, world!"  # odd length: the checksum pads with a zero
    seg = build_segment(A, B, 40000, 5000, seq=7, ack=9, flags="PA", window=1000, payload=payload)
    pkt = IP(build_ipv4(A, B, seg))
    assert pkt[TCP].seq == 7 and pkt[TCP].ack == 9 and pkt[TCP].flags == "PA"
    want = pkt[TCP].chksum
    del pkt[TCP].chksum
    assert IP(bytes(pkt))[TCP].chksum == want == tcp_checksum(A, B, seg)
    assert IP(bytes(pkt)).chksum == pkt.chksum  # the IPv4 header checksum too


def test_header_fields_can_be_wrong_on_purpose():
    seg = build_segment(A, B, 1, 2, flags="A", dataofs=3, reserved=0b101, checksum=0xBEEF)
    assert seg[12] >> 4 == 3
    assert (int.from_bytes(seg[12:14], "big") >> 9) & 7 == 0b101
    assert seg[16:18] == b"\xbe\xef"
    with pytest.raises(ValueError, match="multiple of 4"):
        build_segment(A, B, 1, 2, options=b"\x01")


def test_seg_parse_bounds_data_by_the_ip_length():
    """A short segment in a 60-octet Ethernet frame: the padding is not data."""
    frame = ether_frame(MAC_A, MAC_B, build_ipv4(A, B, build_segment(A, B, 1, 2, payload=b"x")))
    assert len(frame) == 60
    seg = Seg.parse(frame, 1.5)
    assert seg is not None
    assert seg.payload == b"x" and seg.checksum_ok and seg.time == 1.5
    assert (seg.src, seg.dst, seg.sport, seg.dport) == (A, B, 1, 2)


def test_seg_parse_matches_scapy_on_a_syn_ack():
    pkt = (
        Ether(src=MAC_B, dst=MAC_A)
        / IP(src=B, dst=A)
        / TCP(
            sport=5000,
            dport=40000,
            seq=MOD - 1,
            ack=12345,
            flags="SA",
            window=64240,
            options=[("MSS", 1460), ("NOP", None), ("WScale", 7), ("SAckOK", b"")],
        )
    )
    seg = Seg.parse(bytes(pkt))
    assert seg is not None
    assert seg.flagstr == "SA" and seg.has("S") and seg.has("A") and not seg.has("F")
    assert (seg.seq, seg.ack, seg.window) == (MOD - 1, 12345, 64240)
    assert seg.mss == 1460 and seg.wscale == 7 and seg.sack_permitted
    assert seg.timestamps is None
    assert seg.seg_len == 1 and seg.end == 0  # the SYN's sequence number wraps
    assert seg.checksum_ok
    assert "[SA]" in str(seg) and "mss 1460" in str(seg)


def test_seg_parse_sees_a_bad_checksum_and_ignores_other_frames():
    raw = build_segment(A, B, 1, 2, payload=b"abc", checksum=0x1234)
    seg = Seg.parse(ether_frame(MAC_A, MAC_B, build_ipv4(A, B, raw)))
    assert seg is not None and not seg.checksum_ok
    assert Seg.parse(ether_frame(MAC_A, MAC_B, build_ipv4(A, B, b"\0" * 8, proto=17))) is None
    assert Seg.parse(b"\0" * 60) is None


def test_field_tests():
    seg = Seg.parse(
        ether_frame(
            MAC_B,
            MAC_A,
            build_ipv4(
                B,
                A,
                build_segment(
                    B, A, 5000, 40000, seq=100, ack=200, flags="FA", window=0, payload=b"zz"
                ),
            ),
        )
    )
    assert seg is not None

    def ok(**kw):
        return all(t(seg) for t in field_tests(**kw))

    assert ok(flags="AF", seq=100, ack=200, window=0, length=2, payload=b"zz")
    assert ok(has="F", lacks="SR", ack=lambda a: a > 150)
    assert not ok(flags="A")
    assert not ok(has="P")
    assert not ok(seq=101)
    assert not ok(options=["mss"])
    assert seg.seg_len == 3 and seg.end == 103


# ---- timing -----------------------------------------------------------------------------


def test_tolerance_is_the_larger_of_absolute_and_relative():
    t = Timing(absolute=0.004, relative=0.125)
    assert t.tolerance(0.010) == pytest.approx(0.004)  # 12.5 % of 10 ms is 1.25 ms
    assert t.tolerance(1.0) == pytest.approx(0.125)
    assert t.window(1.0) == pytest.approx((0.875, 1.125))
    assert t.on_time(1.0, 1.12) and not t.on_time(1.0, 1.13)
    assert t.on_time(0.0, 0.003) and not t.on_time(0.0, 0.005)


def test_tcg_is_more_generous():
    assert TCG.tolerance(0.1) == pytest.approx(0.05)
    assert TCG.tolerance(1.0) == pytest.approx(0.25)
    assert TCG.wait(2.0) > NATIVE.wait(2.0) == 2.0


def test_timing_for_a_target():
    class Vm:
        accel = "tcg"

    class Ns:
        pass

    assert timing_for(Vm()) is TCG
    assert timing_for(Ns()) is NATIVE


def test_assert_on_time_says_what_was_expected():
    assert_on_time(0.2, 0.21)
    with pytest.raises(AssertionError, match=r"came 300.0 ms .* expected 200.0 ms"):
        assert_on_time(0.2, 0.3, what="the retransmission")


# ---- the connection's state, without a network --------------------------------------------


class FakePeer:
    def __init__(self):
        self.frames = []

    def host(self, i):
        return Host("02:00:00:33:00:%02x" % (10 + i), f"10.33.0.{10 + i}")

    def send(self, *frames, gap=0.0):
        self.frames.extend(frames)


class FakeTarget:
    ip = B
    mac = MAC_B
    agent = None


def from_target(c, **kw):
    raw = build_segment(B, c.ip, c.remote_port or 5000, c.port, **kw)
    seg = Seg.parse(ether_frame(MAC_B, c.mac, build_ipv4(B, c.ip, raw)))
    assert seg is not None
    return seg


def test_handshake_and_data_move_the_sequence_numbers():
    fake = FakePeer()
    c = TcpPeer(fake, FakeTarget(), remote_port=5000, iss=MOD - 2, mss=1000)
    syn = c.send_syn()
    assert syn.flagstr == "S" and syn.seq == MOD - 2 and syn.mss == 1000
    assert c.snd_nxt == MOD - 1 and c.state == "SYN-SENT"
    c.update(
        from_target(c, seq=500, ack=MOD - 1, flags="SA", window=29200, options=b"\x02\x04\x02\x18")
    )
    assert c.state == "ESTABLISHED" and c.rcv_nxt == 501 and c.remote_mss == 536
    assert c.snd_una == MOD - 1 and c.snd_wnd == 29200
    ack = c.send(flags="A")
    assert (ack.seq, ack.ack) == (MOD - 1, 501)
    c.send(flags="PA", payload=b"abc")  # crosses 2**32
    assert c.snd_nxt == 2
    # An overriding seq leaves SND.NXT alone unless asked.
    c.send(seq=1000, payload=b"far")
    assert c.snd_nxt == 2
    c.send(seq=2, payload=b"de", advance=True)
    assert c.snd_nxt == 4
    # The target's data in order, a duplicate, then its FIN.
    c.update(from_target(c, seq=501, ack=4, flags="PA", window=1000, payload=b"hello"))
    c.update(from_target(c, seq=501, ack=4, flags="PA", window=1000, payload=b"hel"))
    c.update(from_target(c, seq=504, ack=4, flags="FPA", window=1000, payload=b"lo!"))
    assert bytes(c.received) == b"hello!" and c.rcv_nxt == 508
    assert c.fin_received and c.state == "CLOSE-WAIT" and c.snd_una == 4
    fin = c.send(flags="FA")
    assert fin.ack == 508 and c.state == "LAST-ACK"
    c.update(from_target(c, seq=508, ack=5, flags="A"))
    assert c.state == "CLOSED"
    assert len(fake.frames) == 6


def test_out_of_order_data_from_the_target_is_not_taken():
    c = TcpPeer(FakePeer(), FakeTarget(), remote_port=5000, iss=0)
    c.send_syn()
    c.update(from_target(c, seq=0, ack=1, flags="SA"))
    c.update(from_target(c, seq=10, ack=1, flags="A", payload=b"later"))
    assert c.rcv_nxt == 1 and not c.received


def test_scaled_windows_after_both_syns_carry_the_option():
    c = TcpPeer(FakePeer(), FakeTarget(), remote_port=5000, iss=0, window=1 << 19)
    syn = c.send_syn(options=[("mss", 1460), ("wscale", 4)])
    assert syn.window == 0xFFFF  # a SYN's window is never scaled
    c.update(from_target(c, seq=0, ack=1, flags="SA", window=1000, options=b"\x03\x03\x02\x00"))
    assert c.scaling and c.snd_wnd == 1000
    assert c.send(flags="A").window == (1 << 19) >> 4
    c.update(from_target(c, seq=1, ack=1, flags="A", window=1000))
    assert c.snd_wnd == 4000


def test_passive_side_learns_the_targets_port():
    c = TcpPeer(FakePeer(), FakeTarget(), port=4000, iss=77)
    assert c.remote_port is None
    with pytest.raises(RuntimeError, match="not known yet"):
        c.send()
    raw = build_segment(B, c.ip, 33333, 4000, seq=9, flags="S", options=b"\x02\x04\x05\xb4")
    syn = Seg.parse(ether_frame(MAC_B, c.mac, build_ipv4(B, c.ip, raw)))
    c.update(syn)
    assert c.remote_port == 33333 and c.rcv_nxt == 10 and c.state == "SYN-RECEIVED"
    synack = c.send_syn_ack()
    assert (synack.flagstr, synack.seq, synack.ack) == ("SA", 77, 10)


def test_timestamps_go_on_from_the_syns_tsval():
    """Once both SYNs carried timestamps, every segment carries one, our
    TSval continuing from the SYN's (PAWS would drop an older one) and
    echoing the target's latest."""
    c = TcpPeer(FakePeer(), FakeTarget(), remote_port=5000, iss=0)
    c.send_syn(options=[("mss", 1460), ("ts", 1000, 0)])
    ts_opt = b"\x01\x01\x08\x0a\x00\x00\x00\x07\x00\x00\x03\xe8"
    c.update(from_target(c, seq=0, ack=1, flags="SA", options=ts_opt))
    assert c.timestamps and c.ts_recent == 7
    val, ecr = c.send(flags="A").timestamps
    assert 1000 <= val < 1000 + 1000 and ecr == 7
