"""An impairment forwarder: a real Linux stack reaches the target through a
user-space bridge that drops, delays, duplicates and reorders frames by
seeded rules (this host's kernel has no netem).

    wire namespace                          impaired namespace
    ─────────────────────────────────       ──────────────────────────
    target link (tap or veth, tools_ip) ◄─┐
                                          forwarder (two threads,
                                          AF_PACKET on both ends)
    rziN (no address, NOARP) ◄────────────┘  veth  ──►  eth0  10.33.0.3/24
                                                         02:00:00:33:00:03

The impaired namespace (named after the run, swept like the others) holds
one end of a veth pair with an address and a MAC of its own on the test
network; the other end sits in the wire without an address and with ARP off,
so the wire's own stack neither answers for that address nor talks on it.
The forwarder reads every frame the impaired stack sends (``to_target``) and
every frame the target sends to the impaired MAC or to a group address
(``from_target``), applies that direction's rules, and sends the survivors on
the other side. The peer's capture on the target link sees what reaches the
target (as outgoing frames) and what the target sent.

Rules (``Rules``) apply to the frames their ``match`` predicate accepts (IPv4
by default, so ARP is never impaired unless asked); every matching frame
draws the same number of random values from a generator seeded with
(seed, direction), so the same seed and the same traffic give the same
decisions (``Impairment`` is that logic alone, with no I/O).

    path = ImpairedPath(run, wire, sut.link, seed=7).start()
    path.set_rules(to_target=Rules(drop=0.01), from_target=Rules(reorder=0.02))
    s = path.socket(socket.AF_INET, socket.SOCK_STREAM)  # lives in the namespace
    ...
    path.counters()["to_target"]["dropped"]
    path.close()
"""

from __future__ import annotations

import contextlib
import errno
import heapq
import itertools
import os
import random
import select
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ..runs import Run
from . import netns
from .wire import Wire

Frame = memoryview | bytes
Predicate = Callable[[Frame], bool]

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_STATISTICS = 6
PACKET_IGNORE_OUTGOING = 23  # Linux 4.20
SO_RCVBUFFORCE = 33
SO_SNDBUFFORCE = 32
RCVBUF = 16 << 20
SNDBUF = 4 << 20
MAX_FRAME = 65536 + 64
BATCH = 64  # frames read before timed releases are looked at again
MAX_QUEUED = 20000  # delayed or held frames per direction; beyond, they are dropped
SEND_TIMEOUT = 0.2  # seconds a send may block on a full device queue

DIRECTIONS = ("to_target", "from_target")
FIRST_HOST = 3  # the impaired stack's address: .3 (+ index)
MAX_INDEX = 7  # .3 to .9: below the virtual hosts (.10+)

_names = itertools.count(1)


# ---- predicates over raw Ethernet frames ---------------------------------------


def ipv4(f: Frame) -> bool:
    """An IPv4 frame (no VLAN tag)."""
    return len(f) >= 34 and f[12] == 0x08 and f[13] == 0x00


def _l4(f: Frame) -> int:
    """Offset of the transport header in an IPv4 frame."""
    return 14 + (f[14] & 0x0F) * 4


def _first_fragment(f: Frame) -> bool:
    return (f[20] & 0x1F) == 0 and f[21] == 0


def tcp(f: Frame) -> bool:
    """An IPv4 frame with a TCP header (a first or only fragment)."""
    return ipv4(f) and f[23] == 6 and _first_fragment(f) and len(f) >= _l4(f) + 20


def udp(f: Frame) -> bool:
    return ipv4(f) and f[23] == 17 and _first_fragment(f) and len(f) >= _l4(f) + 8


def icmp(f: Frame) -> bool:
    return ipv4(f) and f[23] == 1


def tcp_flags(f: Frame) -> int:
    """The TCP flag bits of a TCP frame (FIN 0x01 ... CWR 0x80)."""
    return f[_l4(f) + 13]


def tcp_payload_len(f: Frame) -> int:
    """Bytes of TCP data in the segment (from the IP total length)."""
    l4 = _l4(f)
    total = (f[16] << 8) | f[17]
    return total - (l4 - 14) - (f[l4 + 12] >> 4) * 4


def tcp_data(f: Frame) -> bool:
    """A TCP segment that carries data."""
    return tcp(f) and tcp_payload_len(f) > 0


def tcp_with(mask: int) -> Predicate:
    """TCP segments with all of the flag bits in mask set (0x02 SYN, 0x04 RST...)."""
    return lambda f: tcp(f) and tcp_flags(f) & mask == mask


def tcp_port(port: int) -> Predicate:
    """TCP segments from or to the port."""

    def pred(f: Frame) -> bool:
        if not tcp(f):
            return False
        l4 = _l4(f)
        return port in ((f[l4] << 8) | f[l4 + 1], (f[l4 + 2] << 8) | f[l4 + 3])

    return pred


def all_of(*preds: Predicate) -> Predicate:
    return lambda f: all(p(f) for p in preds)


def nth(pred: Predicate, *ns: int) -> Predicate:
    """True for the n-th frames (1-based, counted from its creation) that
    pred accepts: ``nth(tcp_data, 3)`` picks the third data segment. It
    keeps a count, so use a fresh one per rule."""
    wanted = frozenset(ns)
    seen = 0

    def pick(f: Frame) -> bool:
        nonlocal seen
        if not pred(f):
            return False
        seen += 1
        return seen in wanted

    return pick


# ---- rules and decisions (pure) -------------------------------------------------


@dataclass(frozen=True)
class Rules:
    """What one direction does to the frames ``match`` accepts (all frames
    when match is None). Frame numbers count matching frames from the
    moment the rules are set, starting at 1.

    drop: probability; drop_every: every N-th frame; drop_nth: these frames;
    drop_if: a predicate (it sees every matching frame, dropped or not).
    delay_ms + jitter_ms: each frame waits delay ± jitter (uniform, at least
    0); jitter reorders, as with netem.
    duplicate: probability that a frame is sent twice (each copy gets its own
    delay).
    reorder / reorder_nth: a frame is held back (probability, or by number)
    and released right after reorder_after later frames of this direction
    have gone out, or after reorder_ms, whichever comes first.
    """

    match: Predicate | None = ipv4
    drop: float = 0.0
    drop_every: int = 0
    drop_nth: frozenset[int] = frozenset()
    drop_if: Predicate | None = None
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    reorder_nth: frozenset[int] = frozenset()
    reorder_after: int = 1
    reorder_ms: float = 50.0

    def __post_init__(self) -> None:
        for name in ("drop", "duplicate", "reorder"):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name}={p}: a probability is between 0 and 1")
        if self.drop_every < 0 or self.delay_ms < 0 or self.jitter_ms < 0:
            raise ValueError("drop_every, delay_ms and jitter_ms cannot be negative")
        if self.reorder_after < 1 or self.reorder_ms <= 0:
            raise ValueError("reorder_after must be >= 1 and reorder_ms > 0")
        # Sets given as lists or ranges are fine.
        object.__setattr__(self, "drop_nth", frozenset(self.drop_nth))
        object.__setattr__(self, "reorder_nth", frozenset(self.reorder_nth))

    @property
    def inert(self) -> bool:
        """Forwards every frame untouched."""
        return not (
            self.drop
            or self.drop_every
            or self.drop_nth
            or self.drop_if
            or self.delay_ms
            or self.jitter_ms
            or self.duplicate
            or self.reorder
            or self.reorder_nth
        )


@dataclass(frozen=True, slots=True)
class Decision:
    drop: bool = False
    delays: tuple[float, ...] = (0.0,)  # seconds, one per copy (two when duplicated)
    hold: bool = False  # the first copy is held back (reordered)

    @property
    def copies(self) -> int:
        return 0 if self.drop else len(self.delays)


DROP = Decision(drop=True, delays=())


class Impairment:
    """The decisions of one direction: deterministic for a seed and a
    sequence of frames. ``decide`` returns None for a frame the rules leave
    alone (not matched, or inert rules), else a Decision."""

    DRAWS = 5  # random values per matching frame, whatever the rules

    def __init__(self, rules: Rules, seed: int | str = 0, direction: str = "") -> None:
        self.rules = rules
        self.inert = rules.inert
        self.index = 0  # matching frames so far
        self._rng = random.Random(f"{seed}/{direction}")

    def decide(self, frame: Frame) -> Decision | None:
        if self.inert:
            return None
        r = self.rules
        if r.match is not None and not r.match(frame):
            return None
        self.index += 1
        n = self.index
        rnd = self._rng.random
        u_drop, u_dup, u_hold, u_j0, u_j1 = rnd(), rnd(), rnd(), rnd(), rnd()
        by_predicate = r.drop_if is not None and r.drop_if(frame)
        if (
            u_drop < r.drop
            or (r.drop_every and n % r.drop_every == 0)
            or n in r.drop_nth
            or by_predicate
        ):
            return DROP
        delays: tuple[float, ...] = (self._delay(u_j0),)
        if u_dup < r.duplicate:
            delays += (self._delay(u_j1),)
        return Decision(delays=delays, hold=u_hold < r.reorder or n in r.reorder_nth)

    def _delay(self, u: float) -> float:
        r = self.rules
        return max(0.0, r.delay_ms + r.jitter_ms * (2.0 * u - 1.0)) / 1000.0

    def decisions(self, frames: Iterable[Frame]) -> list[Decision | None]:
        return [self.decide(f) for f in frames]


# ---- counters ---------------------------------------------------------------------


@dataclass
class Counters:
    """Per direction. received: frames read; ignored: from the target but
    for someone else; forwarded: frames sent on (copies included);
    dropped / duplicated / reordered / delayed: by the rules; overflow:
    dropped because too many were queued; errors: sends that failed;
    kernel_drops: frames the kernel dropped before we read them."""

    received: int = 0
    ignored: int = 0
    forwarded: int = 0
    dropped: int = 0
    duplicated: int = 0
    reordered: int = 0
    delayed: int = 0
    overflow: int = 0
    errors: int = 0
    kernel_drops: int = 0

    def snapshot(self) -> dict[str, int]:
        return asdict(self)


# ---- the forwarding threads --------------------------------------------------------


class Pump:
    """One direction: reads rx, sends on tx, with the direction's rules."""

    def __init__(
        self,
        direction: str,
        rx: socket.socket,
        tx: socket.socket,
        impairment: Impairment,
        only_to: bytes | None,
    ) -> None:
        self.direction = direction
        self.rx, self.tx = rx, tx
        self.impairment = impairment  # replaced whole by set_rules
        self.only_to = only_to  # unicast frames to other MACs are ignored
        self.c = Counters()
        self.error: BaseException | None = None
        self._heap: list[tuple[float, int, bytes]] = []  # (due, seq, frame): delayed
        self._held: list[list[Any]] = []  # [frames to wait for, deadline, frame]
        self._seq = itertools.count()
        self._stop = False
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name=f"impair {direction}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop = True
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")
        self._thread.join(timeout=5)
        os.close(self._wake_r)
        os.close(self._wake_w)

    def kernel_drops(self) -> int:
        with contextlib.suppress(OSError):
            raw = self.rx.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
            self.c.kernel_drops += struct.unpack("II", raw)[1]
        return self.c.kernel_drops

    # -- the loop --

    def _run(self) -> None:
        buf = bytearray(MAX_FRAME)
        view = memoryview(buf)
        recv_into = self.rx.recv_into
        poller = select.poll()
        poller.register(self.rx, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        only_to = self.only_to
        c = self.c
        try:
            while not self._stop:
                poller.poll(self._timeout_ms())
                for _ in range(BATCH):
                    try:
                        n = recv_into(buf)
                    except BlockingIOError:
                        break
                    frame = view[:n]
                    c.received += 1
                    if only_to is not None and not frame[0] & 1 and frame[:6] != only_to:
                        c.ignored += 1  # the target's unicast to someone else
                    elif self.impairment.inert and not self._held:
                        self._send(frame)  # the fast path: nothing to decide or release
                    else:
                        self._handle(frame)
                if self._heap or self._held:
                    self._release(time.monotonic())
        except BaseException as e:  # reported by counters()
            self.error = e

    def _timeout_ms(self) -> float | None:
        """Until the next delayed or held frame is due (None: no timeout)."""
        due: list[float] = [h[1] for h in self._held]
        if self._heap:
            due.append(self._heap[0][0])
        if not due:
            return None
        return max(0.0, (min(due) - time.monotonic()) * 1000.0)

    def _handle(self, frame: memoryview) -> None:
        c = self.c
        d = self.impairment.decide(frame)
        if d is None:
            self._emit(frame)
            return
        if d.drop:
            c.dropped += 1
            return
        if len(d.delays) > 1:
            c.duplicated += 1
        now = 0.0
        for i, delay in enumerate(d.delays):
            if i == 0 and d.hold:
                now = now or time.monotonic()
                if self._room():
                    rules = self.impairment.rules
                    deadline = now + rules.reorder_ms / 1000.0
                    self._held.append([rules.reorder_after, deadline, bytes(frame)])
                    c.reordered += 1
            elif delay > 0.0:
                now = now or time.monotonic()
                if self._room():
                    heapq.heappush(self._heap, (now + delay, next(self._seq), bytes(frame)))
                    c.delayed += 1
            else:
                self._emit(frame)

    def _room(self) -> bool:
        if len(self._heap) + len(self._held) < MAX_QUEUED:
            return True
        self.c.overflow += 1
        return False

    def _emit(self, frame: Frame) -> None:
        self._send(frame)
        held = self._held
        if held:
            for h in held:
                h[0] -= 1
            if any(h[0] <= 0 for h in held):
                self._held = [h for h in held if h[0] > 0]
                for h in held:
                    if h[0] <= 0:
                        self._send(h[2])

    def _release(self, now: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now:
            self._emit(heapq.heappop(heap)[2])
        if any(h[1] <= now for h in self._held):
            due = [h for h in self._held if h[1] <= now]
            self._held = [h for h in self._held if h[1] > now]
            for h in due:
                self._send(h[2])

    def _send(self, frame: Frame) -> None:
        for _ in range(100):
            try:
                self.tx.send(frame)
                self.c.forwarded += 1
                return
            except OSError as e:
                if e.errno not in (errno.ENOBUFS, errno.EAGAIN):
                    self.c.errors += 1
                    return
                time.sleep(0.0005)  # the device queue is full
        self.c.errors += 1


# ---- the path -----------------------------------------------------------------


@dataclass
class _Side:
    rx: socket.socket
    tx: socket.socket


def _packet_sockets(wire: Wire, link: str) -> _Side:
    rx = wire.socket_in_ns(socket.AF_PACKET, socket.SOCK_RAW, 0)
    tx = wire.socket_in_ns(socket.AF_PACKET, socket.SOCK_RAW, 0)
    try:
        rx.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF)
        rx.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
        rx.bind((link, ETH_P_ALL))
        rx.setblocking(False)
        tx.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, SNDBUF)
        tx.bind((link, 0))  # protocol 0: it receives nothing
        tx.settimeout(SEND_TIMEOUT)
    except OSError:
        rx.close()
        tx.close()
        raise
    return _Side(rx, tx)


class ImpairedPath:
    """A Linux stack of its own (``ns``, ``ip``, ``mac``) that reaches the
    target on ``link`` only through the forwarder. ``start()`` builds it,
    ``close()`` (also registered with the run, so Ctrl-C and exit clean up)
    removes it. ``index`` picks the address when a wire has several: .3, .4..."""

    def __init__(
        self, run: Run, wire: Wire, link: str, *, seed: int | str = 0, index: int = 0
    ) -> None:
        if not 0 <= index < MAX_INDEX:
            raise ValueError(f"index {index}: 0..{MAX_INDEX - 1}")
        self.run_ = run
        self.wire = wire
        self.link = link  # the target's link in the wire namespace
        self.seed = seed
        host = FIRST_HOST + index
        self.ip = f"{wire.addr.network.rsplit('.', 1)[0]}.{host}"
        self.mac = f"02:00:00:33:00:{host:02x}"
        self.ns = run.unique_name("impair")
        self.veth = f"rzi{next(_names)}"  # its end in the wire
        self._rules = {d: Rules() for d in DIRECTIONS}
        self._pumps: dict[str, Pump] = {}
        self._sides: list[_Side] = []
        self._undo: Callable[[], None] | None = None

    # ---- life cycle ---------------------------------------------------------

    def start(self) -> ImpairedPath:
        if self._undo is not None:
            raise RuntimeError(f"{self.ns} is already started")
        netns.create(self.ns)
        self._undo = self.run_.on_close(f"impaired path {self.ns}", self._teardown)
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def _build(self) -> None:
        a = self.wire.addr
        netns.ip(
            "-n", self.wire.ns, "link", "add", self.veth, "type", "veth",
            "peer", "name", "eth0", "address", self.mac, "netns", self.ns,
        )  # fmt: skip
        netns.ip_batch([f"link set dev {self.veth} arp off up"], netns=self.wire.ns)
        netns.ip_batch(
            [
                f"addr add {self.ip}/{a.prefix} broadcast {a.broadcast} dev eth0",
                "link set dev eth0 up",
            ],
            netns=self.ns,
        )
        # Real checksums and MTU-sized segments on the wire, as the Linux
        # target sends them (offloads would leave partial checksums and
        # 64 KiB "frames" that the target's link cannot carry).
        netns.run(["ethtool", "-K", "eth0", "tx", "off", "tso", "off", "gso", "off"], self.ns)
        self.wire.wait_carrier(self.veth)
        target_side = _packet_sockets(self.wire, self.link)
        self._sides.append(target_side)
        own_side = _packet_sockets(self.wire, self.veth)
        self._sides.append(own_side)
        mac = bytes.fromhex(self.mac.replace(":", ""))
        self._pumps = {
            "to_target": Pump(
                "to_target", own_side.rx, target_side.tx, self._impairment("to_target"), None
            ),
            "from_target": Pump(
                "from_target", target_side.rx, own_side.tx, self._impairment("from_target"), mac
            ),
        }
        for pump in self._pumps.values():
            pump.start()

    def _teardown(self) -> None:
        for pump in self._pumps.values():
            pump.stop()
        for side in self._sides:
            side.rx.close()
            side.tx.close()
        self._sides.clear()
        netns.delete(self.ns)  # takes the veth pair with it
        if netns.exists(self.wire.ns):
            netns.ip("-n", self.wire.ns, "link", "delete", self.veth, check=False)

    def close(self) -> None:
        if self._undo is not None:
            self._undo()
            self._undo = None

    def __enter__(self) -> ImpairedPath:
        return self.start() if self._undo is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- rules and counters ---------------------------------------------------

    def _impairment(self, direction: str) -> Impairment:
        return Impairment(self._rules[direction], self.seed, direction)

    def set_rules(
        self,
        to_target: Rules | None = None,
        from_target: Rules | None = None,
        *,
        both: Rules | None = None,
        seed: int | str | None = None,
    ) -> None:
        """Replaces the rules of the directions given (``both`` for both);
        the others keep theirs. New rules count frames from 1 and restart
        their random sequence from the seed. Frames already delayed or held
        are released as they were scheduled."""
        if seed is not None:
            self.seed = seed
        new = {"to_target": to_target or both, "from_target": from_target or both}
        for direction, rules in new.items():
            if rules is None:
                continue
            self._rules[direction] = rules
            pump = self._pumps.get(direction)
            if pump is not None:
                pump.impairment = self._impairment(direction)

    def clear_rules(self) -> None:
        """Both directions forward everything untouched."""
        self.set_rules(both=Rules())

    def rules(self) -> dict[str, Rules]:
        return dict(self._rules)

    def counters(self) -> dict[str, dict[str, int]]:
        """{direction: Counters.snapshot()}; raises if a forwarding thread failed."""
        out = {}
        for direction, pump in self._pumps.items():
            if pump.error is not None:
                raise RuntimeError(f"the {direction} forwarder failed: {pump.error!r}")
            pump.kernel_drops()
            out[direction] = pump.c.snapshot()
        return out

    def reset_counters(self) -> None:
        for pump in self._pumps.values():
            pump.kernel_drops()
            for name in pump.c.snapshot():
                setattr(pump.c, name, 0)

    def summary(self) -> str:
        parts = []
        for direction, c in self.counters().items():
            shown = ", ".join(f"{k} {v}" for k, v in c.items() if v and k != "received")
            parts.append(f"{direction}: {c['received']} received ({shown or 'nothing else'})")
        return "; ".join(parts)

    # ---- using the impaired stack ------------------------------------------------

    def socket(self, family: int, type: int, proto: int = 0) -> socket.socket:
        """A socket of the impaired namespace (it stays there for its lifetime)."""
        return netns.socket_in(self.ns, family, type, proto)

    def call(self, fn: Callable[[], Any]) -> Any:
        """Calls fn in a thread inside the impaired namespace."""
        return netns.run_in(self.ns, fn)

    def run(self, argv: Sequence[str], timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        """Runs a tool (ping, curl, ...) in the impaired namespace, output captured."""
        return subprocess.run(
            netns.exec_argv(self.ns, argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            preexec_fn=netns.prepare_child,
        )

    def popen(self, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[str]:
        """Starts a tool in the impaired namespace; stop it yourself by PID."""
        kwargs.setdefault("text", True)
        kwargs.setdefault("preexec_fn", netns.prepare_child)
        return subprocess.Popen(netns.exec_argv(self.ns, argv), **kwargs)

    def sysctls(self, values: dict[str, str]) -> None:
        """net.* sysctls of the impaired stack (e.g. net.ipv4.tcp_sack)."""
        netns.sysctls(self.ns, values)
