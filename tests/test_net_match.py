"""Partial matching of frames against templates, and IPv4 reassembly."""

import pytest
from ringzero.net.frames import reassemble
from ringzero.net.match import matches, raw_prefilter
from scapy.layers.inet import ICMP, IP, TCP, fragment
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw

MAC_A = "02:00:00:33:00:0a"
MAC_T = "52:54:00:33:00:02"


def frame(packet):
    """As captured: parsed back from bytes."""
    return Ether(bytes(packet))


ECHO_REPLY = frame(
    Ether(src=MAC_T, dst=MAC_A)
    / IP(src="10.33.0.2", dst="10.33.0.10", flags="DF", ttl=64)
    / ICMP(type=0, id=7, seq=3)
    / Raw(b"hello")
)


@pytest.mark.parametrize(
    "template",
    [
        Ether(),
        Ether() / IP(),
        IP(src="10.33.0.2"),
        Ether(src=MAC_T.upper()) / ICMP(type="echo-reply"),
        Ether(dst=MAC_A) / IP(dst="10.33.0.10") / ICMP(type=0, id=7, seq=3),
        IP(flags="DF"),
        IP(flags=2),
        ICMP() / Raw(load="hello"),
        Raw(load=b"hello"),
        IP(ttl=lambda t: t > 1),
    ],
    ids=repr,
)
def test_templates_that_match(template):
    assert matches(ECHO_REPLY, template)
    quick = raw_prefilter(template)
    assert quick is None or quick(bytes(ECHO_REPLY))


@pytest.mark.parametrize(
    "template",
    [
        ARP(),
        Ether() / TCP(),
        IP(src="10.33.0.3"),
        Ether(src=MAC_A),
        ICMP(type=8),
        IP(flags="MF"),
        Raw(load=b"hell"),
        ICMP() / IP(),  # layers must appear in the template's order
        IP(ttl=lambda t: t < 2),
    ],
    ids=repr,
)
def test_templates_that_do_not_match(template):
    assert not matches(ECHO_REPLY, template)


@pytest.mark.parametrize(
    "template",
    [
        Ether() / ARP(),
        Ether(src=MAC_A),
        Ether(dst=MAC_T) / IP(),
        Ether() / IP() / ICMP(type=8),
        Ether() / TCP(),
        Ether(type=0x86DD),
    ],
    ids=repr,
)
def test_the_raw_prefilter_rejects_what_cannot_match(template):
    assert not raw_prefilter(template)(bytes(ECHO_REPLY))
    assert not matches(ECHO_REPLY, template)


def test_the_raw_prefilter_keeps_later_fragments():
    """A non-first fragment has no ICMP header: only the full match decides."""
    _, frames = _fragments()
    assert raw_prefilter(Ether() / IP() / ICMP(type=0))(bytes(frames[1]))


def test_a_callable_template_gets_the_frame():
    assert matches(ECHO_REPLY, lambda p: p[ICMP].seq == 3)
    assert not matches(ECHO_REPLY, lambda p: ARP in p)


def test_an_arp_template_ignores_fields_left_out():
    who_has = frame(
        Ether(src=MAC_T, dst="ff:ff:ff:ff:ff:ff")
        / ARP(op=1, hwsrc=MAC_T, psrc="10.33.0.2", pdst="10.33.0.10")
    )
    assert matches(who_has, Ether() / ARP(op=1, pdst="10.33.0.10"))
    assert matches(who_has, Ether(dst="FF:FF:FF:FF:FF:FF") / ARP(op="who-has"))
    assert not matches(who_has, Ether() / ARP(op=2))


def _fragments(payload_size=3000, ident=0x77, size=1000):
    datagram = (
        IP(src="10.33.0.2", dst="10.33.0.10", id=ident)
        / ICMP(type=0, id=ident)
        / Raw(bytes(i & 0xFF for i in range(payload_size)))
    )
    whole = IP(bytes(datagram))
    frames = []
    for n, f in enumerate(fragment(whole, fragsize=size)):
        p = frame(Ether(src=MAC_T, dst=MAC_A) / f)
        p.time = 100.0 + n
        frames.append(p)
    return whole, frames


def test_fragments_reassemble_into_the_datagram_in_any_order():
    whole, frames = _fragments()
    assert len(frames) == 4
    for order in (frames, frames[::-1], [frames[2], frames[0], frames[3], frames[1]]):
        out = reassemble(order)
        assert len(out) == 1
        got = out[0]
        assert got[IP].len == whole.len and got[IP].frag == 0 and not int(got[IP].flags) & 1
        assert bytes(got[IP].payload) == bytes(whole.payload)
        assert got[ICMP].id == 0x77
        assert got.time == order[-1].time  # when the last fragment arrived
        assert IP(bytes(got[IP])).chksum == got[IP].chksum  # a valid header


def test_interleaved_datagrams_and_whole_frames():
    _, a = _fragments(ident=1)
    _, b = _fragments(ident=2)
    arp = frame(Ether() / ARP())
    plain = frame(Ether() / IP(dst="10.33.0.10") / ICMP())
    mixed = [a[0], b[0], arp, a[1], b[1], plain, a[2], b[2], a[3], b[3]]
    out = reassemble(mixed)
    assert [ICMP in p and p[ICMP].id for p in out] == [False, 0, 1, 2]


def test_an_incomplete_datagram_is_left_out():
    _, frames = _fragments()
    assert reassemble(frames[:-1]) == []
    assert reassemble(frames[1:]) == []
    assert reassemble([frames[0], frames[1], frames[3]]) == []
