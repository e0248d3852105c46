"""Frame builders and checks the network suites share. They build packets
and compare them; the harness (ringzero.net) does the sending and capture."""

from __future__ import annotations

import itertools
import struct
from typing import Any

from ringzero.net.frames import reassemble
from ringzero.net.peer import Peer
from scapy.layers.inet import ICMP, IP, fragment
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet, Raw

# Echo identifiers differ per call so a late reply to an earlier probe never
# satisfies a later expectation.
_ident = itertools.count(0x4200)


def new_ident() -> int:
    return next(_ident) & 0xFFFF


def pattern(size: int, seed: int = 0) -> bytes:
    """A payload in which every offset is distinguishable."""
    return bytes((i * 7 + seed) & 0xFF for i in range(size))


def to_target(peer: Peer, sut: Any, host: int = 0, **ip: Any) -> Packet:
    """Ether/IP from virtual host `host` to the target (fields overridable)."""
    h = peer.host(host)
    fields = {"src": h.ip, "dst": sut.ip, **ip}
    return Ether(src=h.mac, dst=sut.mac) / IP(**fields)


def echo_request(
    peer: Peer,
    sut: Any,
    payload: bytes = b"",
    ident: int | None = None,
    seq: int = 1,
    host: int = 0,
    **ip: Any,
) -> Packet:
    ident = new_ident() if ident is None else ident
    return to_target(peer, sut, host, **ip) / ICMP(type=8, id=ident, seq=seq) / Raw(payload)


def echo_reply_template(peer: Peer, sut: Any, request: Packet, host: int = 0) -> Packet:
    h = peer.host(host)
    return (
        Ether(dst=h.mac)
        / IP(src=sut.ip, dst=h.ip)
        / ICMP(type=0, id=request[ICMP].id, seq=request[ICMP].seq)
    )


def fragments_of(datagram: Packet, size: int = 1480) -> list[Packet]:
    """The IPv4 fragments of datagram (an Ether/IP packet), each in its own frame,
    `size` payload bytes per fragment (a multiple of 8)."""
    ether = datagram[Ether]
    ip = IP(bytes(datagram[IP]))  # checksums and lengths computed once
    return [Ether(src=ether.src, dst=ether.dst) / f for f in fragment(ip, fragsize=size)]


def icmp_payload(packet: Packet) -> bytes:
    """The echo data of a (reassembled) ICMP echo message."""
    ip = bytes(packet[IP])
    header = (ip[0] & 0x0F) * 4
    total = int.from_bytes(ip[2:4], "big")
    # Bounded by the total length: link-layer padding (a 60-byte minimum
    # Ethernet frame) is not data.
    return ip[header + 8 : total]


def whole_replies(frames: list[Packet]) -> list[Packet]:
    """IPv4 datagrams from frames, fragments reassembled."""
    return reassemble(frames)


def expect_echo_reply(
    peer: Peer, sut: Any, request: Packet, timeout: float = 3.0, host: int = 0
) -> Packet:
    reply = peer.expect(echo_reply_template(peer, sut, request, host), timeout=timeout)
    assert reply is not None, (
        f"no echo reply (id {request[ICMP].id:#x}, seq {request[ICMP].seq}) within {timeout} s"
    )
    return reply


def assert_alive(peer: Peer, sut: Any) -> None:
    """The target still answers a plain echo: a silence observed just before
    was the target choosing not to answer, not the target being gone."""
    request = echo_request(peer, sut, b"still-alive")
    peer.send(request)
    expect_echo_reply(peer, sut, request, timeout=5.0)


def ip_checksum_ok(raw_header: bytes) -> bool:
    total = 0
    for (word,) in struct.iter_unpack("!H", raw_header):
        total += word
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total == 0xFFFF


def arp_frame(
    src_mac: str,
    dst_mac: str,
    *,
    op: int = 1,
    htype: int = 1,
    ptype: int = 0x0800,
    hlen: int = 6,
    plen: int = 4,
    sha: bytes,
    spa: bytes,
    tha: bytes,
    tpa: bytes,
) -> bytes:
    """An ARP frame built byte by byte, so that lengths and types can be wrong
    (Scapy's ARP layer would size its fields from them)."""
    body = struct.pack("!HHBBH", htype, ptype, hlen, plen, op) + sha + spa + tha + tpa
    frame = bytes(Ether(src=src_mac, dst=dst_mac, type=0x0806)) + body
    return frame.ljust(60, b"\0")


def mac_bytes(mac: str) -> bytes:
    return bytes(int(b, 16) for b in mac.split(":"))


def ip_bytes(ip: str) -> bytes:
    return bytes(int(b) for b in ip.split("."))


def arp_request(peer: Peer, sut: Any, target_ip: str | None = None, host: int = 0) -> Packet:
    h = peer.host(host)
    return Ether(src=h.mac, dst="ff:ff:ff:ff:ff:ff") / ARP(
        op=1, hwsrc=h.mac, psrc=h.ip, hwdst="00:00:00:00:00:00", pdst=target_ip or sut.ip
    )


def arp_reply_template(peer: Peer, sut: Any, host: int = 0) -> Packet:
    h = peer.host(host)
    return Ether(src=sut.mac, dst=h.mac) / ARP(
        op=2, hwsrc=sut.mac, psrc=sut.ip, hwdst=h.mac, pdst=h.ip
    )


def arp_who_has(ip: str) -> Any:
    """Template: an ARP request from the target for `ip` (broadcast or unicast)."""
    return Ether() / ARP(op=1, pdst=ip)
