"""A scripted TCP peer on the Scapy peer, in the manner of packetdrill: the
test writes segments with exactly the fields it wants and states what the
target must send back, as field predicates within a time window.

    from ringzero.net.tcp import TargetTcp, TcpPeer

    tgt = TargetTcp(sut)                        # the target's side, through its agent
    port = tgt.listen(5000)                     # (tcp_listen, hold mode)
    c = TcpPeer(peer, sut, remote_port=port)    # virtual host 0, an unused local port
    synack = c.connect()                        # SYN -> SYN-ACK (checked) -> ACK
    assert synack.mss == 1460
    conn = tgt.accept_one(port)                 # the agent's id of the connection
    c.send(flags="PA", payload=b"hello")        # seq, ack, window from the tracked state
    c.expect(flags="A", ack=c.snd_nxt)          # the target's ACK, within 2 s
    assert tgt.recv_exactly(conn, 5) == b"hello"
    c.send(flags="PA", seq=c.snd_nxt + 100_000, payload=b"x")  # far past its window
    c.expect(flags="A", ack=c.snd_nxt, length=0)                # answered, dropped
    c.expect_nothing(within=0.5)                # nothing else on this connection
    tgt.send(conn, b"world")
    assert c.recv(5) == b"world"                # its data, each segment ACKed
    c.send(flags="FA")                          # our FIN: the target goes CLOSE-WAIT
    c.expect(flags="A", ack=c.snd_nxt)
    tgt.wait_state(conn, "CLOSE-WAIT")

The other way round, the target connects and we answer:

    c = TcpPeer(peer, sut)                      # remote_port learnt from its SYN
    conn = tgt.connect(c.ip, c.port)
    syn = c.accept()                            # its SYN -> our SYN-ACK -> its ACK

``establish(peer, sut, port=...)`` does the first handshake in one call and
returns (TcpPeer, conn). ``Seg`` is a parsed segment (either direction):
``seq``, ``ack``, ``flagstr``, ``window``, ``payload``, ``mss``, ``wscale``,
``timestamps``, ``options``, ``checksum_ok``, ``time`` (capture time).

Predicates of ``expect`` (all must hold): ``flags`` (exactly these, e.g.
"SA"), ``has`` / ``lacks`` (these flags set / clear), ``seq``, ``ack``,
``window`` (the raw 16-bit field), ``length`` (payload bytes), ``payload``,
``options`` (option kinds or names that must be present); each value may
instead be a callable taking the field, and further predicates are
callables taking the Seg. ``expect`` returns the first matching segment
(a :class:`Seg`) and updates the tracked state from it (RCV.NXT, the
target's ISN, window, MSS and other SYN options, SND.UNA). Segments with a
wrong checksum fail the expectation (RFC 9293 MUST-2).

Which segments an expectation looks at: those of this connection (the
target's address and port to this virtual host and port) captured after
the last *event*: the later of our last send, the last matched segment and
the last ``mark()``, so that an expectation is about what the target did
in reply to what we just did. ``since="match"`` looks from the last matched
segment instead (a burst from the target while we were answering its first
segment); a float is a time.time() value. A segment is matched once.
``collect(within)`` and ``expect_nothing(within)`` wait exactly `within`
seconds; ``expect``'s `within` is stretched for a slow (TCG) target.

Timing follows packetdrill's model: an event is on time if it is within the
larger of an absolute and a relative tolerance of the expected gap since
the previous event (4 ms or 12.5 % natively, 50 ms or 25 % under TCG, where
the target runs in QEMU's JIT). ``expect(..., after=1.0)`` checks that the
segment came 1 s after the previous event; ``assert_on_time`` and
``Timing`` do the arithmetic for tests that measure gaps themselves.

Sequence numbers: ``iss``, ``snd_una``, ``snd_nxt`` (ours), ``irs``,
``rcv_nxt`` (the target's), ``snd_wnd`` (the target's last window, scaled),
``rcv_wnd`` (the window we advertise). ``send`` advances ``snd_nxt`` over
the SYN, data and FIN it sends when it chose the sequence number itself (a
segment with an overriding ``seq`` changes nothing unless ``advance=True``).
Arithmetic is modulo 2**32 (``seq_add``, ``seq_diff``, ``seq_lt`` ...), and
fields given to ``send`` are taken modulo 2**32. With timestamps agreed in
the SYNs (RFC 7323), ``send`` adds one to every segment, its TSval going
on from our SYN's and echoing the target's latest.

Options are given as a list: ``"nop"``, ``"eol"``, ``("mss", 1460)``,
``("wscale", 7)``, ``"sackok"``, ``("ts", val, ecr)``, ``("sack", [(l, r)])``,
``(kind, b"data")`` (any kind, length computed), or raw ``bytes`` put in
as they are (for malformed lists); the encoding is padded with zeros to a
multiple of 4 octets. ``build_segment`` makes any TCP header at all (bad
checksums, data offsets, reserved bits).
"""

from __future__ import annotations

import itertools
import random
import socket
import struct
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeAlias

from scapy.packet import Packet

from .peer import Peer

MOD = 1 << 32
HALF = 1 << 31

# ---- sequence arithmetic (modulo 2**32, RFC 9293 §3.4) ---------------------------------


def seq_add(a: int, n: int) -> int:
    return (a + n) % MOD


def seq_diff(a: int, b: int) -> int:
    """a - b as a signed distance in (-2**31, 2**31]."""
    d = (a - b) % MOD
    return d - MOD if d > HALF else d


def seq_lt(a: int, b: int) -> bool:
    return seq_diff(a, b) < 0


def seq_le(a: int, b: int) -> bool:
    return seq_diff(a, b) <= 0


def seq_gt(a: int, b: int) -> bool:
    return seq_diff(a, b) > 0


def seq_ge(a: int, b: int) -> bool:
    return seq_diff(a, b) >= 0


def seq_between(lo: int, x: int, hi: int) -> bool:
    """lo =< x =< hi, modulo 2**32."""
    return seq_le(lo, x) and seq_le(x, hi)


# ---- flags ----------------------------------------------------------------------------

FLAG_BITS = {
    "F": 0x001,
    "S": 0x002,
    "R": 0x004,
    "P": 0x008,
    "A": 0x010,
    "U": 0x020,
    "E": 0x040,
    "C": 0x080,
    "N": 0x100,  # the former NS bit (AE in AccECN)
}
FLAG_ORDER = "SFRPAUECN"


def flags_value(flags: str | int) -> int:
    """ "SA" -> 0x12; an int is returned as it is."""
    if isinstance(flags, int):
        return flags
    value = 0
    for ch in flags.upper():
        if ch not in FLAG_BITS:
            raise ValueError(f"unknown TCP flag {ch!r} in {flags!r} (known: {FLAG_ORDER})")
        value |= FLAG_BITS[ch]
    return value


def flags_text(value: int) -> str:
    """0x12 -> "SA" (always in the order SFRPAUECN; "" for none)."""
    return "".join(ch for ch in FLAG_ORDER if value & FLAG_BITS[ch])


# ---- options --------------------------------------------------------------------------

OPTION_KINDS = {"eol": 0, "nop": 1, "mss": 2, "wscale": 3, "sackok": 4, "sack": 5, "ts": 8}
OPTION_NAMES = {v: k for k, v in OPTION_KINDS.items()}

OptionItem: TypeAlias = str | bytes | tuple[Any, ...]


def encode_options(items: Iterable[OptionItem], pad: bool = True) -> bytes:
    """The option octets for a list of options (see the module docstring),
    padded with zeros to a multiple of 4 (RFC 9293 MUST-69) unless pad=False."""
    out = bytearray()
    for item in items:
        if isinstance(item, bytes | bytearray):
            out += item
            continue
        if isinstance(item, str):
            item = (item,)
        name, *args = item
        if isinstance(name, int):
            data = bytes(args[0]) if args else b""
            out += bytes([name, len(data) + 2]) + data
            continue
        kind = OPTION_KINDS.get(name)
        if kind is None:
            raise ValueError(f"unknown option {name!r} (known: {', '.join(OPTION_KINDS)})")
        if kind in (0, 1):
            out.append(kind)
        elif kind == 2:
            out += struct.pack("!BBH", 2, 4, int(args[0]))
        elif kind == 3:
            out += struct.pack("!BBB", 3, 3, int(args[0]))
        elif kind == 4:
            out += b"\x04\x02"
        elif kind == 5:
            blocks = list(args[0])
            out += bytes([5, 2 + 8 * len(blocks)])
            for left, right in blocks:
                out += struct.pack("!II", left % MOD, right % MOD)
        elif kind == 8:
            out += struct.pack("!BBII", 8, 10, int(args[0]) % MOD, int(args[1]) % MOD)
    if pad and len(out) % 4:
        out += bytes(4 - len(out) % 4)
    return bytes(out)


@dataclass(frozen=True)
class Option:
    kind: int
    data: bytes = b""

    @property
    def name(self) -> str:
        return OPTION_NAMES.get(self.kind, str(self.kind))

    def __str__(self) -> str:
        if self.kind == 2 and len(self.data) == 2:
            return f"mss {int.from_bytes(self.data, 'big')}"
        if self.kind == 3 and len(self.data) == 1:
            return f"wscale {self.data[0]}"
        if self.kind == 8 and len(self.data) == 8:
            val, ecr = struct.unpack("!II", self.data)
            return f"ts {val} {ecr}"
        if self.kind in (0, 1, 4):
            return self.name
        return f"{self.name} {self.data.hex()}" if self.data else self.name


@dataclass(frozen=True)
class ParsedOptions:
    options: tuple[Option, ...]
    # Why the list is malformed (RFC 9293 MUST-68: a length octet for every
    # option but EOL and NOP, within the header), or None.
    error: str | None
    # The octets after EOL (RFC 9293 MUST-69: zero padding).
    after_eol: bytes = b""


def parse_options(raw: bytes) -> ParsedOptions:
    """The options in a header's option octets, strictly: a length below 2
    or past the end stops the parse and is reported as the error."""
    options: list[Option] = []
    i = 0
    while i < len(raw):
        kind = raw[i]
        if kind == 0:
            options.append(Option(0))
            return ParsedOptions(tuple(options), None, raw[i + 1 :])
        if kind == 1:
            options.append(Option(1))
            i += 1
            continue
        if i + 1 >= len(raw):
            return ParsedOptions(tuple(options), f"option {kind} at {i} has no length octet")
        length = raw[i + 1]
        if length < 2:
            return ParsedOptions(tuple(options), f"option {kind} at {i} has length {length}")
        if i + length > len(raw):
            return ParsedOptions(
                tuple(options), f"option {kind} at {i} (length {length}) runs past the header"
            )
        options.append(Option(kind, bytes(raw[i + 2 : i + length])))
        i += length
    return ParsedOptions(tuple(options), None)


# ---- checksums and building -----------------------------------------------------------


def ones_complement_sum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def tcp_checksum(src: str, dst: str, segment: bytes) -> int:
    """The checksum of a TCP segment (its checksum field taken as zero)
    over the IPv4 pseudo-header (RFC 9293 §3.1)."""
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(segment))
    body = segment[:16] + b"\0\0" + segment[18:]
    return (~ones_complement_sum(pseudo + body)) & 0xFFFF


def build_segment(
    src: str,
    dst: str,
    sport: int,
    dport: int,
    *,
    seq: int = 0,
    ack: int = 0,
    flags: str | int = "",
    window: int = 65535,
    urgptr: int = 0,
    options: bytes = b"",
    payload: bytes = b"",
    dataofs: int | None = None,
    reserved: int = 0,
    checksum: int | None = None,
) -> bytes:
    """A TCP segment, octet by octet; dataofs (in 32-bit words) and checksum
    default to the right values and may be anything. reserved: the three
    reserved bits (RFC 9293 §3.1: sent as zero, ignored on receipt)."""
    if dataofs is None:
        if len(options) % 4:
            raise ValueError("options must be padded to a multiple of 4 octets (or give dataofs)")
        dataofs = 5 + len(options) // 4
    fl = flags_value(flags)
    off_flags = ((dataofs & 0xF) << 12) | ((reserved & 0x7) << 9) | (fl & 0x1FF)
    header = struct.pack(
        "!HHIIHHHH", sport, dport, seq % MOD, ack % MOD, off_flags, window & 0xFFFF, 0, urgptr
    )
    segment = header + options + payload
    value = tcp_checksum(src, dst, segment) if checksum is None else checksum
    return segment[:16] + struct.pack("!H", value) + segment[18:]


_ip_ids = itertools.count(random.randrange(0x10000))


def build_ipv4(
    src: str,
    dst: str,
    payload: bytes,
    *,
    proto: int = 6,
    ttl: int = 64,
    tos: int = 0,
    ident: int | None = None,
    df: bool = True,
    options: bytes = b"",
) -> bytes:
    """An IPv4 header (options padded to 4 octets) and payload."""
    if len(options) % 4:
        options += bytes(4 - len(options) % 4)
    ihl = 5 + len(options) // 4
    ident = next(_ip_ids) & 0xFFFF if ident is None else ident
    header = struct.pack(
        "!BBHHHBBH4s4s",
        0x40 | ihl,
        tos,
        ihl * 4 + len(payload),
        ident,
        0x4000 if df else 0,
        ttl,
        proto,
        0,
        socket.inet_aton(src),
        socket.inet_aton(dst),
    )
    header += options
    check = (~ones_complement_sum(header)) & 0xFFFF
    return header[:10] + struct.pack("!H", check) + header[12:] + payload


def mac_octets(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", ""))


def ether_frame(src_mac: str, dst_mac: str, ip_packet: bytes) -> bytes:
    frame = mac_octets(dst_mac) + mac_octets(src_mac) + b"\x08\x00" + ip_packet
    return frame.ljust(60, b"\0")


# ---- segments as received -------------------------------------------------------------


@dataclass
class Seg:
    """One TCP segment as captured (either direction)."""

    time: float
    src: str
    dst: str
    sport: int
    dport: int
    seq: int
    ack: int
    flags: int
    window: int
    urgptr: int
    dataofs: int
    reserved: int
    option_bytes: bytes
    payload: bytes
    checksum: int
    checksum_ok: bool
    ttl: int
    ip_id: int
    packet: Packet | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, data: bytes, when: float = 0.0) -> Seg | None:
        """The TCP segment in an Ethernet frame (IPv4, first fragment of an
        unfragmented datagram); None for anything else. Payload bounded by
        the IP total length, so Ethernet padding is not data."""
        if len(data) < 34 or data[12:14] != b"\x08\x00" or data[14] >> 4 != 4:
            return None
        ihl = (data[14] & 0x0F) * 4
        total = int.from_bytes(data[16:18], "big")
        frag = int.from_bytes(data[20:22], "big")
        if data[23] != 6 or ihl < 20 or frag & 0x3FFF:  # MF or an offset: not whole
            return None
        ip = data[14 : 14 + total]
        if len(ip) < total or total < ihl + 20:
            return None
        tcp = ip[ihl:]
        off_flags = int.from_bytes(tcp[12:14], "big")
        dataofs = off_flags >> 12
        hlen = max(20, min(dataofs * 4, len(tcp)))
        src = socket.inet_ntoa(ip[12:16])
        dst = socket.inet_ntoa(ip[16:20])
        checksum = int.from_bytes(tcp[16:18], "big")
        sport, dport, seq, ack = struct.unpack("!HHII", tcp[:12])
        return cls(
            time=when,
            src=src,
            dst=dst,
            sport=sport,
            dport=dport,
            seq=seq,
            ack=ack,
            flags=off_flags & 0x1FF,
            window=int.from_bytes(tcp[14:16], "big"),
            urgptr=int.from_bytes(tcp[18:20], "big"),
            dataofs=dataofs,
            reserved=(off_flags >> 9) & 0x7,
            option_bytes=bytes(tcp[20:hlen]),
            payload=bytes(tcp[hlen:]),
            checksum=checksum,
            checksum_ok=tcp_checksum(src, dst, bytes(tcp)) == checksum,
            ttl=ip[8],
            ip_id=int.from_bytes(ip[4:6], "big"),
        )

    @classmethod
    def from_packet(cls, packet: Packet) -> Seg | None:
        raw = getattr(packet, "original", None) or bytes(packet)
        seg = cls.parse(bytes(raw), float(getattr(packet, "time", 0.0) or 0.0))
        if seg is not None:
            seg.packet = packet
        return seg

    # ---- derived --------------------------------------------------------------------

    @property
    def flagstr(self) -> str:
        return flags_text(self.flags)

    def has(self, flags: str) -> bool:
        want = flags_value(flags)
        return self.flags & want == want

    @property
    def syn(self) -> bool:
        return bool(self.flags & 0x02)

    @property
    def fin(self) -> bool:
        return bool(self.flags & 0x01)

    @property
    def rst(self) -> bool:
        return bool(self.flags & 0x04)

    @property
    def is_ack(self) -> bool:
        return bool(self.flags & 0x10)

    @property
    def length(self) -> int:
        """Payload octets."""
        return len(self.payload)

    @property
    def seg_len(self) -> int:
        """SEG.LEN: payload plus SYN and FIN."""
        return len(self.payload) + int(self.syn) + int(self.fin)

    @property
    def end(self) -> int:
        """SEG.SEQ + SEG.LEN."""
        return seq_add(self.seq, self.seg_len)

    @property
    def parsed_options(self) -> ParsedOptions:
        return parse_options(self.option_bytes)

    @property
    def options(self) -> tuple[Option, ...]:
        return self.parsed_options.options

    def option(self, kind: int | str) -> Option | None:
        k = OPTION_KINDS[kind] if isinstance(kind, str) else kind
        return next((o for o in self.options if o.kind == k), None)

    @property
    def mss(self) -> int | None:
        o = self.option(2)
        return int.from_bytes(o.data, "big") if o is not None and len(o.data) == 2 else None

    @property
    def wscale(self) -> int | None:
        o = self.option(3)
        return o.data[0] if o is not None and len(o.data) == 1 else None

    @property
    def sack_permitted(self) -> bool:
        return self.option(4) is not None

    @property
    def timestamps(self) -> tuple[int, int] | None:
        o = self.option(8)
        if o is None or len(o.data) != 8:
            return None
        val, ecr = struct.unpack("!II", o.data)
        return val, ecr

    def __str__(self) -> str:
        opts = ", ".join(str(o) for o in self.options if o.kind not in (0, 1))
        text = (
            f"{self.src}:{self.sport} > {self.dst}:{self.dport} [{self.flagstr or '-'}] "
            f"seq {self.seq} ack {self.ack} win {self.window} len {self.length}"
        )
        if self.flags & 0x20:
            text += f" urg {self.urgptr}"
        if opts:
            text += f" <{opts}>"
        if not self.checksum_ok:
            text += " BAD-CHECKSUM"
        return text


# ---- timing ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """When an event is on time: within max(absolute, relative * gap) of the
    expected gap since the previous event (packetdrill's tolerance model).
    ``slow`` scales the waits of expectations (a slower target)."""

    absolute: float = 0.004
    relative: float = 0.125
    slow: float = 1.0

    def tolerance(self, expected_gap: float) -> float:
        return max(self.absolute, self.relative * abs(expected_gap))

    def window(self, expected_gap: float) -> tuple[float, float]:
        tol = self.tolerance(expected_gap)
        return expected_gap - tol, expected_gap + tol

    def on_time(self, expected_gap: float, actual_gap: float) -> bool:
        lo, hi = self.window(expected_gap)
        return lo <= actual_gap <= hi

    def wait(self, seconds: float) -> float:
        """A wait of `seconds`, scaled for the target's speed."""
        return seconds * self.slow


NATIVE = Timing()
TCG = Timing(absolute=0.050, relative=0.25, slow=3.0)


def timing_for(sut: Any) -> Timing:
    """The tolerances for a target: wide when it runs under TCG (QEMU's
    JIT: its timers fire late and its clock jitters by milliseconds)."""
    return TCG if getattr(sut, "accel", None) == "tcg" else NATIVE


def assert_on_time(
    expected_gap: float, actual_gap: float, timing: Timing = NATIVE, what: str = "the event"
) -> None:
    """Fails unless actual_gap is within the tolerance of expected_gap."""
    lo, hi = timing.window(expected_gap)
    if not lo <= actual_gap <= hi:
        raise AssertionError(
            f"{what} came {actual_gap * 1000:.1f} ms after the previous event; expected "
            f"{expected_gap * 1000:.1f} ms (on time between {lo * 1000:.1f} and {hi * 1000:.1f} ms)"
        )


# ---- the scripted connection ----------------------------------------------------------

FieldTest: TypeAlias = int | Callable[[int], bool] | None
SegTest: TypeAlias = Callable[[Seg], bool]
Since: TypeAlias = Literal["event", "match"] | float

_ports = itertools.count(random.randrange(20000, 40000))


def new_port() -> int:
    """A local port for a scripted connection, different each call."""
    return 20000 + (next(_ports) - 20000) % 40000


class TargetLike(Protocol):
    ip: str
    mac: str
    agent: Any


class TcpPeer:
    """One scripted TCP endpoint on a virtual host of the peer, facing one
    port of the target. remote_port None: the target's port is learnt from
    the first segment it sends to our port (its SYN, for ``accept``)."""

    def __init__(
        self,
        peer: Peer,
        sut: TargetLike,
        *,
        host: int = 0,
        port: int | None = None,
        remote_port: int | None = None,
        iss: int | None = None,
        mss: int = 1460,
        window: int = 65535,
        timing: Timing | None = None,
    ) -> None:
        self.peer = peer
        self.sut = sut
        self.host = host
        h = peer.host(host)
        self.ip, self.mac = h.ip, h.mac
        self.remote_ip = sut.ip
        self.port = new_port() if port is None else port
        self.remote_port = remote_port
        self.timing = timing or timing_for(sut)
        # Ours.
        self.iss = random.getrandbits(32) if iss is None else iss % MOD
        self.snd_una = self.iss
        self.snd_nxt = self.iss
        self.mss = mss
        self.rcv_wnd = window  # octets we advertise
        self.wscale: int | None = None  # the shift we asked for in our SYN
        self.sent_ts = False
        self.ts_base = random.getrandbits(32)
        self.created = time.monotonic()
        # The target's.
        self.irs: int | None = None
        self.rcv_nxt: int | None = None
        self.snd_wnd = 0  # the target's window, scaled
        self.remote_mss: int | None = None
        self.remote_wscale: int | None = None
        self.remote_sack_permitted = False
        self.remote_ts = False
        self.ts_recent = 0
        self.received = bytearray()  # the target's data, in order
        self.fin_received = False
        self.rst_received = False
        self.fin_sent = False
        self.state = "CLOSED"
        # Bookkeeping.
        self.sent: list[Seg] = []
        self.matched: list[Seg] = []
        self._consumed: set[int] = set()
        self._last_match = 0.0
        self._last_send = 0.0
        self._mark = time.time()
        self.last_event = self._mark

    def __repr__(self) -> str:
        return (
            f"<TcpPeer {self.ip}:{self.port} <-> {self.remote_ip}:{self.remote_port} "
            f"{self.state} snd_nxt {self.snd_nxt} rcv_nxt {self.rcv_nxt}>"
        )

    # ---- derived state --------------------------------------------------------------

    @property
    def scaling(self) -> bool:
        """Window scaling in force (both SYNs carried the option)."""
        return self.wscale is not None and self.remote_wscale is not None

    @property
    def timestamps(self) -> bool:
        return self.sent_ts and self.remote_ts

    @property
    def snd_right_edge(self) -> int:
        """SND.UNA + SND.WND: where the target's window ends."""
        return seq_add(self.snd_una, self.snd_wnd)

    def window_field(self, octets: int | None = None) -> int:
        """The 16-bit field that advertises `octets` (our rcv_wnd by default)."""
        octets = self.rcv_wnd if octets is None else octets
        shift = self.wscale if self.scaling and self.wscale is not None else 0
        return min(octets >> shift, 0xFFFF)

    def tsval(self) -> int:
        return (self.ts_base + int((time.monotonic() - self.created) * 1000)) % MOD

    # ---- sending --------------------------------------------------------------------

    def segment(
        self,
        *,
        flags: str | int = "A",
        seq: int | None = None,
        ack: int | None = None,
        window: int | None = None,
        options: Sequence[OptionItem] | bytes | None = None,
        payload: bytes = b"",
        urgptr: int = 0,
        dataofs: int | None = None,
        reserved: int = 0,
        checksum: int | None = None,
        ip: dict[str, Any] | None = None,
    ) -> bytes:
        """The Ethernet frame of a segment from us, fields defaulted from the
        tracked state (see send)."""
        if self.remote_port is None:
            raise RuntimeError("the target's port is not known yet (accept first)")
        fl = flags_value(flags)
        syn = bool(fl & 0x02)
        if seq is None:
            seq = self.iss if syn else self.snd_nxt
        if ack is None:
            ack = self.rcv_nxt if fl & 0x10 and self.rcv_nxt is not None else 0
        if window is None:
            window = min(self.rcv_wnd, 0xFFFF) if syn else self.window_field()
        if options is None:
            items: list[OptionItem] = []
            if syn:
                items.append(("mss", self.mss))
            elif self.timestamps:
                items += ["nop", "nop", ("ts", self.tsval(), self.ts_recent)]
            raw_options = encode_options(items)
        elif isinstance(options, bytes | bytearray):
            raw_options = bytes(options)
        else:
            raw_options = encode_options(options)
        ip_args = dict(ip or {})
        src = ip_args.pop("src", self.ip)
        dst = ip_args.pop("dst", self.remote_ip)
        dst_mac = ip_args.pop("dst_mac", self.sut.mac)
        src_mac = ip_args.pop("src_mac", self.mac)
        tcp = build_segment(
            src,
            dst,
            self.port,
            self.remote_port,
            seq=seq,
            ack=ack,
            flags=fl,
            window=window,
            urgptr=urgptr,
            options=raw_options,
            payload=payload,
            dataofs=dataofs,
            reserved=reserved,
            checksum=checksum,
        )
        return ether_frame(src_mac, dst_mac, build_ipv4(src, dst, tcp, **ip_args))

    def send(
        self,
        *,
        flags: str | int = "A",
        seq: int | None = None,
        ack: int | None = None,
        window: int | None = None,
        options: Sequence[OptionItem] | bytes | None = None,
        payload: bytes = b"",
        urgptr: int = 0,
        dataofs: int | None = None,
        reserved: int = 0,
        checksum: int | None = None,
        ip: dict[str, Any] | None = None,
        advance: bool | None = None,
    ) -> Seg:
        """Sends one segment. Defaults: seq SND.NXT (ISS for a SYN), ack
        RCV.NXT when the ACK flag is set, window our rcv_wnd (scaled),
        options an MSS on a SYN (and timestamps when both sides agreed to
        them), checksum and data offset correct. ip: fields of the IPv4
        header (src, dst, ttl, tos, ident, df, options, proto) and the
        Ethernet addresses (src_mac, dst_mac). advance: move SND.NXT over
        what the segment carries (default: when seq was not given)."""
        fl = flags_value(flags)
        frame = self.segment(
            flags=fl,
            seq=seq,
            ack=ack,
            window=window,
            options=options,
            payload=payload,
            urgptr=urgptr,
            dataofs=dataofs,
            reserved=reserved,
            checksum=checksum,
            ip=ip,
        )
        if advance is None:
            advance = seq is None
        when = time.time()
        self.peer.send(frame)
        seg = Seg.parse(frame, when)
        assert seg is not None
        self.sent.append(seg)
        self._last_send = when
        self.last_event = when
        self._after_send(seg, advance)
        return seg

    def _after_send(self, seg: Seg, advance: bool) -> None:
        """Our side's state after sending (the target's segments move it on
        in update())."""
        if seg.rst:
            self.state = "CLOSED"
            return
        if seg.syn:
            self.wscale = seg.wscale
            self.sent_ts = seg.timestamps is not None
            if seg.timestamps is not None:
                # Our later TSvals go on from the SYN's (RFC 7323 §5.4: PAWS).
                elapsed = int((time.monotonic() - self.created) * 1000)
                self.ts_base = (seg.timestamps[0] - elapsed) % MOD
            if self.state in ("CLOSED", "SYN-SENT") and not seg.is_ack:
                self.state = "SYN-SENT"
            elif seg.is_ack:
                self.state = "SYN-RECEIVED"
        if advance and seq_gt(seg.end, self.snd_nxt):
            self.snd_nxt = seg.end
        if seg.fin and advance:
            self.fin_sent = True
            self.state = {
                "ESTABLISHED": "FIN-WAIT-1",
                "SYN-RECEIVED": "FIN-WAIT-1",
                "CLOSE-WAIT": "LAST-ACK",
            }.get(self.state, self.state)

    def send_data(
        self, data: bytes, *, segment_size: int | None = None, flags: str = "A", push: bool = True
    ) -> list[Seg]:
        """Sends data from SND.NXT in segments of at most segment_size
        (default: the target's MSS, or ours), PSH on the last."""
        size = segment_size or self.remote_mss or self.mss
        sent = []
        for off in range(0, len(data), size):
            chunk = data[off : off + size]
            last = off + size >= len(data)
            fl = flags + ("P" if push and last else "")
            sent.append(self.send(flags=fl, payload=chunk))
        return sent

    # ---- looking at what the target sent --------------------------------------------

    def _mine(self, seg: Seg) -> bool:
        return (
            seg.src == self.remote_ip
            and seg.dst == self.ip
            and seg.dport == self.port
            and (self.remote_port is None or seg.sport == self.remote_port)
        )

    def _start(self, since: Since) -> float:
        if isinstance(since, float | int) and not isinstance(since, bool):
            return float(since)
        if since == "match":
            return max(self._last_match, self._mark)
        return max(self._last_match, self._last_send, self._mark)

    def mark(self) -> None:
        """Later expectations look only at what the target sends from now on."""
        self._mark = time.time()
        self.last_event = self._mark

    def segments(self, since: float = 0.0) -> list[Seg]:
        """Every segment of this connection the target sent since a time
        (default: capture start), in order."""
        out = []
        for pkt in self.peer.from_target():
            seg = Seg.from_packet(pkt)
            if seg is not None and seg.time >= since and self._mine(seg):
                out.append(seg)
        return out

    def _template(self, start: float, tests: list[SegTest]) -> Callable[[Packet], bool]:
        def template(pkt: Packet) -> bool:
            if float(getattr(pkt, "time", 0.0)) < start or id(pkt) in self._consumed:
                return False
            seg = Seg.from_packet(pkt)
            return seg is not None and self._mine(seg) and all(t(seg) for t in tests)

        return template

    def expect(
        self,
        *tests: SegTest,
        flags: str | int | None = None,
        has: str | None = None,
        lacks: str | None = None,
        seq: FieldTest = None,
        ack: FieldTest = None,
        window: FieldTest = None,
        length: FieldTest = None,
        payload: bytes | Callable[[bytes], bool] | None = None,
        options: Iterable[int | str] | None = None,
        within: float = 2.0,
        after: float | None = None,
        since: Since = "event",
        update: bool = True,
        checksum: bool = True,
        what: str = "",
    ) -> Seg:
        """The first segment of this connection from the target, after the
        last event (see the module docstring), that passes every test;
        AssertionError (listing what came instead) when none does within
        `within` seconds (scaled for a slow target). after: the segment must
        come that many seconds after the previous event, on time (Timing)."""
        checks = list(tests) + field_tests(
            flags=flags,
            has=has,
            lacks=lacks,
            seq=seq,
            ack=ack,
            window=window,
            length=length,
            payload=payload,
            options=options,
        )
        start = self._start(since)
        previous = self.last_event
        wait = self.timing.wait(within)
        if after is not None:
            wait = max(wait, after + self.timing.tolerance(after) + 0.05)
        pkt = self.peer.expect(self._template(start, checks), timeout=wait, since_start=True)
        description = what or describe(
            flags=flags,
            has=has,
            lacks=lacks,
            seq=seq,
            ack=ack,
            window=window,
            length=length,
            options=options,
            extra=len(tests),
        )
        if pkt is None:
            raise AssertionError(
                f"{self}: no segment {description} within {wait:.2f} s\n" + self._seen(start)
            )
        seg = Seg.from_packet(pkt)
        assert seg is not None
        self._consumed.add(id(pkt))
        if checksum and not seg.checksum_ok:
            raise AssertionError(f"the target sent a segment with a wrong checksum: {seg}")
        if after is not None:
            assert_on_time(after, seg.time - previous, self.timing, f"segment {seg}")
        self._last_match = seg.time
        self.last_event = seg.time
        self.matched.append(seg)
        if update:
            self.update(seg)
        return seg

    def collect(
        self,
        within: float,
        *tests: SegTest,
        since: Since = "event",
        update: bool = False,
        **fields: Any,
    ) -> list[Seg]:
        """Waits `within` seconds (not scaled), then returns every segment of
        this connection from the target since the last event that passes
        the tests, in order (update: track state from each)."""
        checks = list(tests) + field_tests(**fields)
        start = self._start(since)
        pkts = self.peer.collect(within, self._template(start, checks), since_start=True)
        segs = [s for s in (Seg.from_packet(p) for p in pkts) if s is not None]
        if update:
            for pkt, seg in zip(pkts, segs, strict=True):
                self._consumed.add(id(pkt))
                self.update(seg)
                self._last_match = max(self._last_match, seg.time)
        return segs

    def expect_nothing(
        self, within: float, *tests: SegTest, since: Since = "event", what: str = "", **fields: Any
    ) -> None:
        """Fails if the target sends anything on this connection (passing
        the tests, when given) within `within` seconds (not scaled)."""
        segs = self.collect(within, *tests, since=since, **fields)
        if segs:
            lines = "\n".join(f"  {s}" for s in segs[:10])
            raise AssertionError(
                f"{self}: expected nothing{(' ' + what) if what else ''} for {within} s, "
                f"the target sent:\n{lines}"
            )

    def _seen(self, start: float) -> str:
        segs = self.segments(start)
        if not segs:
            return "the target sent nothing on this connection since then"
        lines = [f"  +{(s.time - start) * 1000:8.1f} ms  {s}" for s in segs[-12:]]
        return "the target sent on this connection since then:\n" + "\n".join(lines)

    # ---- state tracking -------------------------------------------------------------

    def update(self, seg: Seg) -> None:
        """Learns from a segment the target sent."""
        if self.remote_port is None:
            self.remote_port = seg.sport
        if seg.rst:
            self.rst_received = True
            self.state = "CLOSED"
            return
        if seg.syn:
            self.irs = seg.seq
            self.rcv_nxt = seq_add(seg.seq, 1)
            self.remote_mss = seg.mss
            self.remote_wscale = seg.wscale
            self.remote_sack_permitted = seg.sack_permitted
            self.remote_ts = seg.timestamps is not None
            self.snd_wnd = seg.window  # never scaled in a SYN (RFC 7323 §2.2)
            if self.state == "SYN-SENT":
                self.state = "ESTABLISHED" if seg.is_ack else "SYN-RECEIVED"
            elif self.state == "CLOSED":
                self.state = "SYN-RECEIVED"  # its SYN: answer with accept()
        if seg.timestamps is not None:
            self.ts_recent = seg.timestamps[0]
        if seg.is_ack and seq_between(self.snd_una, seg.ack, self.snd_nxt):
            self.snd_una = seg.ack
            if not seg.syn:
                shift = self.remote_wscale if self.scaling and self.remote_wscale else 0
                self.snd_wnd = seg.window << shift
            if self.state == "SYN-RECEIVED" and seq_gt(seg.ack, self.iss):
                self.state = "ESTABLISHED"
            if self.fin_sent and seg.ack == self.snd_nxt:
                self.state = {
                    "FIN-WAIT-1": "FIN-WAIT-2",
                    "CLOSING": "TIME-WAIT",
                    "LAST-ACK": "CLOSED",
                }.get(self.state, self.state)
        if self.rcv_nxt is None:
            return
        data_seq = seq_add(seg.seq, 1) if seg.syn else seg.seq
        if seg.payload and seq_le(data_seq, self.rcv_nxt):
            skip = seq_diff(self.rcv_nxt, data_seq)
            if skip < len(seg.payload):
                new = seg.payload[skip:]
                self.received += new
                self.rcv_nxt = seq_add(self.rcv_nxt, len(new))
        if seg.fin and seq_add(data_seq, len(seg.payload)) == self.rcv_nxt:
            self.rcv_nxt = seq_add(self.rcv_nxt, 1)
            self.fin_received = True
            self.state = {
                "ESTABLISHED": "CLOSE-WAIT",
                "FIN-WAIT-1": "CLOSING",
                "FIN-WAIT-2": "TIME-WAIT",
            }.get(self.state, self.state)
            if self.state == "CLOSING" and self.snd_una == self.snd_nxt:
                self.state = "TIME-WAIT"

    # ---- handshakes -----------------------------------------------------------------

    def connect(
        self,
        *,
        options: Sequence[OptionItem] | bytes | None = None,
        window: int | None = None,
        payload: bytes = b"",
        within: float = 2.0,
        ack_payload: bytes = b"",
    ) -> Seg:
        """Active open to a listening port of the target: SYN, the SYN-ACK
        (checked: it acknowledges our SYN), our ACK (carrying ack_payload,
        if any). Returns the SYN-ACK. Data sent on the SYN and not
        acknowledged by the SYN-ACK is forgotten (send it again)."""
        self.send_syn(options=options, window=window, payload=payload)
        synack = self.expect_syn_ack(within=within)
        self.send(flags="PA" if ack_payload else "A", payload=ack_payload)
        return synack

    def send_syn(
        self,
        *,
        options: Sequence[OptionItem] | bytes | None = None,
        window: int | None = None,
        payload: bytes = b"",
        **kw: Any,
    ) -> Seg:
        self.snd_una = self.snd_nxt = self.iss
        return self.send(flags="S", options=options, window=window, payload=payload, **kw)

    def expect_syn_ack(self, within: float = 2.0, **kw: Any) -> Seg:
        """The target's SYN-ACK to our SYN."""
        iss1 = seq_add(self.iss, 1)
        synack = self.expect(
            flags="SA",
            ack=lambda a: seq_between(iss1, a, self.snd_nxt),
            within=within,
            what="SYN-ACK acknowledging our SYN",
            **kw,
        )
        self.snd_nxt = synack.ack  # data on the SYN it did not take is ours to resend
        self.snd_una = synack.ack
        self.state = "ESTABLISHED"
        return synack

    def accept(
        self,
        *,
        options: Sequence[OptionItem] | bytes | None = None,
        window: int | None = None,
        within: float = 3.0,
    ) -> Seg:
        """Passive side of the target's active open: waits for its SYN to our
        port, answers SYN-ACK, waits for the ACK of our SYN. Returns the SYN."""
        syn = self.expect_syn(within=within)
        self.send_syn_ack(options=options, window=window)
        iss1 = seq_add(self.iss, 1)
        self.expect(has="A", lacks="SR", ack=iss1, what="ACK of our SYN-ACK", since="match")
        return syn

    def expect_syn(self, within: float = 3.0, **kw: Any) -> Seg:
        """The target's SYN (no ACK) to our port."""
        return self.expect(flags="S", within=within, what="SYN", **kw)

    def send_syn_ack(
        self,
        *,
        options: Sequence[OptionItem] | bytes | None = None,
        window: int | None = None,
        **kw: Any,
    ) -> Seg:
        self.snd_una = self.snd_nxt = self.iss
        return self.send(flags="SA", options=options, window=window, **kw)

    def close(self, within: float = 2.0) -> Seg:
        """Sends FIN (with ACK) and waits for its acknowledgment."""
        self.send(flags="FA")
        return self.expect(has="A", ack=self.snd_nxt, within=within, what="ACK of our FIN")

    def reset(self) -> Seg:
        """Sends RST at SND.NXT."""
        return self.send(flags="R", ack=0)

    # ---- data from the target -------------------------------------------------------

    def recv(
        self,
        size: int,
        *,
        within: float = 3.0,
        ack: bool = True,
        window: int | None = None,
        until_fin: bool = False,
    ) -> bytes:
        """Takes the target's data until `size` octets have come in order (or
        its FIN, with until_fin), ACKing every segment; returns those octets
        (also appended to self.received)."""
        begin = len(self.received)
        deadline = time.monotonic() + self.timing.wait(within)
        first = True
        while len(self.received) - begin < size or (until_fin and not self.fin_received):
            if until_fin and self.fin_received:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                got = len(self.received) - begin
                raise AssertionError(
                    f"{self}: {got} of {size} octets from the target within {within} s\n"
                    + self._seen(self._mark)
                )
            seg = self.expect(
                lambda s: bool(s.payload) or s.fin or s.rst,
                within=left / self.timing.slow,
                since="event" if first else "match",
                what="carrying data or FIN",
            )
            first = False
            if seg.rst:
                raise AssertionError(f"{self}: the target reset the connection: {seg}")
            if ack:
                self.send(flags="A", window=None if window is None else self.window_field(window))
        end = len(self.received) if until_fin else begin + size
        return bytes(self.received[begin:end])


def field_tests(
    *,
    flags: str | int | None = None,
    has: str | None = None,
    lacks: str | None = None,
    seq: FieldTest = None,
    ack: FieldTest = None,
    window: FieldTest = None,
    length: FieldTest = None,
    payload: bytes | Callable[[bytes], bool] | None = None,
    options: Iterable[int | str] | None = None,
) -> list[SegTest]:
    """The predicates of expect()'s keyword arguments, as Seg tests."""
    tests: list[SegTest] = []
    if flags is not None:
        want = flags_value(flags)
        tests.append(lambda s: s.flags == want)
    if has is not None:
        h = flags_value(has)
        tests.append(lambda s: s.flags & h == h)
    if lacks is not None:
        lk = flags_value(lacks)
        tests.append(lambda s: s.flags & lk == 0)
    for name, value in (("seq", seq), ("ack", ack), ("window", window), ("length", length)):
        if value is not None:
            tests.append(_field_test(name, value))
    if payload is not None:
        if callable(payload):
            pf = payload
            tests.append(lambda s: bool(pf(s.payload)))
        else:
            data = bytes(payload)
            tests.append(lambda s: s.payload == data)
    if options is not None:
        kinds = [OPTION_KINDS[k] if isinstance(k, str) else k for k in options]
        tests.append(lambda s: all(s.option(k) is not None for k in kinds))
    return tests


def _field_test(name: str, value: int | Callable[[int], bool]) -> SegTest:
    if callable(value):
        fn = value
        return lambda s: bool(fn(getattr(s, name)))
    want = value % MOD if name in ("seq", "ack") else value
    return lambda s: bool(getattr(s, name) == want)


def describe(**fields: Any) -> str:
    extra = fields.pop("extra", 0)
    parts = []
    for name, value in fields.items():
        if value is None:
            continue
        if callable(value):
            parts.append(f"{name}=<test>")
        elif name in ("flags", "has", "lacks"):
            parts.append(f"{name}={flags_text(flags_value(value))!r}")
        else:
            parts.append(f"{name}={value!r}")
    if extra:
        parts.append(f"{extra} more test{'s' if extra > 1 else ''}")
    return "(" + ", ".join(parts) + ")" if parts else "(any)"


# ---- the target's side, through its agent --------------------------------------------


class TargetTcp:
    """The agent's TCP commands (the protocol both targets speak), with
    waits: the target's application for the scripted peer."""

    def __init__(self, sut: TargetLike, timing: Timing | None = None) -> None:
        self.sut = sut
        self.agent = sut.agent
        self.timing = timing or timing_for(sut)

    def listen(self, port: int = 0, **kw: Any) -> int:
        """tcp_listen (mode, backlog, size, seed, nodelay); the port."""
        return int(self.agent.request("tcp_listen", port=port, **kw)["port"])

    def unlisten(self, port: int) -> None:
        self.agent.request("tcp_unlisten", port=port)

    def accepted(self, port: int) -> list[dict[str, Any]]:
        """Connections accepted on the listener since the previous call."""
        return list(self.agent.request("tcp_accept", port=port)["conns"])

    def accept_one(self, port: int, within: float = 3.0) -> int:
        """The id of the next connection accepted on the listener."""
        deadline = time.monotonic() + self.timing.wait(within)
        while True:
            conns = self.accepted(port)
            if conns:
                return int(conns[0]["conn"])
            if time.monotonic() >= deadline:
                raise AssertionError(f"the target accepted no connection on port {port}")
            time.sleep(0.02)

    def connect(self, ip: str, port: int, local_port: int = 0, **kw: Any) -> int:
        args: dict[str, Any] = {"ip": ip, "port": port, **kw}
        if local_port:
            args["local_port"] = local_port
        return int(self.agent.request("tcp_connect", **args)["conn"])

    def state(self, conn: int) -> dict[str, Any]:
        return dict(self.agent.request("tcp_state", conn=conn))

    def wait_state(
        self, conn: int, states: str | Iterable[str], within: float = 3.0
    ) -> dict[str, Any]:
        """Polls tcp_state until the connection is in one of the states."""
        wanted = {states} if isinstance(states, str) else set(states)
        return self.wait(conn, lambda s: s["state"] in wanted, within, f"state in {wanted}")

    def wait(
        self,
        conn: int,
        test: Callable[[dict[str, Any]], bool],
        within: float = 3.0,
        what: str = "the condition",
    ) -> dict[str, Any]:
        deadline = time.monotonic() + self.timing.wait(within)
        while True:
            st = self.state(conn)
            if test(st):
                return st
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"connection {conn}: {what} not reached within {within} s; "
                    f"last state {st['state']}, error {st['error']}, eof {st['eof']}"
                )
            time.sleep(0.02)

    def send(self, conn: int, data: bytes | None = None, *, size: int = 0, seed: int = 0) -> int:
        if data is not None:
            return int(self.agent.request("tcp_send", conn=conn, hex=data.hex())["queued"])
        return int(self.agent.request("tcp_send", conn=conn, size=size, seed=seed)["queued"])

    def recv(self, conn: int, max: int = 65536) -> tuple[bytes, bool]:
        """What the connection holds now (at most max octets), and eof."""
        r = self.agent.request("tcp_recv", conn=conn, max=max)
        return bytes.fromhex(r["hex"]), bool(r["eof"])

    def recv_exactly(self, conn: int, size: int, within: float = 3.0) -> bytes:
        """Polls tcp_recv until `size` octets came (fewer: AssertionError)."""
        data = bytearray()
        deadline = time.monotonic() + self.timing.wait(within)
        while len(data) < size:
            # In pieces: the unikernel's agent answers on a serial line,
            # where a reply of hundreds of KB takes seconds under TCG.
            chunk, eof = self.recv(conn, min(size - len(data), RECV_PIECE))
            data += chunk
            if len(data) >= size:
                break
            if eof or time.monotonic() >= deadline:
                raise AssertionError(
                    f"connection {conn}: {len(data)} of {size} octets"
                    f"{' (then end of stream)' if eof else ''}: {bytes(data[:64])!r}..."
                )
            time.sleep(0.02)
        return bytes(data)

    def recv_all(self, conn: int, within: float = 3.0) -> bytes:
        """Everything up to the end of the stream (the peer's FIN)."""
        data = bytearray()
        deadline = time.monotonic() + self.timing.wait(within)
        while True:
            chunk, eof = self.recv(conn)
            data += chunk
            if eof:
                return bytes(data)
            if time.monotonic() >= deadline:
                raise AssertionError(f"connection {conn}: no end of stream within {within} s")
            if not chunk:
                time.sleep(0.02)

    def shutdown(self, conn: int) -> None:
        self.agent.request("tcp_shutdown", conn=conn)

    def close(self, conn: int) -> None:
        self.agent.request("tcp_close", conn=conn)

    def abort(self, conn: int) -> None:
        self.agent.request("tcp_abort", conn=conn)

    def set(self, conn: int, **options: Any) -> None:
        self.agent.request("tcp_set", conn=conn, **options)

    def list(self) -> dict[str, Any]:
        return dict(self.agent.request("tcp_list"))


RECV_PIECE = 16384  # octets per tcp_recv in recv_exactly


def establish(
    peer: Peer,
    sut: TargetLike,
    *,
    port: int = 5000,
    host: int = 0,
    listen: bool = True,
    mode: str = "hold",
    options: Sequence[OptionItem] | bytes | None = None,
    window: int | None = None,
    iss: int | None = None,
    mss: int = 1460,
) -> tuple[TcpPeer, int]:
    """A connection from a virtual host to a listener of the target (made
    here unless listen=False), ESTABLISHED on both sides: the scripted peer
    and the agent's connection id."""
    tgt = TargetTcp(sut)
    if listen:
        tgt.listen(port, mode=mode)
    c = TcpPeer(peer, sut, host=host, remote_port=port, iss=iss, mss=mss)
    if window is not None:
        c.rcv_wnd = window
    c.connect(options=options)
    conn = tgt.accept_one(port)
    return c, conn
