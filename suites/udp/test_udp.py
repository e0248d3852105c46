"""UDP (RFC 768) with the host requirements of RFC 1122 §4.1: delivery by
port, checksums, port unreachable, sending, many sockets. The target's agent
opens the sockets (udp_bind, with echo for RFC 862 over UDP); the wire's own
Linux sockets and the Scapy peer are the other end."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from scapy.layers.inet import ICMP, IP, UDP, IPerror, UDPerror
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from suites.netutil import assert_alive, fragments_of, pattern, to_target

pytestmark = pytest.mark.requires("udp")

ECHO = 7
CLOSED = 9999  # nobody binds it


@pytest.fixture
def echo(sut: Any) -> int:
    """The target's UDP echo socket (port 7)."""
    return int(sut.agent.request("udp_bind", port=ECHO, echo=True)["port"])


@pytest.fixture
def tools(wire: Any) -> Iterator[socket.socket]:
    """A UDP socket of the wire's own Linux stack, on the tools address."""
    s = wire.socket_in_ns(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((wire.addr.tools_ip, 0))
    s.settimeout(3.0)
    yield s
    s.close()


def recv(sut: Any, port: int) -> dict[str, Any]:
    return sut.agent.request("udp_recv", port=port)


def wait_datagrams(sut: Any, port: int, n: int, timeout: float = 3.0) -> list[dict[str, Any]]:
    """The first n datagrams the target's socket on port holds (fewer on timeout)."""
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        got += recv(sut, port)["datagrams"]
        if len(got) < n:
            time.sleep(0.05)
    return got


def udp_to(peer: Any, sut: Any, dport: int, data: bytes, host: int = 0, **udp: Any) -> Any:
    return to_target(peer, sut, host) / UDP(sport=40000 + host, dport=dport, **udp) / data


def echoed(peer: Any, sut: Any, sport: int, timeout: float = 2.0) -> Any:
    return peer.expect(Ether() / IP(src=sut.ip) / UDP(sport=ECHO, dport=sport), timeout)


@pytest.mark.rfc(768, "Fields", "MUST")
@pytest.mark.parametrize("size", [0, 1, 512, 1472, 1473, 4000, 8000, 65507])
def test_echo_returns_every_byte(sut, echo, tools, size):
    """A datagram of any size up to the largest (65,507 bytes of data in a
    65,535-byte IP datagram) is delivered whole, and the echo comes back
    whole: over 1,472 bytes both ways go in IP fragments."""
    data = pattern(size, seed=size & 0xFF)
    tools.sendto(data, (sut.ip, echo))
    back, src = tools.recvfrom(65535)
    assert src == (sut.ip, echo)
    assert back == data


@pytest.mark.rfc(1122, "4.1.3.4", "MUST")
def test_checksum_is_generated_and_correct(peer, sut, echo):
    """A host MUST be able to generate the UDP checksum (and ringzero, like
    Linux, always does); the echo's checksum covers the pseudo-header."""
    sent = udp_to(peer, sut, echo, pattern(101))
    peer.send(sent)
    reply = echoed(peer, sut, sent[UDP].sport)
    assert reply is not None, "no echo"
    assert reply[UDP].chksum != 0
    # Scapy recomputes a checksum left unset: it must be the one that came.
    again = IP(bytes(reply[IP]))
    again[UDP].chksum = None
    assert IP(bytes(again))[UDP].chksum == reply[UDP].chksum


@pytest.mark.rfc(1122, "4.1.3.4", "MUST")
def test_bad_checksum_is_silently_discarded(peer, sut, echo):
    """A datagram whose nonzero checksum is wrong MUST be discarded
    silently: no echo, no ICMP; a correct one right after is echoed."""
    bad = udp_to(peer, sut, echo, b"bad checksum", chksum=0x1234)
    peer.send(bad)
    assert peer.collect(1.0, Ether() / IP(src=sut.ip)) == []
    good = udp_to(peer, sut, echo, b"good checksum")
    peer.send(good)
    assert echoed(peer, sut, good[UDP].sport) is not None


@pytest.mark.rfc(768, "Fields", "MUST")
def test_zero_checksum_means_none_and_is_accepted(peer, sut, echo):
    """An all-zero checksum field means the sender computed none (RFC 768):
    the datagram is delivered."""
    sent = udp_to(peer, sut, echo, b"no checksum", chksum=0)
    peer.send(sent)
    reply = echoed(peer, sut, sent[UDP].sport)
    assert reply is not None, "a datagram without a checksum was not delivered"
    assert reply[Raw].load == b"no checksum"


@pytest.mark.rfc(768, "Fields", "MUST")
def test_length_beyond_the_datagram_is_discarded(peer, sut, echo):
    """A UDP length field larger than the IP payload cannot be honoured:
    the datagram is dropped, and the stack keeps answering."""
    sent = udp_to(peer, sut, echo, b"short", len=8 + 50, chksum=0)
    peer.send(sent)
    assert peer.collect(1.0, Ether() / IP(src=sut.ip) / UDP()) == []
    assert_alive(peer, sut)


@pytest.mark.rfc(1122, "4.1.3.1", "SHOULD")
def test_port_unreachable_quotes_the_datagram(peer, sut):
    """A datagram to a port nobody listens on SHOULD get an ICMP port
    unreachable, whose quote (RFC 792: the IP header and at least 64 bits of
    data) identifies the datagram."""
    sent = udp_to(peer, sut, CLOSED, pattern(40))
    sent[IP].id = 0x5151
    peer.send(sent)
    err = peer.expect(Ether() / IP(src=sut.ip) / ICMP(type=3, code=3))
    assert err is not None, "no port unreachable"
    assert err[IP].dst == sent[IP].src
    quote = err[IPerror]
    assert quote.id == 0x5151 and quote.src == sent[IP].src and quote.dst == sut.ip
    assert err[UDPerror].sport == sent[UDP].sport and err[UDPerror].dport == CLOSED


@pytest.mark.rfc(1122, "4.1.3.1", "MUST")
def test_no_port_unreachable_about_a_broadcast(peer, sut, wire):
    """No ICMP error may be sent about a datagram to a broadcast address
    (RFC 1122 §3.2.2), so a broadcast to a closed port gets no answer."""
    sent = (
        Ether(src=peer.host(0).mac, dst="ff:ff:ff:ff:ff:ff")
        / IP(src=peer.host(0).ip, dst=wire.addr.broadcast)
        / UDP(sport=40000, dport=CLOSED)
        / b"anyone?"
    )
    peer.send(sent)
    assert peer.collect(1.0, Ether() / IP(src=sut.ip) / ICMP()) == []


@pytest.mark.rfc(768, "User Interface", "MUST")
def test_a_bound_socket_sees_source_destination_and_data(peer, sut):
    """The receiver learns the source address and port, and the data."""
    port = int(sut.agent.request("udp_bind", port=5000)["port"])
    sent = udp_to(peer, sut, port, pattern(77, seed=3), host=1)
    peer.send(sent)
    got = wait_datagrams(sut, port, 1)
    assert len(got) == 1
    d = got[0]
    assert (d["src"], d["src_port"], d["dst"]) == (peer.host(1).ip, sent[UDP].sport, sut.ip)
    assert bytes.fromhex(d["hex"]) == pattern(77, seed=3)
    assert d["broadcast"] is False


@pytest.mark.rfc(1122, "4.1.3.6", "MUST")
def test_broadcasts_reach_a_bound_socket(peer, sut, wire):
    """A UDP datagram to the limited or the subnet broadcast address is
    delivered to the port's socket, and the receiver can tell it was a
    broadcast (RFC 1122 §4.1.3.6: the destination address is passed up)."""
    port = int(sut.agent.request("udp_bind", port=5001)["port"])
    for dst in ("255.255.255.255", wire.addr.broadcast):
        peer.send(
            Ether(src=peer.host(0).mac, dst="ff:ff:ff:ff:ff:ff")
            / IP(src=peer.host(0).ip, dst=dst)
            / UDP(sport=40000, dport=port)
            / dst.encode()
        )
    got = wait_datagrams(sut, port, 2)
    assert sorted(d["dst"] for d in got) == sorted(["255.255.255.255", wire.addr.broadcast])
    assert all(d["broadcast"] for d in got)


@pytest.mark.rfc(1122, "3.3.2", "MUST")
def test_fragmented_datagram_arrives_whole(peer, sut):
    """A datagram sent in fragments (in reverse order here) is reassembled
    before delivery."""
    port = int(sut.agent.request("udp_bind", port=5002)["port"])
    data = pattern(3000, seed=11)
    sent = udp_to(peer, sut, port, data)
    peer.send(*reversed(fragments_of(sent)))
    got = wait_datagrams(sut, port, 1)
    assert len(got) == 1 and bytes.fromhex(got[0]["hex"]) == data


@pytest.mark.rfc(768, "User Interface", "MUST")
def test_target_sends_from_its_bound_port(sut, tools, wire):
    """A datagram the target sends carries the socket's port as its source
    port and arrives whole, small or in fragments."""
    port = int(sut.agent.request("udp_bind", port=5003)["port"])
    dst_port = tools.getsockname()[1]
    for size in (10, 3000):
        r = sut.agent.request(
            "udp_send", port=port, ip=wire.addr.tools_ip, dst_port=dst_port, size=size, seed=5
        )
        assert r["result"] in ("sent", "queued")
        data, src = tools.recvfrom(65535)
        assert src == (sut.ip, port)
        assert data == pattern(size, seed=5)


@pytest.mark.rfc(1122, "4.1.3.1", "SHOULD")
def test_closed_then_reopened_port(peer, sut):
    """After the socket closes, its port is unreachable; bound again, the
    port delivers again."""
    port = int(sut.agent.request("udp_bind", port=5004)["port"])
    sut.agent.request("udp_close", port=port)
    sent = udp_to(peer, sut, port, b"closed?")
    peer.send(sent)
    err = peer.expect(Ether() / IP(src=sut.ip) / ICMP(type=3, code=3))
    assert err is not None and err[UDPerror].dport == port
    sut.agent.request("udp_bind", port=port)
    peer.send(udp_to(peer, sut, port, b"open again"))
    got = wait_datagrams(sut, port, 1)
    assert [bytes.fromhex(d["hex"]) for d in got] == [b"open again"]


@pytest.mark.rfc(768, "User Interface", "MUST")
def test_many_sockets_each_get_their_own(sut, tools):
    """100 sockets at once: each receives exactly the datagram for its port."""
    ports = [int(sut.agent.request("udp_bind", port=6000 + i)["port"]) for i in range(100)]
    for p in ports:
        tools.sendto(f"for {p}".encode(), (sut.ip, p))
    for p in ports:
        got = wait_datagrams(sut, p, 1)
        assert [bytes.fromhex(d["hex"]) for d in got] == [f"for {p}".encode()], f"port {p}"


@pytest.mark.rfc(768, "User Interface", "MUST")
def test_a_burst_of_datagrams_is_echoed_without_loss(sut, echo, tools):
    """300 datagrams sent back to back are all echoed (no queue on the way
    drops one)."""
    n = 300
    for i in range(n):
        tools.sendto(i.to_bytes(4, "big") + pattern(200, seed=i & 0xFF), (sut.ip, echo))
    seen = set()
    while len(seen) < n:
        try:
            data, _ = tools.recvfrom(65535)
        except TimeoutError:
            break
        seen.add(int.from_bytes(data[:4], "big"))
    assert len(seen) == n, f"{n - len(seen)} of {n} datagrams not echoed"


@pytest.mark.rfc(1122, "4.1.3.3", "MUST")
def test_icmp_port_unreachable_reaches_the_sending_socket(sut, wire):
    """UDP MUST pass the ICMP errors it receives to the application: a
    datagram to a port nobody listens on in the wire's Linux draws a port
    unreachable, which the sending socket hears of, with the destination."""
    probe = wire.socket_in_ns(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind((wire.addr.tools_ip, 0))
    closed = probe.getsockname()[1]
    probe.close()
    port = int(sut.agent.request("udp_bind", port=5006)["port"])
    sut.agent.request("udp_send", port=port, ip=wire.addr.tools_ip, dst_port=closed, size=8)
    deadline = time.monotonic() + 3.0
    errors: list[dict[str, Any]] = []
    while not errors and time.monotonic() < deadline:
        time.sleep(0.1)
        errors = recv(sut, port)["errors"]
    assert errors == [{"dst": wire.addr.tools_ip, "dst_port": closed, "why": "port_unreachable"}]


@pytest.mark.requires("udp-send-errors")
@pytest.mark.rfc(1122, "4.1.4", "MUST")
def test_a_datagram_that_cannot_be_delivered_is_reported(sut, wire):
    """RFC 1122 §4.1.4 asks that the application learn of errors. A datagram
    to an address nobody answers ARP for is queued ("queued"), and when ARP
    gives up (3 requests, 1 s apart) the socket hears of it, with the
    destination and the reason."""
    port = int(sut.agent.request("udp_bind", port=5005)["port"])
    r = sut.agent.request("udp_send", port=port, ip=wire.addr.unused_ip, dst_port=9, size=10)
    assert r["result"] == "queued"
    deadline = time.monotonic() + 6.0
    errors: list[dict[str, Any]] = []
    while not errors and time.monotonic() < deadline:
        time.sleep(0.2)
        errors = recv(sut, port)["errors"]
    assert errors == [{"dst": wire.addr.unused_ip, "dst_port": 9, "why": "no_route"}]


@pytest.mark.rfc(1122, "4.1.3.4", "MUST")
def test_bad_datagrams_leave_the_stack_answering(peer, sut, echo):
    """Truncated headers and impossible lengths are dropped; the target
    still answers ping and the echo socket still works."""
    frames = [
        to_target(peer, sut, proto=17) / b"\x00\x01",  # 2 bytes of a header
        udp_to(peer, sut, echo, b"len<8", len=4, chksum=0),  # length below the header's
    ]
    peer.send(*frames)
    assert peer.collect(0.5, Ether() / IP(src=sut.ip) / UDP()) == []
    assert_alive(peer, sut)
    sent = udp_to(peer, sut, echo, b"still here")
    peer.send(sent)
    assert echoed(peer, sut, sent[UDP].sport) is not None
