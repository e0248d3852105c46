"""The Scapy peer: virtual hosts on a link, a capture of everything on it,
and expectations over what the target sent.

    peer.send(Ether(src=peer.mac, dst=sut.mac) / IP(src=peer.ip, dst=sut.ip) / ICMP())
    reply = peer.expect(Ether() / IP(src=sut.ip) / ICMP(type=0), timeout=2)

The capture is the peer's own AF_PACKET socket in the wire namespace, bound
to the link, with a large receive buffer, read by a thread that starts
before the target does (Scapy's sniffers start late and drop bursts). Each
frame is kept as bytes with the kernel's receive timestamp and its
direction (PACKET_OUTGOING: sent by us or by tools in the namespace;
anything else came from the target), written to a pcap at once, and parsed
with Ether() only when a test looks at it.

Frames go out through a second socket, so they appear in the capture like
frames from any tool. The *cursor* is a point in time: send() puts it just
before its first frame, mark() at now; expect() and collect() look at frames
from the target after it (or since capture start with since_start=True).
"""

from __future__ import annotations

import bisect
import contextlib
import ctypes
import os
import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from scapy.layers.l2 import Ether
from scapy.packet import Packet

from .match import Template, matches, raw_prefilter
from .pcap import PcapWriter
from .wire import Addresses, Wire

ETH_P_ALL = 0x0003
ETH_P_ARP = b"\x08\x06"
PACKET_OUTGOING = 4
SOL_PACKET = 263
PACKET_STATISTICS = 6
SO_RCVBUFFORCE = 33
SO_SNDBUFFORCE = 32
SO_TIMESTAMPNS = 35
SO_ATTACH_FILTER = 26
RCVBUF = 32 << 20
SNDBUF = 4 << 20
MAX_FRAME = 65536 + 64
TIMESPEC = struct.Struct("@qq")


def bpf(*insns: tuple[int, int, int, int]) -> bytes:
    """A classic BPF program: (code, jt, jf, k) per instruction."""
    return b"".join(struct.pack("=HBBI", *i) for i in insns)


# Captures ARP only: the peer still answers the target's ARP requests for
# its virtual hosts (which it reads from the capture), and takes nothing else.
BPF_ONLY_ARP = bpf(
    (0x28, 0, 0, 12),  # ldh [12]: the ethertype
    (0x15, 0, 1, 0x0806),  # ARP? keep : drop
    (0x06, 0, 0, 0x40000),
    (0x06, 0, 0, 0),
)
IDLE_POLL_MS = 20


@dataclass(frozen=True)
class Host:
    mac: str
    ip: str


class Frame:
    """One frame on the wire: raw bytes, receive time (time.time() scale),
    direction; ``packet`` parses it once (Ether, with ``.time`` set)."""

    __slots__ = ("_packet", "data", "outgoing", "time")

    def __init__(self, data: bytes, time_: float, outgoing: bool) -> None:
        self.data = data
        self.time = time_
        self.outgoing = outgoing
        self._packet: Packet | None = None

    @property
    def packet(self) -> Packet:
        if self._packet is None:
            p = Ether(self.data)
            p.time = self.time
            self._packet = p
        return self._packet

    def __repr__(self) -> str:
        way = "out" if self.outgoing else "in"
        return f"<Frame {way} {self.time:.6f} {len(self.data)} bytes>"


class Peer:
    def __init__(self, wire: Wire, pcap: Path | None = None) -> None:
        self.wire = wire
        self.addr: Addresses = wire.addr
        self.mac = self.addr.host_mac(0)
        self.ip = self.addr.host_ip(0)
        self.arp_responder = True
        self.pcap_path = pcap
        self.link: str | None = None
        self._frames: list[Frame] = []
        self._times: list[float] = []  # of _frames, for bisect
        self._target_count = 0
        self._cond = threading.Condition()
        self._drained_at = 0.0  # time.time() when the reader last found the socket empty
        self._cursor = 0.0
        self._started_at = 0.0
        self._rx: socket.socket | None = None
        self._tx: socket.socket | None = None
        self._pcap: PcapWriter | None = None
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = -1, -1
        self._drops = 0
        self._error: BaseException | None = None
        self.arp_replies = 0

    def host(self, i: int) -> Host:
        return Host(self.addr.host_mac(i), self.addr.host_ip(i))

    # ---- life cycle ----------------------------------------------------------------

    def attach(self, link: str) -> Peer:
        """Starts capturing on the link (an interface in the wire namespace)."""
        if self._thread is not None:
            raise RuntimeError(f"the peer is already attached to {self.link}")
        rx = self.wire.socket_in_ns(socket.AF_PACKET, socket.SOCK_RAW, 0)
        tx = self.wire.socket_in_ns(socket.AF_PACKET, socket.SOCK_RAW, 0)
        try:
            rx.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF)
            rx.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            rx.bind((link, ETH_P_ALL))
            rx.setblocking(False)
            tx.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, SNDBUF)
            tx.bind((link, 0))
        except OSError:
            rx.close()
            tx.close()
            raise
        self.link = link
        self._rx, self._tx = rx, tx
        if self.pcap_path is not None:
            self._pcap = PcapWriter(self.pcap_path)
        self._wake_r, self._wake_w = os.pipe()
        self._started_at = self._cursor = time.time()
        self._thread = threading.Thread(target=self._read, name=f"peer {link}", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stops the capture and closes the pcap; the frames stay readable."""
        if self._thread is not None:
            os.write(self._wake_w, b"x")
            self._thread.join(timeout=5)
            self._thread = None
            os.close(self._wake_r)
            os.close(self._wake_w)
        for sock in (self._rx, self._tx):
            if sock is not None:
                sock.close()
        self._rx = self._tx = None
        if self._pcap is not None:
            self._pcap.close()
            self._pcap = None

    def __enter__(self) -> Peer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the capture thread ------------------------------------------------------

    def _read(self) -> None:
        assert self._rx is not None
        rx = self._rx
        poller = select.poll()
        poller.register(rx, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        cmsg_size = socket.CMSG_SPACE(TIMESPEC.size)
        try:
            while True:
                # A timeout, so that a quiet link still counts as drained up to
                # now (_sync need not wait out its timeout after silence).
                events = poller.poll(IDLE_POLL_MS)
                if any(fd == self._wake_r for fd, _ in events):
                    self._drain(rx, cmsg_size)
                    return
                self._drain(rx, cmsg_size)
        except BaseException as e:  # reported by the next call that waits
            with self._cond:
                self._error = e
                self._cond.notify_all()

    def _drain(self, rx: socket.socket, cmsg_size: int) -> None:
        batch: list[Frame] = []
        while True:
            try:
                data, ancdata, _flags, address = rx.recvmsg(MAX_FRAME, cmsg_size)
            except BlockingIOError:
                break
            stamp = 0.0
            for level, kind, raw in ancdata:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    sec, nsec = TIMESPEC.unpack_from(raw)
                    stamp = sec + nsec / 1e9
            frame = Frame(data, stamp or time.time(), address[2] == PACKET_OUTGOING)
            batch.append(frame)
            if self._pcap is not None:
                self._pcap.write(data, frame.time)
            if not frame.outgoing and self.arp_responder:
                self._maybe_answer_arp(data)
        now = time.time()
        if self._pcap is not None and batch:
            self._pcap.flush()
        with self._cond:
            self._frames.extend(batch)
            self._times.extend(f.time for f in batch)
            self._target_count += sum(1 for f in batch if not f.outgoing)
            self._drained_at = now
            self._cond.notify_all()

    def _maybe_answer_arp(self, data: bytes) -> None:
        """Answers the target's who-has for a virtual host's address."""
        if (
            len(data) < 42
            or data[12:14] != ETH_P_ARP
            or data[14:22] != b"\x00\x01\x08\x00\x06\x04\x00\x01"
        ):
            return
        tpa = socket.inet_ntoa(data[38:42])
        i = self.addr.host_index(tpa)
        if i is None:
            return
        mac = bytes.fromhex(self.addr.host_mac(i).replace(":", ""))
        sha, spa = data[22:28], data[28:32]
        reply = (
            sha
            + mac
            + ETH_P_ARP
            + b"\x00\x01\x08\x00\x06\x04\x00\x02"
            + mac
            + data[38:42]
            + sha
            + spa
        )
        assert self._tx is not None
        with contextlib.suppress(OSError):
            self._tx.send(reply.ljust(60, b"\0"))
            self.arp_replies += 1

    # ---- sending -------------------------------------------------------------------

    def send(self, *frames: Packet | bytes, gap: float = 0.0) -> None:
        """Sends raw Ethernet frames on the link, gap seconds apart; the
        cursor moves to just before the first one."""
        tx = self._need_tx()
        raw = [f if isinstance(f, bytes | bytearray) else bytes(f) for f in frames]
        self._cursor = time.time()
        for i, data in enumerate(raw):
            if i and gap:
                time.sleep(gap)
            self._send_one(tx, bytes(data))

    @staticmethod
    def _send_one(tx: socket.socket, data: bytes) -> None:
        for _ in range(200):
            try:
                tx.send(data)
                return
            except BlockingIOError:
                time.sleep(0.001)
            except OSError as e:
                if e.errno != 105:  # ENOBUFS: the device queue is full, retry
                    raise
                time.sleep(0.001)
        raise OSError(f"could not send a {len(data)}-byte frame: the link's queue stays full")

    def _need_tx(self) -> socket.socket:
        if self._tx is None:
            raise RuntimeError("the peer is not attached to a link (or is closed)")
        return self._tx

    def mark(self) -> None:
        """Moves the cursor to now without sending."""
        self._cursor = time.time()

    @property
    def cursor(self) -> float:
        return self._cursor

    # ---- looking at what the target sent ---------------------------------------------

    def _sync(self, at: float, timeout: float = 1.0) -> None:
        """Waits until the reader has drained everything queued before `at`."""
        with self._cond:
            self._cond.wait_for(
                lambda: self._drained_at >= at or self._thread is None or self._error is not None,
                timeout,
            )
            self._raise_error()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise RuntimeError(f"the peer's capture thread failed: {self._error!r}")

    def _start(self, since_start: bool) -> float:
        return 0.0 if since_start else self._cursor

    def expect(
        self, template: Template, timeout: float = 2.0, since_start: bool = False
    ) -> Packet | None:
        """The first frame from the target after the cursor (or since capture
        start) that matches, waiting up to timeout seconds; None if none."""
        start = self._start(since_start)
        quick = raw_prefilter(template)
        deadline = time.time() + timeout
        with self._cond:
            index = bisect.bisect_left(self._times, start)
        while True:
            with self._cond:
                frames = self._frames[index:]
            for frame in frames:
                if frame.time >= start and _wanted(frame, template, quick):
                    return frame.packet
            index += len(frames)
            now = time.time()
            if now >= deadline:
                self._sync(deadline)
                with self._cond:
                    late = self._frames[index:]
                for frame in late:
                    if frame.time > deadline:
                        break
                    if _wanted(frame, template, quick):
                        return frame.packet
                return None
            with self._cond:
                self._raise_error()
                if len(self._frames) == index:
                    self._cond.wait(min(deadline - now, 0.5))

    def collect(
        self, window: float, template: Template | None = None, since_start: bool = False
    ) -> list[Packet]:
        """Waits window seconds, then returns every frame from the target after
        the cursor (or since start) that matches."""
        start = self._start(since_start)
        end = time.time() + window
        time.sleep(max(0.0, end - time.time()))
        self._sync(end)
        return self._select(start, end, template)

    def from_target(self, template: Template | None = None) -> list[Packet]:
        """Everything received from the target since capture start, matching."""
        self._sync(time.time(), timeout=0.2)
        return self._select(0.0, None, template)

    def _select(self, start: float, end: float | None, template: Template | None) -> list[Packet]:
        with self._cond:
            frames = self._frames[bisect.bisect_left(self._times, start) :]
        quick = raw_prefilter(template) if template is not None else None
        return [
            f.packet
            for f in frames
            if f.time >= start and (end is None or f.time <= end) and _wanted(f, template, quick)
        ]

    def frames(self) -> list[Frame]:
        """Every frame captured so far, both directions, in capture order."""
        with self._cond:
            return list(self._frames)

    def filter_capture(self, program: bytes) -> None:
        """Attaches a classic BPF program (see bpf()) to the capture socket:
        the frames it rejects are neither captured nor counted, so that a
        flood of millions does not fill memory and the pcap (BPF_ONLY_ARP).
        ARP requests the program rejects go unanswered."""
        if self._rx is None:
            raise RuntimeError("the peer's capture is not running")
        if not program or len(program) % 8:
            raise ValueError(f"a BPF program is 8 octets per instruction, not {len(program)}")
        buf = ctypes.create_string_buffer(program, len(program))
        fprog = struct.pack("=HxxxxxxQ", len(program) // 8, ctypes.addressof(buf))
        self._rx.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)

    def stats(self) -> dict[str, int]:
        """Frames seen from the target, sent on the link (by us or tools), and
        dropped by the kernel before the capture read them (should be 0)."""
        if self._rx is not None:
            with contextlib.suppress(OSError):
                raw = self._rx.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
                _packets, drops = struct.unpack("II", raw)
                self._drops += drops
        with self._cond:
            total = len(self._frames)
            return {
                "from_target": self._target_count,
                "outgoing": total - self._target_count,
                "dropped": self._drops,
                "arp_replies": self.arp_replies,
            }

    def summary(self) -> str:
        s = self.stats()
        return (
            f"{s['from_target']} frames from the target, {s['outgoing']} sent, "
            f"{s['dropped']} dropped by the capture"
        )


def _wanted(frame: Frame, template: Template | None, quick: Callable[[bytes], bool] | None) -> bool:
    """From the target, and matching (the raw-bytes test first: it is cheap)."""
    if frame.outgoing:
        return False
    if template is None:
        return True
    if quick is not None and not quick(frame.data):
        return False
    return matches(frame.packet, template)
