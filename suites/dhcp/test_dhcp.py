"""The DHCP client (RFC 2131, options RFC 2132) against a DHCP server the
test scripts on the Scapy peer: each test boots the target with ip=dhcp
and plays the server's side message by message, including the replies a
real server would not send."""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest
from scapy.layers.dhcp import BOOTP
from scapy.layers.inet import IP
from scapy.layers.l2 import ARP, Ether

from suites.dhcp.dhcputil import (
    ACK,
    DECLINE,
    DISCOVER,
    NAK,
    OFFER,
    REQUEST,
    ClientMessage,
    Server,
    client_messages,
    next_message,
    option_bytes,
)
from suites.netutil import assert_alive

# arp_probes=0: no RFC 5227 probing unless a test asks (it adds ~4 s).
pytestmark = [
    pytest.mark.requires("dhcp-client"),
    pytest.mark.boot_args("ip=dhcp", "arp_probes=0"),
]

# Timing windows: the RFC's +-1 s randomization, plus slack for a guest
# under TCG and the 100 ms tick of the stack's timers.
SLACK = 0.6


def agent_dhcp(sut: Any) -> dict[str, Any]:
    return sut.agent.request("dhcp")


def wait_state(sut: Any, state: str, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        d = agent_dhcp(sut)
        if d["state"] == state or time.monotonic() >= deadline:
            return d
        time.sleep(0.05)


def first_discover(peer: Any) -> ClientMessage:
    m = next_message(peer, DISCOVER, timeout=5.0)
    assert m is not None, "the client sent no DISCOVER"
    return m


def lease(peer: Any, sut: Any, server: Server, yiaddr: str, lease_s: int = 3600) -> ClientMessage:
    """DISCOVER, OFFER, REQUEST, ACK; returns the REQUEST."""
    d = first_discover(peer)
    peer.send(server.reply(d, OFFER, yiaddr, lease_s=lease_s))
    r = next_message(peer, REQUEST, after=d.time, timeout=3.0)
    assert r is not None, "no REQUEST after the OFFER"
    peer.send(server.reply(r, ACK, yiaddr, lease_s=lease_s))
    state = wait_state(sut, "bound")
    assert state["state"] == "bound", state
    return r


@pytest.mark.rfc(2131, "3.1", "MUST")
def test_a_lease_configures_the_interface(peer, sut, wire):
    """DISCOVER (broadcast, from 0.0.0.0), OFFER, REQUEST naming the offer
    and its server with the same xid, ACK: the interface takes the address,
    mask and router, announces the address, and answers ping on it."""
    server = Server(peer, router=wire.addr.tools_ip, dns=(wire.addr.tools_ip,))
    d = first_discover(peer)
    assert d.packet[Ether].dst == "ff:ff:ff:ff:ff:ff"
    assert (d.packet[IP].src, d.packet[IP].dst) == ("0.0.0.0", "255.255.255.255")
    assert d.packet[BOOTP].chaddr[:6] == bytes.fromhex(sut.mac.replace(":", ""))
    wanted = d.options.get("param_req_list", [])
    assert {1, 3, 6, 51, 54} <= set(wanted if isinstance(wanted, list) else [wanted])
    peer.send(server.reply(d, OFFER, sut.ip))
    r = next_message(peer, REQUEST, after=d.time, timeout=3.0)
    assert r is not None
    assert r.xid == d.xid
    assert r.options.get("requested_addr") == sut.ip
    assert r.options.get("server_id") == server.ip
    assert r.ciaddr == "0.0.0.0"
    peer.send(server.reply(r, ACK, sut.ip))
    state = wait_state(sut, "bound")
    assert state["lease"]["address"] == sut.ip
    assert state["lease"]["gateway"] == wire.addr.tools_ip
    assert state["lease"]["dns"] == [wire.addr.tools_ip]
    assert state["lease"]["server"] == server.ip
    config = sut.agent.request("config")
    assert (config["ip"], config["prefix"], config["gateway"]) == (
        sut.ip,
        24,
        wire.addr.tools_ip,
    )
    announce = peer.expect(Ether() / ARP(op=1, psrc=sut.ip, pdst=sut.ip), since_start=True)
    assert announce is not None, "the leased address was not announced (RFC 5227 2.3)"
    assert wire.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", sut.ip]).returncode == 0


@pytest.mark.rfc(2131, "4.1", "SHOULD")
def test_discover_is_retransmitted_with_randomized_exponential_backoff(peer, sut):
    """With no server, DISCOVERs repeat after about 4 s, then 8 s (each
    randomized by -1..+1 s), with the same xid and the secs field counting
    up."""
    first = first_discover(peer)
    msgs = [first]
    for _ in range(2):
        m = next_message(peer, DISCOVER, after=msgs[-1].time, timeout=12.0)
        assert m is not None, f"only {len(msgs)} DISCOVERs"
        msgs.append(m)
    gaps = [b.time - a.time for a, b in itertools.pairwise(msgs)]
    for gap, base in zip(gaps, (4.0, 8.0), strict=True):
        assert base - 1 - SLACK <= gap <= base + 1 + SLACK, f"gaps {gaps}"
    assert {m.xid for m in msgs} == {first.xid}
    secs = [int(m.packet[BOOTP].secs) for m in msgs]
    assert secs == sorted(secs) and secs[-1] >= 10, f"secs {secs}"


@pytest.mark.rfc(2131, "4.1", "SHOULD")
def test_a_lost_ack_makes_the_request_go_again(peer, sut):
    """The ACK never comes: the REQUEST is sent again about 4 s later with
    the same xid; ACKing that one binds."""
    server = Server(peer)
    d = first_discover(peer)
    peer.send(server.reply(d, OFFER, sut.ip))
    r1 = next_message(peer, REQUEST, after=d.time, timeout=3.0)
    assert r1 is not None
    r2 = next_message(peer, REQUEST, after=r1.time, timeout=8.0)
    assert r2 is not None, "the REQUEST was not retransmitted"
    assert 3.0 - SLACK <= r2.time - r1.time <= 5.0 + SLACK
    assert r2.xid == r1.xid and r2.options.get("requested_addr") == sut.ip
    peer.send(server.reply(r2, ACK, sut.ip))
    assert wait_state(sut, "bound")["state"] == "bound"


@pytest.mark.rfc(2131, "3.1", "MUST")
def test_a_nak_restarts_the_configuration(peer, sut):
    """A NAK to the REQUEST sends the client back to INIT: a new DISCOVER
    at once, with a new xid, and no address taken."""
    server = Server(peer)
    d = first_discover(peer)
    peer.send(server.reply(d, OFFER, sut.ip))
    r = next_message(peer, REQUEST, after=d.time, timeout=3.0)
    assert r is not None
    peer.send(server.reply(r, NAK, sut.ip))
    again = next_message(peer, DISCOVER, after=r.time, timeout=2.0)
    assert again is not None, "no DISCOVER after the NAK"
    assert again.time - r.time < 2.0
    assert again.xid != d.xid
    assert agent_dhcp(sut)["state"] == "selecting"
    assert sut.agent.request("config")["ip"] == "0.0.0.0"


@pytest.mark.rfc(2131, "3.1", "MUST")
def test_of_two_offers_one_is_requested_by_its_server_id(peer, sut):
    """Two servers offer different addresses: the REQUEST is broadcast (so
    both hear it) and names exactly one of them, with that server's offer;
    the lease is the one the named server ACKs."""
    a, b = Server(peer, host=0), Server(peer, host=1)
    offers = {a.ip: sut.ip, b.ip: peer.host(5).ip}
    d = first_discover(peer)
    peer.send(a.reply(d, OFFER, offers[a.ip]), b.reply(d, OFFER, offers[b.ip]))
    r = next_message(peer, REQUEST, after=d.time, timeout=3.0)
    assert r is not None
    chosen = r.options.get("server_id")
    assert chosen in offers
    assert r.options.get("requested_addr") == offers[chosen]
    assert r.packet[IP].dst == "255.255.255.255"
    time.sleep(1.0)
    requests = [m for m in client_messages(peer) if m.type == REQUEST]
    assert len(requests) == 1, "more than one REQUEST for two offers"
    server = a if chosen == a.ip else b
    peer.send(server.reply(r, ACK, offers[chosen]))
    assert wait_state(sut, "bound")["lease"]["address"] == offers[chosen]


@pytest.mark.rfc(2131, "4.4.5", "MUST")
def test_renewing_at_t1_is_unicast_to_the_server(peer, sut):
    """At T1 (half the lease, +-2.5 %) the client asks the server that gave
    the lease, by unicast from its address, with ciaddr set and neither a
    requested address nor a server id (RFC 2131 4.3.2); the ACK renews."""
    server = Server(peer)
    lease_s = 16
    lease(peer, sut, server, sut.ip, lease_s=lease_s)
    bound = time.time()
    r = next_message(peer, REQUEST, after=bound, timeout=lease_s)
    assert r is not None, "no renewal"
    t1 = r.time - bound
    assert 0.475 * lease_s - SLACK <= t1 <= 0.525 * lease_s + SLACK, f"T1 after {t1:.2f} s"
    assert r.packet[IP].dst == server.ip and r.packet[Ether].dst == server.mac
    assert r.packet[IP].src == sut.ip and r.ciaddr == sut.ip
    assert "requested_addr" not in r.options and "server_id" not in r.options
    assert agent_dhcp(sut)["state"] == "renewing"
    peer.send(server.reply(r, ACK, sut.ip, lease_s=3600))
    state = wait_state(sut, "bound")
    assert state["state"] == "bound" and state["lease"]["lease_s"] == 3600
    assert state["stats"]["leases"] == 2
    assert_alive(peer, sut)


@pytest.mark.rfc(2131, "4.4.5", "MUST")
def test_rebinding_at_t2_is_broadcast(peer, sut):
    """The server ignores the renewal: at T2 (7/8 of the lease, +-2.5 %)
    the client broadcasts its REQUEST to any server; an ACK to that keeps
    the address."""
    server = Server(peer)
    lease_s = 16
    lease(peer, sut, server, sut.ip, lease_s=lease_s)
    bound = time.time()
    renew = next_message(peer, REQUEST, after=bound, timeout=lease_s)
    assert renew is not None and renew.packet[IP].dst == server.ip
    rebind = next_message(peer, REQUEST, after=renew.time, timeout=lease_s)
    assert rebind is not None, "no rebinding REQUEST"
    t2 = rebind.time - bound
    assert 0.85 * lease_s - SLACK <= t2 <= 0.90 * lease_s + SLACK, f"T2 after {t2:.2f} s"
    assert rebind.packet[IP].dst == "255.255.255.255"
    assert rebind.packet[Ether].dst == "ff:ff:ff:ff:ff:ff"
    assert rebind.ciaddr == sut.ip and rebind.packet[IP].src == sut.ip
    assert agent_dhcp(sut)["state"] == "rebinding"
    peer.send(server.reply(rebind, ACK, sut.ip, lease_s=3600))
    assert wait_state(sut, "bound")["state"] == "bound"
    assert sut.agent.request("config")["ip"] == sut.ip


MALFORMED = {
    # DNS servers: says 8 bytes, has 3, then END.
    "truncated": option_bytes((53, b"\x02"), (54, bytes(4)), end=False)
    + b"\x06\x08\x0a\x00\x00\xff",
    # A host name whose length runs past the end of the message.
    "overlong": option_bytes((53, b"\x02"), (54, bytes(4)), end=False) + b"\x0c\xc8abc",
    # Well-formed options, no END.
    "missing_end": option_bytes(
        (53, b"\x02"), (54, bytes(4)), (51, b"\x00\x00\x0e\x10"), end=False
    ),
    # A subnet mask of 5 bytes.
    "bad_length": option_bytes((53, b"\x02"), (54, bytes(4)), (1, b"\xff\xff\xff\x00\x00")),
}


@pytest.mark.rfc(2132, "2", "MUST")
@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_malformed_options_are_ignored_safely(peer, sut, kind):
    """An OFFER whose options are malformed (truncated, running past the
    message, without END, of a wrong length) is dropped: no REQUEST for
    it, the client keeps selecting and takes a well-formed OFFER after."""
    server = Server(peer)
    d = first_discover(peer)
    raw = MALFORMED[kind].replace(bytes(4), bytes(map(int, server.ip.split("."))), 1)
    peer.send(server.reply(d, OFFER, sut.ip, raw_options=raw))
    assert next_message(peer, REQUEST, after=d.time, timeout=1.0) is None
    state = agent_dhcp(sut)
    assert state["state"] == "selecting"
    counters = sut.agent.request("stats")["counters"]
    assert counters["dhcp.rx.drop.bad_options"] == 1
    peer.send(server.reply(d, OFFER, sut.ip))
    assert next_message(peer, REQUEST, after=d.time, timeout=3.0) is not None


@pytest.mark.boot_args("ip=dhcp", "arp_probes=1")
@pytest.mark.rfc(2131, "3.1", "MUST")
def test_an_address_in_use_is_declined(peer, sut):
    """RFC 5227 2.1: before using the ACKed address the client probes for it
    (ARP, sender 0.0.0.0). Here another host owns it and answers, so the
    client MUST send DECLINE (RFC 2131 3.1 step 5) naming the address and
    the server, not use it, and start over no sooner than 10 s later."""
    server = Server(peer)
    taken = peer.host(3).ip  # the peer answers ARP for its virtual hosts
    d = first_discover(peer)
    peer.send(server.reply(d, OFFER, taken))
    r = next_message(peer, REQUEST, after=d.time, timeout=3.0)
    assert r is not None
    peer.send(server.reply(r, ACK, taken))
    probe = peer.expect(Ether() / ARP(op=1, psrc="0.0.0.0", pdst=taken), timeout=3.0)
    assert probe is not None, "no ARP probe for the leased address"
    decline = next_message(peer, DECLINE, after=r.time, timeout=3.0)
    assert decline is not None, "no DECLINE"
    assert decline.options.get("requested_addr") == taken
    assert decline.options.get("server_id") == server.ip
    assert decline.packet[IP].src == "0.0.0.0" and decline.packet[IP].dst == "255.255.255.255"
    assert sut.agent.request("config")["ip"] == "0.0.0.0"
    again = next_message(peer, DISCOVER, after=decline.time, timeout=14.0)
    assert again is not None, "no new DISCOVER after the DECLINE"
    assert again.time - decline.time >= 10.0 - SLACK


@pytest.mark.boot_args("ip=dhcp", "arp_probes=0", "dhcp_fallback=10.33.0.2/24", "dhcp_timeout=3")
@pytest.mark.rfc(2131, "3.1", "MAY")
def test_without_a_server_the_fallback_address_is_used(peer, sut):
    """No lease within dhcp_timeout: the configured static address is used
    (and answers ping), and the client stops asking."""
    first_discover(peer)
    state = wait_state(sut, "fallback", timeout=6.0)
    assert state["state"] == "fallback"
    assert sut.agent.request("config")["ip"] == sut.ip
    assert_alive(peer, sut)
    stopped = time.time()
    assert next_message(peer, DISCOVER, after=stopped, timeout=5.0) is None
