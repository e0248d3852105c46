"""The DHCP server the suites script on the Scapy peer: the client's
messages as the target sends them, and replies built field by field (so a
test can also build them wrong)."""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass, field
from typing import Any

from ringzero.net.peer import Peer
from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw

DISCOVER, OFFER, REQUEST, DECLINE, ACK, NAK = 1, 2, 3, 4, 5, 6
TYPE_NAMES = {1: "DISCOVER", 2: "OFFER", 3: "REQUEST", 4: "DECLINE", 5: "ACK", 6: "NAK"}
MAGIC = b"\x63\x82\x53\x63"


@dataclass
class ClientMessage:
    """A BOOTREQUEST from the target, with its options decoded."""

    packet: Packet
    time: float
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def type(self) -> int:
        return int(self.options.get("message-type", 0))

    @property
    def xid(self) -> int:
        return int(self.packet[BOOTP].xid)

    @property
    def ciaddr(self) -> str:
        return str(self.packet[BOOTP].ciaddr)

    def __repr__(self) -> str:
        name = TYPE_NAMES.get(self.type, str(self.type))
        return f"<{name} xid={self.xid:#x} at {self.time:.3f} {self.options}>"


def _decode(packet: Packet) -> ClientMessage:
    options: dict[str, Any] = {}
    if packet.haslayer(DHCP):
        for opt in packet[DHCP].options:
            if isinstance(opt, tuple) and len(opt) >= 2:
                options[str(opt[0])] = opt[1] if len(opt) == 2 else opt[1:]
    return ClientMessage(packet, float(packet.time), options)


CLIENT = Ether() / IP() / UDP(sport=68, dport=67)


def client_messages(peer: Peer, since_start: bool = True) -> list[ClientMessage]:
    """Every DHCP message the target sent so far (or since the cursor)."""
    frames = peer.from_target(CLIENT) if since_start else peer.collect(0.0, CLIENT)
    return [_decode(p) for p in frames if p.haslayer(BOOTP)]


def next_message(
    peer: Peer, kind: int | None = None, after: float = 0.0, timeout: float = 10.0
) -> ClientMessage | None:
    """The first client message after time `after` (of a type), waiting up to timeout s."""
    deadline = time.monotonic() + timeout
    while True:
        for m in client_messages(peer):
            if m.time > after and (kind is None or m.type == kind):
                return m
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.05)


@dataclass
class Server:
    """A DHCP server played by a virtual host of the peer."""

    peer: Peer
    host: int = 0
    lease_s: int = 3600
    router: str | None = None
    dns: tuple[str, ...] = ()
    mask: str = "255.255.255.0"

    @property
    def ip(self) -> str:
        return self.peer.host(self.host).ip

    @property
    def mac(self) -> str:
        return self.peer.host(self.host).mac

    def reply(
        self,
        to: ClientMessage,
        kind: int,
        yiaddr: str,
        *,
        lease_s: int | None = None,
        extra: list[Any] | None = None,
        raw_options: bytes | None = None,
    ) -> Packet:
        """OFFER/ACK/NAK to `to`. `raw_options` replaces the whole options
        field (after the magic cookie) with these bytes, for malformed ones."""
        bootp = BOOTP(
            op=2,
            xid=to.xid,
            yiaddr=yiaddr if kind != NAK else "0.0.0.0",
            siaddr=self.ip,
            chaddr=to.packet[BOOTP].chaddr,
            flags=to.packet[BOOTP].flags,
        )
        if raw_options is not None:
            body: Packet = bootp / Raw(MAGIC + raw_options)
        else:
            opts: list[Any] = [("message-type", kind), ("server_id", self.ip)]
            if kind != NAK:
                opts += [
                    ("lease_time", lease_s if lease_s is not None else self.lease_s),
                    ("subnet_mask", self.mask),
                ]
                if self.router:
                    opts.append(("router", self.router))
                if self.dns:
                    opts.append(("name_server", *self.dns))
            opts += list(extra or [])
            opts.append("end")
            body = bootp / DHCP(options=opts)
        # RFC 2131 4.1: NAKs are broadcast; the rest go to the address given
        # (broadcast flag clear: the client takes unicast).
        dst_ip = "255.255.255.255" if kind == NAK else yiaddr
        dst_mac = "ff:ff:ff:ff:ff:ff" if kind == NAK else to.packet[Ether].src
        return (
            Ether(src=self.mac, dst=dst_mac)
            / IP(src=self.ip, dst=dst_ip)
            / UDP(sport=67, dport=68)
            / body
        )


def option_bytes(*options: tuple[int, bytes], end: bool = True) -> bytes:
    """Raw DHCP options: code, length, data; END unless told otherwise."""
    out = b"".join(struct.pack("BB", code, len(data)) + data for code, data in options)
    return out + (b"\xff" if end else b"")
