"""Helpers over captured frames."""

from __future__ import annotations

from dataclasses import dataclass, field

from scapy.layers.inet import IP
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw

IP_MF = 0x1


@dataclass
class _Datagram:
    first: Packet | None = None  # the fragment at offset 0
    pieces: dict[int, bytes] = field(default_factory=dict)  # offset -> data
    total: int | None = None  # payload length, known from the last fragment
    time: float = 0.0


def reassemble(frames: list[Packet]) -> list[Packet]:
    """IPv4 datagrams out of frames: fragments are put together (keyed by
    source, destination, protocol and identification) into one Ether/IP
    packet that appears where its last fragment arrived and carries that
    fragment's time. Whole datagrams and non-IP frames pass through;
    fragments of incomplete datagrams are left out. Where fragments
    overlap, the data that arrived first wins."""
    out: list[Packet] = []
    pending: dict[tuple[str, str, int, int], _Datagram] = {}
    for frame in frames:
        if IP not in frame:
            out.append(frame)
            continue
        ip = frame[IP]
        mf = bool(int(ip.flags) & IP_MF)
        if not mf and ip.frag == 0:
            out.append(frame)
            continue
        key = (ip.src, ip.dst, ip.proto, ip.id)
        d = pending.setdefault(key, _Datagram())
        header_len = ip.ihl * 4
        data = bytes(ip)[header_len : ip.len] if ip.len else bytes(ip.payload)
        offset = ip.frag * 8
        d.pieces.setdefault(offset, data)
        if offset == 0:
            d.first = frame
        if not mf:
            d.total = offset + len(data)
        d.time = float(frame.time)
        whole = _join(d)
        if whole is not None:
            out.append(whole)
            del pending[key]
    return out


def _join(d: _Datagram) -> Packet | None:
    if d.first is None or d.total is None:
        return None
    buf = bytearray(d.total)
    covered = 0
    for offset in sorted(d.pieces):
        data = d.pieces[offset]
        if offset > covered:
            return None  # a hole
        end = min(offset + len(data), d.total)
        if end > covered:
            buf[covered:end] = data[covered - offset : end - offset]
            covered = end
    if covered < d.total:
        return None
    first_ip = d.first[IP]
    header = IP(bytes(first_ip)[: first_ip.ihl * 4])
    header.flags = int(header.flags) & ~IP_MF
    header.frag = 0
    header.len = None
    header.chksum = None
    ether = d.first[Ether]
    whole = Ether(src=ether.src, dst=ether.dst, type=ether.type) / header / Raw(bytes(buf))
    packet = Ether(bytes(whole))
    packet.time = d.time
    return packet
