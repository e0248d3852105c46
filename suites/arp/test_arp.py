"""ARP (RFC 826) with the host requirements of RFC 1122 §2.3.2 and the
address announcement of RFC 5227 §2.3."""

from __future__ import annotations

import itertools
import time

import pytest
from scapy.layers.inet import ICMP
from scapy.layers.l2 import ARP, Ether

from suites.netutil import (
    arp_frame,
    arp_reply_template,
    arp_request,
    arp_who_has,
    assert_alive,
    echo_request,
    expect_echo_reply,
    ip_bytes,
    mac_bytes,
)

pytestmark = pytest.mark.requires("arp")


@pytest.mark.rfc(826, "Packet Reception", "MUST")
def test_replies_to_a_request_for_its_own_address(peer, sut):
    """A broadcast who-has for the target's address gets an is-at reply,
    sent to the requester's MAC, that names the target's MAC and address."""
    peer.send(arp_request(peer, sut))
    reply = peer.expect(arp_reply_template(peer, sut), timeout=3.0)
    assert reply is not None, "no ARP reply to a who-has for the target's own address"
    assert reply[Ether].type == 0x0806
    assert reply[ARP].hwtype == 1 and reply[ARP].ptype == 0x0800
    assert reply[ARP].hwlen == 6 and reply[ARP].plen == 4


@pytest.mark.rfc(1122, "2.3.2.1", "MAY")
def test_replies_to_a_unicast_request(peer, sut):
    """A request sent to the target's own MAC (a unicast poll, as a host
    revalidating its cache sends) is answered like a broadcast one."""
    h = peer.host(0)
    request = Ether(src=h.mac, dst=sut.mac) / ARP(
        op=1, hwsrc=h.mac, psrc=h.ip, hwdst=sut.mac, pdst=sut.ip
    )
    peer.send(request)
    assert peer.expect(arp_reply_template(peer, sut), timeout=3.0) is not None


@pytest.mark.rfc(826, "Packet Reception", "MUST")
def test_silent_for_another_hosts_address(peer, sut, wire):
    """A who-has for an address that is not the target's gets no reply."""
    peer.send(arp_request(peer, sut, target_ip=wire.addr.unused_ip))
    assert peer.collect(1.5, Ether() / ARP(op=2)) == []
    assert_alive(peer, sut)


@pytest.mark.rfc(826, "Packet Reception", "MUST")
@pytest.mark.parametrize(
    "field,value",
    [("hlen", 8), ("plen", 6), ("ptype", 0x86DD), ("htype", 2), ("op", 3)],
    ids=["hlen-8", "plen-6", "ptype-ipv6", "htype-2", "opcode-3"],
)
def test_malformed_request_is_ignored(peer, sut, field, value):
    """A request whose hardware type, protocol type, address lengths or opcode
    the receiver does not support is dropped: RFC 826 has the receiver check
    ar$hrd and ar$pro (and their lengths) and handle only the opcodes it knows."""
    h = peer.host(0)
    kwargs = {field: value}
    hlen = kwargs.get("hlen", 6)
    plen = kwargs.get("plen", 4)
    sha = mac_bytes(h.mac).ljust(hlen, b"\x01")
    spa = ip_bytes(h.ip).ljust(plen, b"\0")
    tha = bytes(hlen)
    tpa = ip_bytes(sut.ip).ljust(plen, b"\0")
    frame = arp_frame(h.mac, "ff:ff:ff:ff:ff:ff", sha=sha, spa=spa, tha=tha, tpa=tpa, **kwargs)
    peer.send(frame)
    answered = peer.collect(1.5, Ether() / ARP())
    assert answered == [], f"the target answered an ARP with {field}={value}"
    assert_alive(peer, sut)


@pytest.mark.rfc(826, "Packet Reception", "MUST")
def test_truncated_request_is_ignored(peer, sut):
    """An ARP request cut short (a 34-byte frame: 20 of the 28 bytes of a
    request) is dropped without a reply, and nothing breaks."""
    h = peer.host(0)
    whole = arp_frame(
        h.mac,
        "ff:ff:ff:ff:ff:ff",
        sha=mac_bytes(h.mac),
        spa=ip_bytes(h.ip),
        tha=bytes(6),
        tpa=ip_bytes(sut.ip),
    )
    peer.send(whole[:34])
    assert peer.collect(1.5, Ether() / ARP()) == []
    assert_alive(peer, sut)


@pytest.mark.rfc(826, "Packet Reception", "MUST")
def test_request_for_target_teaches_the_requester(peer, sut):
    """RFC 826: when the request is for us and the sender is new, the
    sender's pair goes into the table. The target then answers an echo from
    that host without asking for its MAC first."""
    peer.arp_responder = False
    peer.send(arp_request(peer, sut, host=1))
    assert peer.expect(arp_reply_template(peer, sut, host=1), timeout=3.0) is not None
    request = echo_request(peer, sut, b"learned", host=1)
    peer.send(request)
    reply = expect_echo_reply(peer, sut, request, host=1)
    # An entry learned from a request may be revalidated later (Linux sends a
    # unicast probe after delay_first_probe_time), but not before the reply.
    asked = peer.from_target(arp_who_has(peer.host(1).ip))
    assert all(a.time >= reply.time for a in asked), "the target asked for a MAC it was taught"


@pytest.mark.rfc(826, "Packet Reception", "MUST")
def test_merge_rule_updates_a_known_sender(peer, sut, wire):
    """RFC 826's merge step: a packet from a sender already in the table
    updates its hardware address, even when the request is for someone else.
    Replies then go to the new MAC."""
    first = echo_request(peer, sut, b"before")
    peer.send(first)
    expect_echo_reply(peer, sut, first)  # the target has resolved host 0
    time.sleep(1.2)  # Linux ignores a second update within locktime (1 s)
    h = peer.host(0)
    new_mac = "02:00:00:33:00:77"
    peer.arp_responder = False
    peer.send(
        Ether(src=new_mac, dst="ff:ff:ff:ff:ff:ff")
        / ARP(op=1, hwsrc=new_mac, psrc=h.ip, pdst=wire.addr.unused_ip)
    )
    time.sleep(0.2)
    second = echo_request(peer, sut, b"after")
    second[Ether].src = new_mac
    peer.send(second)
    reply = peer.expect(Ether(dst=new_mac) / ICMP(type=0, id=second[ICMP].id), timeout=3.0)
    assert reply is not None, "the reply did not go to the sender's new MAC"


@pytest.mark.rfc(5227, "2.3", "SHOULD")
def test_announces_its_address_at_start(peer, sut):
    """On start-up the target announces its address with a gratuitous ARP:
    sender and target protocol address both its own."""
    announce = peer.expect(
        Ether(src=sut.mac) / ARP(psrc=sut.ip, pdst=sut.ip, hwsrc=sut.mac),
        timeout=3.0,
        since_start=True,
    )
    assert announce is not None, "no gratuitous ARP announcement after start"


@pytest.mark.rfc(1122, "2.3.2.2", "SHOULD")
def test_queued_packet_is_sent_after_resolution(peer, sut):
    """A datagram to an unresolved address is kept while the target asks for
    the MAC, and sent once the reply arrives."""
    peer.arp_responder = False
    request = echo_request(peer, sut, b"queued")
    peer.send(request)
    h = peer.host(0)
    asked = peer.expect(arp_who_has(h.ip), timeout=3.0)
    assert asked is not None, "the target did not ask for the sender's MAC"
    assert peer.collect(0.3, Ether() / ICMP(type=0)) == [], "replied before the MAC was known"
    peer.send(
        Ether(src=h.mac, dst=sut.mac)
        / ARP(op=2, hwsrc=h.mac, psrc=h.ip, hwdst=sut.mac, pdst=sut.ip)
    )
    expect_echo_reply(peer, sut, request)


@pytest.mark.rfc(1122, "2.3.2.1", "MUST")
def test_retries_unanswered_requests_at_a_bounded_rate(peer, sut):
    """An unanswered resolution is retried, but not flooded: RFC 1122 asks
    for a limit, recommending at most one request per second per address."""
    peer.arp_responder = False
    peer.send(echo_request(peer, sut, b"nobody-home"))
    asked = peer.collect(4.5, arp_who_has(peer.host(0).ip))
    assert len(asked) >= 2, f"{len(asked)} ARP request(s) in 4.5 s: no retry"
    gaps = [b.time - a.time for a, b in itertools.pairwise(asked)]
    assert min(gaps) >= 0.8, f"requests {min(gaps):.3f} s apart: faster than one per second"


@pytest.mark.rfc(1122, "2.3.2.1", "MUST")
def test_entry_expires_and_is_resolved_again(peer, sut):
    """Cache entries time out (the targets run with a 4 s ARP lifetime, see
    the TOML's tunables): after it, traffic to the host makes the target
    validate the entry again with an ARP request."""
    first = echo_request(peer, sut, b"fresh")
    peer.send(first)
    expect_echo_reply(peer, sut, first)
    time.sleep(2 * sut.tunables["arp_ttl_s"] + 1)
    peer.mark()
    second = echo_request(peer, sut, b"stale")
    peer.send(second)
    asked = peer.expect(arp_who_has(peer.host(0).ip), timeout=4.0)
    assert asked is not None, "no ARP request after the entry's lifetime"
    expect_echo_reply(peer, sut, second)


@pytest.mark.rfc(826, "Packet Reception", "MUST")
@pytest.mark.requires("arp-cache")
def test_cache_holds_the_resolved_pair(peer, sut):
    """After an exchange, the target's table maps the peer's address to its MAC."""
    request = echo_request(peer, sut, b"cache")
    peer.send(request)
    expect_echo_reply(peer, sut, request)
    h = peer.host(0)
    entries = sut.agent.request("arp")["entries"]
    mine = [e for e in entries if e["ip"] == h.ip]
    assert mine, f"no entry for {h.ip} in {entries}"
    assert mine[0]["mac"].lower() == h.mac and mine[0]["resolved"]
