"""Benchmarks: ringzero against a Linux microVM doing the same job, side by
side in one run (issue 8). Benchmarks, not tests: they print figures and
never fail on them.

    ringzero bench [--quick] [--runs N] [--out DIR] [--only boot,size,...]

For each side in turn, one VM at a time on the wire's tap (the same
address, MAC and QEMU settings for both):

  size    the bootable image: ringzero's stripped `http` image; the Linux
          VM's kernel + initramfs (harness/linuxvm.py)
  boot    QEMU start to the first HTTP 200, on the host's clock: the VM is
          started paused, its tap moved into the wire, and from then on a
          new connection with GET / is opened every 10 ms from the wire
          (the guest's neighbour entry pinned, so that no ARP timer delays
          the first answer); and the guest's own time to ready: ringzero's
          "Service::start() at N us after reset" (its TSC), Linux's uptime
          when nginx listened (/proc/uptime, counted from early kernel init)
  memory  the smallest -m with which it boots and serves GET /, bisected
          (ringzero 2..64 MiB to 1 MiB; Linux 64..256 MiB to 4 MiB, nginx
          alone); --quick skips it
  idle    host CPU time of the QEMU process over IDLE_S of idleness
  http    httperf, a new connection per request (closed loop: CLIENTS
          processes, each opening the next connection when the last one
          closed), and wrk, keep-alive connections, with its latency
          percentiles
  bulk    GET /bytes/N (ringzero's route; nginx serves a file of N zero
          octets made at boot, rz.bytes=N) and N octets sent to the discard
          service on TCP port 9 (ringzero's `tcp` service; on Linux busybox
          nc -ll running dd to /dev/null per connection, as this busybox
          has no inetd)
  dns     A queries/s from a generator here (UDP, a window of outstanding
          queries) against ringzero's `dns` service and dnsmasq, and the
          host CPU time of QEMU per 100 k queries
  ping    ping RTT (every 20 ms) while wrk runs: median and p99

Each figure is the median of --runs runs (default 5; --quick: 1 boot each,
short load runs, no memory bisection, < 2 minutes), with min and max. At
the end a table (figure | ringzero | Linux VM | ratio ringzero/Linux, with
which way is better) goes to stdout and the report to
reports/bench/<run-id>/: bench.json, bench.md, figures.svg (a bar chart per
figure, whiskers min to max) and latency.svg (ping RTT CDF, wrk latency
percentiles). A figure that could not be measured shows "-" and the reason;
the exit status is 0 unless no figure at all could be measured.

``ringzero bench boot`` is the older boot-time benchmark of ``hello``
under each backend (boot_benchmark below).
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import platform
import re
import selectors
import socket
import statistics
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .build import Image, build
from .hypervisor.base import BACKENDS, Accel
from .paths import reports_dir
from .plot import Bar, bar_chart, grid, line_chart, stack
from .runs import Run
from .vm import STARTED_RE, Vm

SIDES = ("ringzero", "linux")
SIDE_TITLES = {"ringzero": "ringzero", "linux": "Linux VM"}
GROUPS = ("boot", "size", "memory", "idle", "http", "bulk", "dns", "ping")

HTTP_PORT = 80
DISCARD_PORT = 9
DNS_PORT = 53
DNS_NAME = "www.example.test"
DNS_RECORDS = "www.example.test:10.33.0.50,www.example.test:10.33.0.51"
POLL_INTERVAL_S = 0.01
PING_INTERVAL_S = 0.02
MIB = 1 << 20


# ---- what is measured --------------------------------------------------------------


@dataclass(frozen=True)
class FigureSpec:
    key: str
    group: str
    title: str
    unit: str
    better: str  # "lower" or "higher"


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec("boot_to_http_ms", "boot", "boot: QEMU start to first HTTP 200", "ms", "lower"),
    FigureSpec("boot_guest_ms", "boot", "boot: the guest's own time to ready", "ms", "lower"),
    FigureSpec("image_kib", "size", "image size", "KiB", "lower"),
    FigureSpec("min_memory_mib", "memory", "smallest -m that boots and serves", "MiB", "lower"),
    FigureSpec("idle_cpu_pct", "idle", "idle: host CPU of QEMU", "% of a CPU", "lower"),
    FigureSpec("http_conn_rate", "http", "HTTP, new connection each (httperf)", "conn/s", "higher"),
    FigureSpec("http_keepalive_rps", "http", "HTTP keep-alive (wrk)", "req/s", "higher"),
    FigureSpec("http_p50_ms", "http", "HTTP keep-alive latency p50", "ms", "lower"),
    FigureSpec("http_p90_ms", "http", "HTTP keep-alive latency p90", "ms", "lower"),
    FigureSpec("http_p99_ms", "http", "HTTP keep-alive latency p99", "ms", "lower"),
    FigureSpec("bulk_download_mibps", "bulk", "TCP bulk download (GET)", "MiB/s", "higher"),
    FigureSpec("bulk_upload_mibps", "bulk", "TCP bulk upload (discard)", "MiB/s", "higher"),
    FigureSpec("dns_qps", "dns", "DNS queries answered", "queries/s", "higher"),
    FigureSpec("dns_cpu_100k_s", "dns", "DNS: host CPU of QEMU per 100k queries", "s", "lower"),
    FigureSpec("ping_p50_ms", "ping", "ping RTT under wrk load, median", "ms", "lower"),
    FigureSpec("ping_p99_ms", "ping", "ping RTT under wrk load, p99", "ms", "lower"),
)
FIGURE = {f.key: f for f in FIGURES}


def parse_only(text: str | None) -> tuple[str, ...]:
    """--only: a comma-separated subset of GROUPS (None or "all": all of them)."""
    if text is None or text.strip() in ("", "all"):
        return GROUPS
    words = [w.strip() for w in text.split(",") if w.strip()]
    unknown = [w for w in words if w not in GROUPS]
    if unknown or not words:
        raise ValueError(f"--only {text!r}: a comma-separated list of {', '.join(GROUPS)}")
    return tuple(g for g in GROUPS if g in words)


@dataclass
class Settings:
    quick: bool = False
    runs: int = 5
    groups: tuple[str, ...] = GROUPS
    out: Path | None = None
    backend: str = "qemu"
    accel: str = "auto"
    idle_s: float = 10.0
    load_s: float = 10.0
    settle_s: float = 2.0  # after a boot, before the first measurement
    bulk_bytes: int = 16 * MIB  # ringzero's /bytes/N takes 16 MiB at most
    httperf_clients: int = 4
    wrk_connections: int = 8
    dns_window: int = 32
    ringzero_memory_mib: int = 64
    linux_memory_mib: int = 256
    memory_search: dict[str, tuple[int, int, int]] = field(
        default_factory=lambda: {"ringzero": (2, 64, 1), "linux": (64, 256, 4)}
    )


def make_settings(
    quick: bool = False,
    runs: int | None = None,
    only: str | None = None,
    out: Path | None = None,
    backend: str = "qemu",
    accel: str = "auto",
) -> Settings:
    """The settings of a full run, or of --quick (< 2 minutes: one boot a
    side, 3 s load runs, 5 s of idleness, 8 MiB transfers, no bisection)."""
    groups = parse_only(only)
    if runs is not None and runs < 1:
        raise ValueError("--runs must be 1 or more")
    if quick:
        return Settings(
            quick=True,
            runs=runs or 1,
            groups=groups,
            out=out,
            backend=backend,
            accel=accel,
            idle_s=5.0,
            load_s=3.0,
            settle_s=1.0,
            bulk_bytes=8 * MIB,
        )
    return Settings(runs=runs or 5, groups=groups, out=out, backend=backend, accel=accel)


# ---- numbers -----------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0..100), interpolated between the nearest ranks."""
    if not values:
        raise ValueError("the percentile of no values")
    xs = sorted(values)
    k = (len(xs) - 1) * p / 100.0
    lo = math.floor(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


@dataclass(frozen=True)
class Stat:
    median: float
    min: float
    max: float
    n: int


def summarize(values: Sequence[float]) -> Stat:
    return Stat(statistics.median(values), min(values), max(values), len(values))


def fmt_number(v: float) -> str:
    """About three significant digits: "13,012", "812", "81.2", "8.12", "0.0812"."""
    a = abs(v)
    if a == 0:
        return "0"
    if a >= 100:
        return f"{v:,.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def fmt_stat(s: Stat, unit: str) -> str:
    """ "812 ms (790-840)": the median, then the range when there is one."""
    text = f"{fmt_number(s.median)} {unit}"
    if s.n > 1 and s.max > s.min:
        text += f" ({fmt_number(s.min)}-{fmt_number(s.max)})"
    return text


def ratio(ringzero: float, linux: float) -> float | None:
    """ringzero / Linux; None when Linux's figure is 0 and ringzero's is not."""
    if linux == 0:
        return 1.0 if ringzero == 0 else None
    return ringzero / linux


def ratio_text(ringzero: float | None, linux: float | None, better: str) -> str:
    """ "0.0077 (lower is better: ringzero 130x)": the ratio ringzero/Linux,
    which way is better, and who is better by how much."""
    if ringzero is None or linux is None:
        return "-"
    q = ratio(ringzero, linux)
    if ringzero == linux:
        return "1.00 (even)"
    rz_better = ringzero < linux if better == "lower" else ringzero > linux
    winner = SIDE_TITLES["ringzero"] if rz_better else SIDE_TITLES["linux"]
    small, large = sorted((abs(ringzero), abs(linux)))
    factor = f" {large / small:.3g}x" if small > 0 else ""
    shown = "inf" if q is None else f"{q:.3g}"
    return f"{shown} ({better} is better: {winner}{factor})"


# ---- results -----------------------------------------------------------------------


class Results:
    """Samples per figure and side, the reason a figure was not measured,
    notes on how it was, and raw data for the report."""

    def __init__(self) -> None:
        self.samples: dict[str, dict[str, list[float]]] = {f.key: {} for f in FIGURES}
        self.reasons: dict[str, dict[str, str]] = {f.key: {} for f in FIGURES}
        self.notes: dict[str, dict[str, list[str]]] = {f.key: {} for f in FIGURES}
        self.raw: dict[str, dict[str, Any]] = {s: {} for s in SIDES}

    def add(self, key: str, side: str, value: float) -> None:
        if not math.isfinite(value):
            raise ValueError(f"{key} ({side}): {value} is not a figure")
        self.samples[key].setdefault(side, []).append(float(value))
        self.reasons[key].pop(side, None)

    def note(self, key: str, side: str, text: str) -> None:
        notes = self.notes[key].setdefault(side, [])
        if text not in notes:
            notes.append(text)

    def fail(self, keys: Iterable[str], side: str, reason: str) -> None:
        """Figures a step could not measure: "-" and the reason, or, for one
        with samples from other runs, a note that a run failed."""
        reason = one_line(reason)
        for key in keys:
            if self.samples[key].get(side):
                self.note(key, side, f"a run failed: {reason}")
            elif side not in self.reasons[key]:
                self.reasons[key][side] = reason

    def record(self, side: str, what: str, value: Any) -> None:
        self.raw[side].setdefault(what, []).append(value)

    def stat(self, key: str, side: str) -> Stat | None:
        values = self.samples[key].get(side)
        return summarize(values) if values else None

    def measured(self) -> int:
        return sum(1 for per in self.samples.values() for v in per.values() if v)


def one_line(text: str, limit: int = 240) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


# ---- parsers -----------------------------------------------------------------------

_PING_REPLY = re.compile(r"\bicmp_seq=(\d+)\b.*?\btime=([\d.]+) ms")
_PING_TOTALS = re.compile(r"(\d+) packets transmitted, (\d+) received")


@dataclass
class PingResult:
    sent: int
    received: int
    rtts_ms: list[float]

    @property
    def loss_pct(self) -> float:
        return 100.0 * max(0, self.sent - self.received) / self.sent if self.sent else 0.0


def parse_ping_rtts(text: str) -> PingResult:
    """iputils ping's output: the RTT of each reply ("... icmp_seq=3 ttl=64
    time=0.412 ms", duplicates left out) and its totals."""
    rtts = [
        float(m[2])
        for line in text.splitlines()
        if "DUP!" not in line
        for m in [_PING_REPLY.search(line)]
        if m
    ]
    totals = _PING_TOTALS.search(text)
    if totals is None:
        raise ValueError(f"ping printed no statistics; its output ends:\n{text[-800:]}")
    return PingResult(int(totals[1]), int(totals[2]), rtts)


def dns_query(name: str, qid: int, rd: bool = True) -> bytes:
    """A standard query (RFC 1035 4.1) for name's A records."""
    header = struct.pack("!HHHHHH", qid & 0xFFFF, 0x0100 if rd else 0, 1, 0, 0, 0)
    labels = [label.encode() for label in name.rstrip(".").split(".")]
    if any(not 0 < len(label) < 64 for label in labels):
        raise ValueError(f"{name!r} is not a DNS name")
    qname = b"".join(bytes([len(label)]) + label for label in labels) + b"\0"
    return header + qname + struct.pack("!HH", 1, 1)


def dns_reply(data: bytes) -> tuple[int, int, int] | None:
    """(id, RCODE, ANCOUNT) of a response, None for anything else."""
    if len(data) < 12:
        return None
    qid, flags, _qd, ancount = struct.unpack("!HHHH", data[:8])
    if not flags & 0x8000:
        return None
    return qid, flags & 0xF, ancount


# ---- probes: plain socket code, run inside the wire's namespace ----------------------

SocketFactory = Callable[..., socket.socket]


class _Attempt:
    def __init__(self, started: float) -> None:
        self.started = started
        self.sent = False
        self.buf = b""


def poll_first_200(
    ip: str,
    port: int = HTTP_PORT,
    path: str = "/",
    *,
    interval: float = POLL_INTERVAL_S,
    attempt_timeout: float = 1.0,
    deadline_s: float = 300.0,
    stop: threading.Event | None = None,
    alive: Callable[[], bool] | None = None,
    sock_factory: SocketFactory = socket.socket,
    max_attempts: int = 64,
) -> float | None:
    """time.monotonic() when the first response to GET path with status 200
    began to arrive; a new connection is opened every `interval` (each
    given attempt_timeout), so that neither a lost SYN nor a slow answer
    delays the figure by more than the interval. None when stop is set,
    alive() turns false or deadline_s passes first."""
    request = f"GET {path} HTTP/1.1\r\nHost: {ip}\r\nConnection: close\r\n\r\n".encode()
    sel = selectors.DefaultSelector()
    end = time.monotonic() + deadline_s
    next_at = time.monotonic()
    checked = 0.0

    def drop(s: socket.socket) -> None:
        with contextlib.suppress(KeyError, ValueError):
            sel.unregister(s)
        s.close()

    try:
        while True:
            now = time.monotonic()
            if (stop is not None and stop.is_set()) or now >= end:
                return None
            if alive is not None and now - checked >= 0.2:
                checked = now
                if not alive():
                    return None
            if now >= next_at:
                next_at = max(next_at + interval, now)
                if len(sel.get_map()) < max_attempts:
                    s = sock_factory(socket.AF_INET, socket.SOCK_STREAM)
                    s.setblocking(False)
                    err = s.connect_ex((ip, port))
                    if err in (0, errno.EINPROGRESS):
                        sel.register(s, selectors.EVENT_WRITE, _Attempt(now))
                    else:
                        s.close()
            for key in list(sel.get_map().values()):
                if now - key.data.started > attempt_timeout:
                    drop(key.fileobj)  # type: ignore[arg-type]
            wait = max(0.0, min(next_at, end) - time.monotonic())
            for key, _ in sel.select(wait):
                s = key.fileobj  # type: ignore[assignment]
                a: _Attempt = key.data
                if not a.sent:
                    if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                        drop(s)
                        continue
                    try:
                        s.send(request)
                    except OSError:
                        drop(s)
                        continue
                    a.sent = True
                    sel.modify(s, selectors.EVENT_READ, a)
                    continue
                try:
                    data = s.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    drop(s)
                    continue
                if not data:
                    drop(s)
                    continue
                a.buf += data
                if b"\r\n" in a.buf:
                    parts = a.buf.split(b"\r\n", 1)[0].split()
                    if len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1] == b"200":
                        return time.monotonic()
                    drop(s)
    finally:
        for key in list(sel.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        sel.close()


@dataclass
class Transfer:
    octets: int
    seconds: float

    @property
    def mib_per_s(self) -> float:
        return self.octets / MIB / self.seconds if self.seconds > 0 else 0.0


def _head(data: bytes) -> tuple[int, int | None]:
    """The status and Content-Length of a response head."""
    lines = data.decode("latin-1").split("\r\n")
    parts = lines[0].split()
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ValueError(f"not an HTTP response: {lines[0]!r}")
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    return int(parts[1]), length


def http_download(
    ip: str,
    path: str,
    port: int = HTTP_PORT,
    timeout: float = 60.0,
    sock_factory: SocketFactory = socket.socket,
) -> Transfer:
    """GET path on a new connection; the body's octets and the time from
    sending the request to its last octet."""
    with contextlib.closing(sock_factory(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.settimeout(timeout)
        s.connect((ip, port))
        started = time.monotonic()
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {ip}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                raise ValueError(f"GET {path}: the connection closed before the response head")
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        status, length = _head(head)
        if status != 200:
            raise ValueError(f"GET {path}: status {status}")
        if length is None:
            raise ValueError(f"GET {path}: no Content-Length")
        got = len(rest)
        buf = bytearray(1 << 18)
        while got < length:
            n = s.recv_into(buf)
            if n == 0:
                raise ValueError(f"GET {path}: closed after {got} of {length} octets")
            got += n
        return Transfer(length, time.monotonic() - started)


def tcp_upload(
    ip: str,
    nbytes: int,
    port: int = DISCARD_PORT,
    timeout: float = 60.0,
    sock_factory: SocketFactory = socket.socket,
) -> Transfer:
    """nbytes octets to a discard service on a new connection, then our
    FIN; the time from the first octet sent to the service's FIN (it
    closes once it has read everything)."""
    with contextlib.closing(sock_factory(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.settimeout(timeout)
        s.connect((ip, port))
        chunk = memoryview(bytes(1 << 18))
        started = time.monotonic()
        left = nbytes
        while left > 0:
            n = s.send(chunk[: min(left, len(chunk))])
            left -= n
        s.shutdown(socket.SHUT_WR)
        while s.recv(65536):
            pass
        return Transfer(nbytes, time.monotonic() - started)


@dataclass
class DnsLoad:
    sent: int
    answered: int  # NOERROR with answers
    bad: int  # other responses, or errors (e.g. ICMP port unreachable)
    lost: int  # no response within the timeout
    seconds: float  # from the first query to the last answer (or the end of sending)
    client_cpu_s: float  # this generator's own CPU time

    @property
    def qps(self) -> float:
        return self.answered / self.seconds if self.seconds > 0 else 0.0


def dns_load(
    ip: str,
    seconds: float,
    name: str = DNS_NAME,
    port: int = DNS_PORT,
    window: int = 32,
    timeout: float = 1.0,
    sock_factory: SocketFactory = socket.socket,
) -> DnsLoad:
    """A query for name's A records whenever fewer than `window` are
    outstanding, for `seconds`; then waits up to `timeout` for the last
    answers. A query not answered within `timeout` is lost (and not sent
    again)."""
    template = dns_query(name, 0)
    outstanding: dict[int, float] = {}
    sent = answered = bad = lost = 0
    next_id = 0
    s = sock_factory(socket.AF_INET, socket.SOCK_DGRAM)
    sel = selectors.DefaultSelector()
    cpu0 = time.thread_time()
    try:
        s.setblocking(False)
        s.connect((ip, port))
        sel.register(s, selectors.EVENT_READ)
        start = time.monotonic()
        end = start + seconds
        last = start
        while True:
            now = time.monotonic()
            sending = now < end
            if not sending and (not outstanding or now >= end + timeout):
                lost += len(outstanding)
                break
            while sending and len(outstanding) < window:
                qid = next_id
                next_id = (next_id + 1) & 0xFFFF
                if qid in outstanding:
                    break
                try:
                    s.send(qid.to_bytes(2, "big") + template[2:])
                except (BlockingIOError, ConnectionRefusedError):
                    break
                outstanding[qid] = now
                sent += 1
            while outstanding:
                qid, at = next(iter(outstanding.items()))
                if now - at <= timeout:
                    break
                del outstanding[qid]
                lost += 1
            wait = min(0.05, max(0.0, end - now)) if sending else 0.05
            if sending and len(outstanding) < window:
                wait = 0.0
            if not sel.select(wait):
                continue
            while True:
                try:
                    data = s.recv(2048)
                except BlockingIOError:
                    break
                except ConnectionRefusedError:
                    bad += 1
                    break
                reply = dns_reply(data)
                if reply is None or reply[0] not in outstanding:
                    continue
                del outstanding[reply[0]]
                last = time.monotonic()
                if reply[1] == 0 and reply[2] > 0:
                    answered += 1
                else:
                    bad += 1
        took = max(min(seconds, time.monotonic() - start), last - start)
        return DnsLoad(sent, answered, bad, lost, took, time.thread_time() - cpu0)
    finally:
        sel.close()
        s.close()


def bisect_memory(
    lo: int, hi: int, step: int, works: Callable[[int], bool]
) -> tuple[int | None, list[tuple[int, bool]]]:
    """The smallest of lo, lo+step, ..., hi for which works() holds, taking
    it to hold for every larger one; tries hi first. Returns it (None when
    hi does not work) and every (MiB, worked) tried, in order."""
    values = list(range(lo, hi + 1, step))
    if values[-1] != hi:
        values.append(hi)
    tried: list[tuple[int, bool]] = []

    def attempt(m: int) -> bool:
        ok = works(m)
        tried.append((m, ok))
        return ok

    if not attempt(values[-1]):
        return None, tried
    bad, good = -1, len(values) - 1
    while good - bad > 1:
        mid = (bad + good) // 2
        if attempt(values[mid]):
            good = mid
        else:
            bad = mid
    return values[good], tried


# ---- the report --------------------------------------------------------------------


def figure_rows(results: Results) -> list[dict[str, Any]]:
    """Per figure: its spec, each side's summary (or reason) and the ratio."""
    rows = []
    for f in FIGURES:
        row: dict[str, Any] = {**asdict(f)}
        medians: dict[str, float | None] = {}
        for side in SIDES:
            s = results.stat(f.key, side)
            entry: dict[str, Any] = {"samples": results.samples[f.key].get(side, [])}
            if s is not None:
                entry.update(median=s.median, min=s.min, max=s.max, n=s.n)
            else:
                entry["reason"] = results.reasons[f.key].get(side, "not measured")
            notes = results.notes[f.key].get(side)
            if notes:
                entry["notes"] = notes
            row[side] = entry
            medians[side] = s.median if s is not None else None
        rz, lx = medians["ringzero"], medians["linux"]
        row["ratio"] = ratio(rz, lx) if rz is not None and lx is not None else None
        row["ratio_text"] = ratio_text(rz, lx, f.better)
        rows.append(row)
    return rows


def table_cells(
    rows: Sequence[dict[str, Any]], groups: Sequence[str]
) -> tuple[list[list[str]], list[str]]:
    """The table's cells (header first) for the figures of the groups run,
    and its footnotes: why each "-" is one."""
    header = ["figure", SIDE_TITLES["ringzero"], SIDE_TITLES["linux"], "ratio ringzero/Linux"]
    cells = [header]
    footnotes: list[str] = []
    for row in rows:
        if row["group"] not in groups:
            continue
        line = [row["title"]]
        reasons = {side: row[side]["reason"] for side in SIDES if "median" not in row[side]}
        shared = len(reasons) == len(SIDES) and len(set(reasons.values())) == 1
        for side in SIDES:
            entry = row[side]
            if "median" in entry:
                s = Stat(entry["median"], entry["min"], entry["max"], entry["n"])
                line.append(fmt_stat(s, row["unit"]))
                continue
            who = "" if shared else f" ({SIDE_TITLES[side]})"
            text = f"{row['title']}{who}: {reasons[side]}"
            if text not in footnotes:
                footnotes.append(text)
            line.append(f"- [{footnotes.index(text) + 1}]")
        line.append(row["ratio_text"])
        cells.append(line)
    return cells, footnotes


def text_table(rows: Sequence[dict[str, Any]], groups: Sequence[str]) -> str:
    cells, footnotes = table_cells(rows, groups)
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]

    def fmt(r: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()

    out = [fmt(cells[0]), "  ".join("-" * w for w in widths)]
    out += [fmt(r) for r in cells[1:]]
    if footnotes:
        out.append("")
        out += [f"[{i}] {text}" for i, text in enumerate(footnotes, start=1)]
    return "\n".join(out)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown(meta: dict[str, Any], rows: Sequence[dict[str, Any]]) -> str:
    groups = meta["groups"]
    cells, footnotes = table_cells(rows, groups)
    out = [
        f"# ringzero bench {meta['run_id']}",
        "",
        f"ringzero against a Linux microVM (Debian's kernel, busybox initramfs, nginx, dnsmasq), "
        f"one after the other in one run; {meta['accel']}, QEMU backend {meta['backend']}, "
        f"{meta['runs']} run(s) per figure"
        + (" (--quick: short load runs, no memory bisection)" if meta["quick"] else "")
        + ".",
        "",
        f"- started {meta['started']}, took {meta.get('elapsed_s', 0):.0f} s",
        f"- host: {meta['host']['cpus']} CPUs, load average "
        f"{' '.join(f'{x:.2f}' for x in meta['host']['loadavg_start'])} at the start, "
        f"{' '.join(f'{x:.2f}' for x in meta['host'].get('loadavg_end', []))} at the end",
        "- each figure: the median of its runs, (min-max) when they differ; the ratio is "
        "ringzero's median over the Linux VM's, with which way is better",
        "",
        "| " + " | ".join(cells[0]) + " |",
        "|" + "---|" * len(cells[0]),
    ]
    out += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in cells[1:]]
    out.append("")
    if footnotes:
        out += [f"{i}. {_md_cell(text)}" for i, text in enumerate(footnotes, start=1)]
        out.append("")
    notes = []
    for row in rows:
        if row["group"] not in groups:
            continue
        per_side = {side: row[side].get("notes", []) for side in SIDES}
        both = [n for n in per_side[SIDES[0]] if all(n in per_side[s] for s in SIDES[1:])]
        notes += [f"- {row['title']}: {n}" for n in both]
        notes += [
            f"- {row['title']}, {SIDE_TITLES[side]}: {n}"
            for side in SIDES
            for n in per_side[side]
            if n not in both
        ]
    if notes:
        out += ["## Notes", "", *notes, ""]
    out += [
        "## Plots",
        "",
        "![every figure, min-max whiskers](figures.svg)",
        "",
        "![latency: ping RTT under load, wrk percentiles](latency.svg)",
        "",
        "## How each figure is measured",
        "",
        *(f"- {line}" for line in HOW),
        "",
    ]
    return "\n".join(out)


HOW = (
    "boot: QEMU is started paused, its tap moved into the wire's namespace and the guest's "
    "neighbour entry pinned, then resumed; from the wire a new connection with GET / every "
    "10 ms; the figure is QEMU start to the first byte of a 200 response (host clock). The "
    "guest's own time: ringzero's reset to Service::start() (its TSC); Linux's kernel uptime "
    "when nginx listened (from early kernel init: firmware, loading and decompressing the "
    "kernel are not in it).",
    "image size: ringzero's stripped `http` image; the Linux VM's kernel plus gzipped initramfs.",
    "memory: bisection of -m: ringzero 2..64 MiB to 1 MiB, Linux 64..256 MiB to 4 MiB (nginx "
    "alone); a size works when GET / answers 200.",
    "idle: user + system CPU time of the QEMU process over the idle period, per second.",
    "HTTP: httperf --rate 0 (a new connection when the last closed) in parallel processes, "
    "each stopped by SIGINT, GET /hello; wrk -t1 keep-alive connections, GET /hello, "
    "--latency percentiles.",
    "bulk: GET /bytes/N over a new connection, request to last octet; N octets to the discard "
    "port 9, first octet to the service's FIN (ringzero's `tcp` service; Linux: busybox nc "
    "-ll with dd to /dev/null, as this busybox has no inetd).",
    "DNS: a UDP generator in the harness (a window of outstanding A queries for "
    "www.example.test); QEMU's CPU time over the run per 100 k answered queries "
    "(ringzero's `dns` service; dnsmasq in the Linux VM, which also runs nginx).",
    "ping: iputils ping every 20 ms while wrk runs; median and p99 of each run's RTTs.",
)


def charts(results: Results, groups: Sequence[str]) -> tuple[str, str]:
    """figures.svg (a bar chart per figure) and latency.svg."""
    bars = []
    for f in FIGURES:
        if f.group not in groups:
            continue
        entries = []
        stats = [results.stat(f.key, side) for side in SIDES]
        for side, s in zip(SIDES, stats, strict=True):
            if s is None:
                entries.append(Bar(SIDE_TITLES[side], None, note="not measured"))
            else:
                entries.append(Bar(SIDE_TITLES[side], s.median, s.min, s.max))
        rz, lx = (x.median if x is not None else None for x in stats)
        r = ratio_text(rz, lx, f.better)
        bars.append(
            bar_chart(
                entries, f.title, f.unit, width=420, height=260, subtitle=f"ringzero/Linux {r}"
            )
        )
    figures_svg = grid(bars, columns=2) if bars else grid([bar_chart([], "no figures", "")])

    cdf: dict[str, list[tuple[float, float]]] = {}
    pct: dict[str, list[tuple[float, float]]] = {}
    pooled = {
        side: sorted(x for run in results.raw[side].get("ping_rtts_ms", []) for x in run)
        for side in SIDES
    }
    # Drawn up to the larger p99: a few outliers would squash the rest.
    cut = max((percentile(r, 99) for r in pooled.values() if r), default=0.0)
    for side in SIDES:
        rtts = pooled[side]
        if rtts:
            n = len(rtts)
            stride = max(1, n // 200)
            points = [(rtts[i], 100.0 * (i + 1) / n) for i in range(0, n, stride)]
            points = [p for p in points if p[0] <= cut] or points[:1]
            cdf[SIDE_TITLES[side]] = points
        wrk = results.raw[side].get("wrk", [])
        points = []
        for p in ("50", "75", "90", "99"):
            values = [
                w["detail"][f"latency_p{p}_ms"] for w in wrk if f"latency_p{p}_ms" in w["detail"]
            ]
            if values:
                points.append((statistics.median(values), float(p)))
        if points:
            pct[SIDE_TITLES[side]] = points
    latency_svg = stack(
        [
            line_chart(
                cdf, "ping RTT under wrk load (CDF of all runs, to p99)", "RTT (ms)", "% of replies"
            ),
            line_chart(
                pct,
                "HTTP keep-alive latency (wrk, median of runs)",
                "latency (ms)",
                "percentile",
            ),
        ]
    )
    return figures_svg, latency_svg


def write_report(out: Path, meta: dict[str, Any], results: Results) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    rows = figure_rows(results)
    data = {**meta, "figures": rows, "raw": results.raw}
    (out / "bench.json").write_text(json.dumps(data, indent=1, default=str) + "\n")
    (out / "bench.md").write_text(markdown(meta, rows))
    figures_svg, latency_svg = charts(results, meta["groups"])
    (out / "figures.svg").write_text(figures_svg)
    (out / "latency.svg").write_text(latency_svg)
    return data


# ---- measuring one side --------------------------------------------------------------


class Guest(Protocol):
    """A booted VM serving what the bench needs."""

    ip: str
    start_to_http_s: float | None  # QEMU start to the first HTTP 200 (None: not polled)
    guest_ready_s: float | None  # the guest's own time to ready

    def cpu_seconds(self) -> float: ...

    def destroy(self) -> None: ...


class Driver(Protocol):
    """Boots one side's VMs."""

    side: str
    separate_vms: bool  # ringzero: a VM per service; Linux: one VM serves all
    guest_clock: str  # what the guest's own time to ready is

    def image_size(self) -> tuple[float, str]: ...  # KiB, a note

    def boot_http(self, memory_mib: int | None = None, timeout: float | None = None) -> Guest: ...

    def boot_bare(self, memory_mib: int, timeout: float) -> Guest: ...  # HTTP alone

    def boot_service(self, kind: str) -> Guest: ...  # "discard" or "dns" (separate_vms)


class Probes(Protocol):
    """The loads, from the wire's namespace."""

    def sleep(self, seconds: float) -> float: ...  # the seconds slept

    def http_conn(self, ip: str, seconds: float, clients: int) -> list[dict[str, Any]]: ...

    def keepalive(
        self, ip: str, seconds: float, connections: int, ping: bool
    ) -> tuple[dict[str, Any], PingResult | None]: ...

    def download(self, ip: str, nbytes: int) -> Transfer: ...

    def upload(self, ip: str, nbytes: int) -> Transfer: ...

    def dns(self, ip: str, seconds: float, window: int) -> DnsLoad: ...


Log = Callable[[str, str], None]

# The parts of a side's measurement after its boots, and their figures
# ("keepalive" is wrk, with ping alongside).
PART_KEYS = {
    "idle": ("idle_cpu_pct",),
    "http": ("http_conn_rate",),
    "keepalive": (
        "http_keepalive_rps", "http_p50_ms", "http_p90_ms", "http_p99_ms",
        "ping_p50_ms", "ping_p99_ms",
    ),
    "download": ("bulk_download_mibps",),
    "upload": ("bulk_upload_mibps",),
    "dns": ("dns_qps", "dns_cpu_100k_s"),
}  # fmt: skip


def _keys(group: str) -> tuple[str, ...]:
    return tuple(f.key for f in FIGURES if f.group == group)


def part_keys(part: str, st: Settings) -> tuple[str, ...]:
    """The figures of a part that st.groups asks for."""
    return tuple(k for k in PART_KEYS[part] if FIGURE[k].group in st.groups)


def http_vm_parts(st: Settings, separate_vms: bool) -> list[str]:
    """What is measured on the VM that serves HTTP, in order (with
    separate_vms, upload and DNS have VMs of their own)."""
    g = st.groups
    parts: list[str] = [p for p in ("idle", "http") if p in g]
    if "http" in g or "ping" in g:
        parts.append("keepalive")
    if "bulk" in g:
        parts.append("download")
    if not separate_vms:
        if "bulk" in g:
            parts.append("upload")
        if "dns" in g:
            parts.append("dns")
    return parts


def measure_side(driver: Driver, probes: Probes, st: Settings, res: Results, log: Log) -> None:
    """Every figure of st.groups for one side, into res; a step that fails
    marks its figures with the reason and the rest goes on."""
    side = driver.side
    g = st.groups
    if "size" in g:
        try:
            kib, note = driver.image_size()
            res.add("image_kib", side, kib)
            res.note("image_kib", side, note)
            log(side, f"image: {fmt_number(kib)} KiB ({note})")
        except Exception as e:
            res.fail(_keys("size"), side, str(e))
            log(side, f"image size: {one_line(str(e))}")

    parts = http_vm_parts(st, driver.separate_vms)
    boots = st.runs if "boot" in g else (1 if parts else 0)
    vm: Guest | None = None
    boot_error = ""
    for i in range(boots):
        if vm is not None:
            vm.destroy()
            vm = None
        try:
            vm = driver.boot_http()
        except Exception as e:
            boot_error = str(e)
            if "boot" in g:
                res.fail(_keys("boot"), side, boot_error)
            log(side, f"boot {i + 1}/{boots} failed: {one_line(boot_error)}")
            continue
        boot_error = ""
        if "boot" in g:
            if vm.start_to_http_s is not None:
                res.add("boot_to_http_ms", side, vm.start_to_http_s * 1000)
            if vm.guest_ready_s is not None:
                res.add("boot_guest_ms", side, vm.guest_ready_s * 1000)
                res.note("boot_guest_ms", side, driver.guest_clock)
        log(
            side,
            f"boot {i + 1}/{boots}: first HTTP 200 {fmt_ms(vm.start_to_http_s)} after QEMU "
            f"started; the guest's own time to ready {fmt_ms(vm.guest_ready_s)}",
        )
    if parts:
        if vm is None:
            reason = f"the VM did not boot: {boot_error or 'no boot'}"
            for part in parts:
                res.fail(part_keys(part, st), side, reason)
        else:
            try:
                probes.sleep(st.settle_s)
                for part in parts:
                    _measure(part, vm, probes, st, res, log, side)
            finally:
                vm.destroy()
                vm = None
    if vm is not None:
        vm.destroy()

    if driver.separate_vms:
        for part, kind in (("upload", "discard"), ("dns", "dns")):
            if ("bulk" if part == "upload" else "dns") not in g:
                continue
            try:
                extra = driver.boot_service(kind)
            except Exception as e:
                res.fail(part_keys(part, st), side, f"the {kind} VM did not boot: {e}")
                log(side, f"the {kind} VM did not boot: {one_line(str(e))}")
                continue
            try:
                probes.sleep(st.settle_s)
                _measure(part, extra, probes, st, res, log, side)
            finally:
                extra.destroy()

    if "memory" in g:
        if st.quick:
            res.fail(_keys("memory"), side, "skipped with --quick (a bisection takes many boots)")
        else:
            _memory(driver, st, res, log)


def fmt_ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:,.0f} ms"


def _measure(
    part: str, vm: Guest, probes: Probes, st: Settings, res: Results, log: Log, side: str
) -> None:
    keys = part_keys(part, st)
    for i in range(st.runs):
        tag = f"{part} {i + 1}/{st.runs}"
        try:
            text = _measure_once(part, vm, probes, st, res, side)
            log(side, f"{tag}: {text}")
        except Exception as e:
            res.fail(keys, side, str(e))
            log(side, f"{tag} failed: {one_line(str(e))}")


def _measure_once(
    part: str, vm: Guest, probes: Probes, st: Settings, res: Results, side: str
) -> str:
    if part == "idle":
        c0 = vm.cpu_seconds()
        took = probes.sleep(st.idle_s)
        c1 = vm.cpu_seconds()
        pct = 100.0 * (c1 - c0) / took
        res.add("idle_cpu_pct", side, pct)
        res.note("idle_cpu_pct", side, f"over {st.idle_s:g} s")
        return f"QEMU used {pct:.2f} % of a CPU over {took:.1f} s"
    if part == "http":
        results = probes.http_conn(vm.ip, st.load_s, st.httperf_clients)
        res.record(side, "httperf", results)
        rate = sum(r["answered"] / r["duration_s"] for r in results if r["duration_s"] > 0)
        errors = sum(int(r["errors"]) for r in results)
        if rate <= 0:
            raise RuntimeError(f"httperf: no connection answered ({errors} errors)")
        res.add("http_conn_rate", side, rate)
        res.note("http_conn_rate", side, f"{len(results)} httperf processes, GET /hello")
        if errors:
            res.note("http_conn_rate", side, "httperf counted errors (see bench.json)")
        return f"httperf {rate:,.0f} conn/s, {errors} errors"
    if part == "keepalive":
        return _keepalive(vm, probes, st, res, side)
    if part == "download":
        t = probes.download(vm.ip, st.bulk_bytes)
        res.add("bulk_download_mibps", side, t.mib_per_s)
        res.note("bulk_download_mibps", side, f"GET /bytes/{st.bulk_bytes}")
        return f"{t.octets / MIB:g} MiB down in {t.seconds:.2f} s: {t.mib_per_s:.1f} MiB/s"
    if part == "upload":
        t = probes.upload(vm.ip, st.bulk_bytes)
        res.add("bulk_upload_mibps", side, t.mib_per_s)
        res.note("bulk_upload_mibps", side, f"{st.bulk_bytes} octets to port 9")
        return f"{t.octets / MIB:g} MiB up in {t.seconds:.2f} s: {t.mib_per_s:.1f} MiB/s"
    if part == "dns":
        c0 = vm.cpu_seconds()
        d = probes.dns(vm.ip, st.load_s, st.dns_window)
        c1 = vm.cpu_seconds()
        res.record(side, "dns", {**asdict(d), "qemu_cpu_s": c1 - c0})
        if d.answered == 0:
            raise RuntimeError(f"no DNS query answered ({d.sent} sent, {d.bad} bad, {d.lost} lost)")
        res.add("dns_qps", side, d.qps)
        res.add("dns_cpu_100k_s", side, (c1 - c0) / d.answered * 100_000)
        if d.lost or d.bad:
            res.note("dns_qps", side, "some queries lost or answered badly (see bench.json)")
        if d.seconds > 0 and d.client_cpu_s / d.seconds > 0.9:
            res.note("dns_qps", side, "the generator used a whole CPU: the figure is a floor")
        return (
            f"{d.qps:,.0f} queries/s ({d.answered} answered, {d.lost} lost, {d.bad} bad); "
            f"QEMU {c1 - c0:.2f} CPU s"
        )
    raise ValueError(f"unknown part {part!r}")


def _keepalive(vm: Guest, probes: Probes, st: Settings, res: Results, side: str) -> str:
    want_ping = "ping" in st.groups
    wrk, ping = probes.keepalive(vm.ip, st.load_s, st.wrk_connections, want_ping)
    res.record(side, "wrk", wrk)
    parts = []
    if "http" in st.groups:
        detail = wrk.get("detail", {})
        rps = float(detail.get("requests_per_s") or 0.0)
        if rps <= 0 and wrk.get("duration_s"):
            rps = float(wrk["answered"]) / float(wrk["duration_s"])
        if rps <= 0:
            raise RuntimeError(f"wrk: no request answered ({wrk.get('errors', 0)} errors)")
        res.add("http_keepalive_rps", side, rps)
        res.note("http_keepalive_rps", side, f"wrk -t1 -c{st.wrk_connections}, GET /hello")
        for p in ("50", "90", "99"):
            v = detail.get(f"latency_p{p}_ms")
            if v is not None:
                res.add(f"http_p{p}_ms", side, float(v))
            else:
                res.fail([f"http_p{p}_ms"], side, "wrk printed no latency distribution")
        if wrk.get("errors"):
            res.note("http_keepalive_rps", side, "wrk counted errors (see bench.json)")
        parts.append(f"wrk {rps:,.0f} req/s p99 {detail.get('latency_p99_ms', '-')} ms")
    if want_ping:
        if ping is None or not ping.rtts_ms:
            raise RuntimeError("ping under load: no reply")
        res.record(side, "ping_rtts_ms", ping.rtts_ms)
        p50, p99 = percentile(ping.rtts_ms, 50), percentile(ping.rtts_ms, 99)
        res.add("ping_p50_ms", side, p50)
        res.add("ping_p99_ms", side, p99)
        if ping.loss_pct:
            res.note("ping_p50_ms", side, "pings were lost (see bench.json)")
        res.record(side, "ping", {"sent": ping.sent, "received": ping.received})
        parts.append(f"ping {fmt_number(p50)}/{fmt_number(p99)} ms (p50/p99)")
    return ", ".join(parts)


def _memory(driver: Driver, st: Settings, res: Results, log: Log) -> None:
    side = driver.side
    lo, hi, step = st.memory_search[side]
    boot = res.stat("boot_to_http_ms", side)
    floor = 30.0 if side == "ringzero" else 60.0
    timeout = max(floor, 3 * boot.median / 1000) if boot else floor * 4

    last_error = {"text": ""}

    def works(m: int) -> bool:
        try:
            vm = driver.boot_bare(m, timeout)
        except Exception as e:
            last_error["text"] = one_line(str(e), 160)
            log(side, f"memory: -m {m}: no ({last_error['text']})")
            return False
        vm.destroy()
        log(side, f"memory: -m {m}: boots and serves")
        return True

    try:
        found, tried = bisect_memory(lo, hi, step, works)
    except Exception as e:
        res.fail(_keys("memory"), side, str(e))
        return
    res.raw[side]["memory_probes"] = tried
    if found is None:
        res.fail(
            _keys("memory"), side, f"it did not boot and serve with -m {hi}: {last_error['text']}"
        )
        return
    res.add("min_memory_mib", side, found)
    note = f"bisected {lo}..{hi} MiB to {step} MiB"
    if found == lo:
        note += f"; {lo} MiB, the lower end of the search, works"
    if side == "linux":
        note += "; nginx alone"
    res.note("min_memory_mib", side, note)


# ---- the real sides ----------------------------------------------------------------


class BenchError(RuntimeError):
    pass


def pin_neighbour(wire: Any, link: str) -> None:
    """The target's neighbour entry, permanent: the first packets to it go
    out at once instead of waiting on ARP's retransmission timer."""
    from .net import netns

    a = wire.addr
    netns.ip(
        "-n", wire.ns, "neigh", "replace", a.target_ip, "lladdr", a.target_mac,
        "dev", link, "nud", "permanent",
    )  # fmt: skip


class Poller:
    """poll_first_200() in a thread inside the wire's namespace."""

    def __init__(self, wire: Any, ip: str, alive: Callable[[], bool] | None = None) -> None:
        self.wire = wire
        self.ip = ip
        self.alive = alive
        self._stop = threading.Event()
        self._done = threading.Event()
        self.value: float | None = None
        self.error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="bench poll", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.value = self.wire.call(
                lambda: poll_first_200(self.ip, stop=self._stop, alive=self.alive)
            )
        except BaseException as e:
            self.error = e
        finally:
            self._done.set()

    def result(self, timeout: float) -> float | None:
        if not self._done.wait(timeout):
            self.stop()
        if self.error is not None:
            raise BenchError(f"polling for HTTP 200 failed: {self.error}")
        return self.value

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)


@dataclass
class _Booted:
    ip: str
    start_to_http_s: float | None
    guest_ready_s: float | None
    _cpu: Callable[[], float]
    _destroy: Callable[[], None]

    def cpu_seconds(self) -> float:
        return self._cpu()

    def destroy(self) -> None:
        self._destroy()


RINGZERO_SERVICES = ("http", "tcp", "dns")
SERVICE_READY = {
    "http": r"^http: listening on port 80\b",
    "tcp": r"^tcp: echo 7, discard 9",
    "dns": r"^dns: serving \d+ records on port 53",
}


class RingzeroDriver:
    side = "ringzero"
    separate_vms = True
    guest_clock = "reset to Service::start(), on the guest's TSC"

    def __init__(self, run: Run, wire: Any, st: Settings, accel: Accel, out: Path) -> None:
        self.run = run
        self.wire = wire
        self.st = st
        self.accel = accel
        self.out = out
        self.count = 0
        self._images: dict[str, Image] = {}

    def image(self, service: str) -> Image:
        if service not in self._images:
            self._images.update(build(list(RINGZERO_SERVICES)))
        return self._images[service]

    def image_size(self) -> tuple[float, str]:
        image = self.image("http")
        return image.size / 1024, f"{image.path.name}, stripped, {image.size:,} octets"

    def boot_http(self, memory_mib: int | None = None, timeout: float | None = None) -> Guest:
        return self._boot("http", memory_mib or self.st.ringzero_memory_mib, timeout, poll=True)

    def boot_bare(self, memory_mib: int, timeout: float) -> Guest:
        return self._boot("http", memory_mib, timeout, poll=True)

    def boot_service(self, kind: str) -> Guest:
        service = {"discard": "tcp", "dns": "dns"}[kind]
        return self._boot(service, self.st.ringzero_memory_mib, None, poll=False)

    def _boot(self, service: str, memory_mib: int, timeout: float | None, poll: bool) -> Guest:
        from .hypervisor.base import NicSpec

        image = self.image(service)
        a = self.wire.addr
        self.count += 1
        words = [f"ip={a.target_ip}/{a.prefix}", f"gw={a.tools_ip}", f"mac={a.target_mac}"]
        if service == "dns":
            words.append(f"dns={DNS_RECORDS}")
        tap = self.wire.new_tap()
        vm = Vm(
            self.run,
            image,
            name=f"bench-{service}",
            backend=self.st.backend,
            accel=self.accel,
            artifacts=self.out / "vm" / f"ringzero-{service}-{self.count}",
            cmdline=" ".join(words),
            memory_mib=memory_mib,
            nic=NicSpec(tap=tap, mac=a.target_mac),
            paused=True,
        )
        limit = timeout if timeout is not None else (10.0 * vm.scale)
        poller: Poller | None = None

        def gone() -> None:
            if poller is not None:
                poller.stop()
            vm.destroy()
            self.wire.remove_link(tap)

        try:
            vm.start()
            self.wire.adopt(tap)
            pin_neighbour(self.wire, tap)
            if poll:
                poller = Poller(
                    self.wire, a.target_ip, alive=lambda: bool(vm.machine and vm.machine.running())
                )
                poller.start()
            vm.resume()
            t200 = None
            if poller is not None:
                t200 = poller.result(limit)
                if t200 is None:
                    why = vm.crash_text() or (
                        "the VM ended" if not (vm.machine and vm.machine.running()) else ""
                    )
                    raise BenchError(
                        f"no HTTP 200 within {limit:g} s with -m {memory_mib}"
                        + (f": {why}" if why else "")
                    )
            started = vm.wait_for(STARTED_RE, timeout=limit / vm.scale)
            vm.wait_for(SERVICE_READY[service], timeout=limit / vm.scale)
        except BaseException:
            gone()
            raise
        assert vm.machine is not None
        return _Booted(
            ip=a.target_ip,
            start_to_http_s=(t200 - vm.machine.started_at) if t200 is not None else None,
            guest_ready_s=int(started[1]) / 1e6,
            _cpu=vm.cpu_seconds,
            _destroy=gone,
        )


class LinuxDriver:
    side = "linux"
    separate_vms = False
    guest_clock = (
        "kernel uptime when nginx listened (/proc/uptime, 10 ms steps, from early kernel "
        "init: without the firmware and the kernel's loading and decompression)"
    )

    def __init__(self, run: Run, wire: Any, st: Settings, accel: Accel, out: Path) -> None:
        self.run = run
        self.wire = wire
        self.st = st
        self.accel = accel
        self.out = out
        self.count = 0
        self._image: Any = None

    def image(self) -> Any:
        if self._image is None:
            from .linuxvm import build_linuxvm

            self._image = build_linuxvm()
        return self._image

    def image_size(self) -> tuple[float, str]:
        image = self.image()
        return image.size / 1024, (
            f"{image.kernel_release}: kernel {image.kernel_bytes / 1024:,.0f} KiB + initramfs "
            f"{image.initramfs_bytes / 1024:,.0f} KiB (gzip)"
        )

    def serve(self) -> tuple[list[str], str, str]:
        """rz.serve, the DNS records and the extra command line of the VM
        that serves everything the groups measure."""
        g = self.st.groups
        serve = ["nginx"]
        records = ""
        extra = ""
        if "dns" in g:
            serve.append("dns")
            records = DNS_RECORDS
        if "bulk" in g:
            serve.append("discard")
            extra = f"rz.bytes={self.st.bulk_bytes}"
        return serve, records, extra

    def boot_http(self, memory_mib: int | None = None, timeout: float | None = None) -> Guest:
        serve, records, extra = self.serve()
        return self._boot(memory_mib or self.st.linux_memory_mib, timeout, serve, records, extra)

    def boot_bare(self, memory_mib: int, timeout: float) -> Guest:
        return self._boot(memory_mib, timeout, ["nginx"], "", "")

    def boot_service(self, kind: str) -> Guest:
        raise BenchError("the Linux VM serves everything from one VM")

    def _boot(
        self,
        memory_mib: int,
        timeout: float | None,
        serve: list[str],
        records: str,
        extra: str,
    ) -> Guest:
        from .linuxvm import READY_TIMEOUT, boot_linuxvm

        a = self.wire.addr
        self.count += 1
        tap = self.wire.new_tap()
        poller = Poller(self.wire, a.target_ip)
        limit = timeout if timeout is not None else READY_TIMEOUT[self.accel]

        def attach() -> None:
            self.wire.adopt(tap)
            pin_neighbour(self.wire, tap)
            poller.start()

        try:
            vm = boot_linuxvm(
                self.run,
                tap,
                f"{a.target_ip}/{a.prefix}",
                a.tools_ip,
                serve,
                memory_mib,
                self.accel,
                self.out / "vm" / f"linux-{self.count}",
                dns=records,
                backend=self.st.backend,
                mac=a.target_mac,
                attach=attach,
                timeout=limit,
                image=self.image(),
                cmdline_extra=extra,
            )
        except BaseException:
            poller.stop()
            self.wire.remove_link(tap)
            raise

        def gone() -> None:
            poller.stop()
            vm.destroy()
            self.wire.remove_link(tap)

        try:
            t200 = poller.result(30.0)
            if t200 is None:
                raise BenchError("nginx listened, but GET / got no 200 within 30 s")
        except BaseException:
            gone()
            raise
        assert vm.machine is not None
        return _Booted(
            ip=a.target_ip,
            start_to_http_s=t200 - vm.machine.started_at,
            guest_ready_s=vm.ready.get("http"),
            _cpu=vm.cpu_seconds,
            _destroy=gone,
        )


class WireProbes:
    """The loads, run in (or from) the wire's namespace."""

    def __init__(self, wire: Any) -> None:
        self.wire = wire

    def sleep(self, seconds: float) -> float:
        t0 = time.monotonic()
        time.sleep(seconds)
        return time.monotonic() - t0

    def http_conn(self, ip: str, seconds: float, clients: int) -> list[dict[str, Any]]:
        from . import flood
        from .soak import flood_dict

        argv = [
            "httperf", "--server", ip, "--port", str(HTTP_PORT), "--uri", "/hello",
            "--num-conns", "10000000", "--num-calls", "1", "--timeout", "5",
        ]  # fmt: skip
        running = []
        try:
            for _ in range(clients):
                running.append(
                    flood.ToolFlood(
                        self.wire,
                        argv,
                        kind="http-conn",
                        tool="httperf",
                        duration_s=seconds,
                        parse=flood.parse_httperf,
                        interrupt_at=seconds,
                        own_limit=False,
                    )
                )
            return [flood_dict(f.wait(seconds + 30)) for f in running]
        except BaseException:
            for f in running:
                with contextlib.suppress(Exception):
                    f.stop()
            raise

    def keepalive(
        self, ip: str, seconds: float, connections: int, ping: bool
    ) -> tuple[dict[str, Any], PingResult | None]:
        from . import flood
        from .soak import flood_dict

        f = flood.http_keepalive_flood(self.wire, ip, HTTP_PORT, seconds, connections=connections)
        result = None
        try:
            if ping:
                lead = min(0.5, seconds / 4)
                time.sleep(lead)
                count = max(10, int((seconds - 2 * lead) / PING_INTERVAL_S))
                argv = ["ping", "-n", "-c", str(count), "-i", f"{PING_INTERVAL_S:g}", "-W", "2", ip]
                out = self.wire.run(argv, timeout=seconds + 30)
                result = parse_ping_rtts(out.stdout)
        finally:
            wrk = flood_dict(f.wait(seconds + 30))
        return wrk, result

    def download(self, ip: str, nbytes: int) -> Transfer:
        result: Transfer = self.wire.call(lambda: http_download(ip, f"/bytes/{nbytes}"))
        if result.octets != nbytes:
            raise BenchError(f"GET /bytes/{nbytes}: {result.octets} octets came")
        return result

    def upload(self, ip: str, nbytes: int) -> Transfer:
        result: Transfer = self.wire.call(lambda: tcp_upload(ip, nbytes))
        return result

    def dns(self, ip: str, seconds: float, window: int) -> DnsLoad:
        result: DnsLoad = self.wire.call(lambda: dns_load(ip, seconds, window=window))
        return result


# ---- the run -----------------------------------------------------------------------


def progress(started: float) -> Log:
    def log(side: str, text: str) -> None:
        t = time.monotonic() - started
        print(f"bench [{t:5.0f} s] {SIDE_TITLES[side]}: {text}", file=sys.stderr, flush=True)

    return log


def run_sides(
    drivers: Sequence[Driver], probes: Probes, st: Settings, results: Results, log: Log
) -> None:
    for driver in drivers:
        measure_side(driver, probes, st, results, log)


def run_bench(st: Settings) -> int:
    """`ringzero bench`: both sides, the table, the report. 0 unless no
    figure at all could be measured (1), or on Ctrl-C (130)."""
    from .cli import start_run
    from .hypervisor.accel import resolve
    from .net import netns
    from .net.wire import Wire

    t0 = time.monotonic()
    accel = resolve(st.accel)
    results = Results()
    interrupted = False
    meta: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "quick": st.quick,
        "runs": st.runs,
        "groups": list(st.groups),
        "accel": accel,
        "backend": st.backend,
        "host": {
            "cpus": os.cpu_count(),
            "kernel": platform.release(),
            "loadavg_start": list(os.getloadavg()),
        },
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(st).items()},
    }
    log = progress(t0)
    with start_run() as run:
        out = st.out or reports_dir() / "bench" / run.id
        meta["run_id"] = run.id
        meta["out"] = str(out)
        print(
            f"ringzero bench {run.id}: ringzero vs the Linux VM ({accel}, {st.backend}), "
            f"{st.runs} run(s) per figure{', quick' if st.quick else ''}; "
            f"{', '.join(st.groups)}; report in {out}",
            file=sys.stderr,
        )
        try:
            wire = Wire(run).create()
            netns.sysctls(
                wire.ns,
                {"net.ipv4.tcp_tw_reuse": "1", "net.ipv4.ip_local_port_range": "1024 65535"},
            )
            drivers: list[Driver] = [
                RingzeroDriver(run, wire, st, accel, out),
                LinuxDriver(run, wire, st, accel, out),
            ]
            run_sides(drivers, WireProbes(wire), st, results, log)
        except KeyboardInterrupt:
            interrupted = True
            print("\nringzero bench: interrupted; writing the report", file=sys.stderr)
        except Exception as e:  # the wire itself: nothing could run
            for f in FIGURES:
                for side in SIDES:
                    results.fail([f.key], side, f"the bench could not start: {e}")
            print(f"ringzero bench: {e}", file=sys.stderr)
        meta["host"]["loadavg_end"] = list(os.getloadavg())
        meta["elapsed_s"] = time.monotonic() - t0
        meta["ended"] = time.strftime("%Y-%m-%d %H:%M:%S %z")
        meta["interrupted"] = interrupted
        data = write_report(out, meta, results)
    print()
    print(
        f"ringzero vs Linux VM ({accel}, {st.runs} run(s) per figure; median (min-max)):",
    )
    print(text_table(data["figures"], st.groups))
    print(f"\nreport: {out}/bench.md (bench.json, figures.svg, latency.svg)")
    if interrupted:
        return 130
    return 0 if results.measured() else 1


# ---- `ringzero bench boot`: hello's boot times per backend ----------------------------


@dataclass
class BootSample:
    start_to_service_ms: float
    reset_to_start_us: int
    kernel_init_us: int
    start_to_exit_ms: float


def _summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def _fmt(s: dict[str, float], digits: int = 1) -> str:
    return f"{s['median']:.{digits}f} ({s['min']:.{digits}f}-{s['max']:.{digits}f})"


def boot_once(
    run: Run, image: Image, backend: str, accel: Accel, memory_mib: int, index: int
) -> BootSample:
    artifacts = reports_dir() / "bench" / run.id / f"boot-{backend}-{index}"
    with Vm(
        run,
        image,
        name=f"bench-{backend}-{index}",
        backend=backend,
        accel=accel,
        artifacts=artifacts,
        memory_mib=memory_mib,
    ) as vm:
        assert vm.machine is not None
        started = vm.wait_started(timeout=10)
        status = vm.wait_exit(timeout=10)
        ended = time.monotonic()
        if status != 0:
            raise RuntimeError(f"hello ended with status {status}; see {artifacts}")
        return BootSample(
            start_to_service_ms=(started.line.time - vm.machine.started_at) * 1000,
            reset_to_start_us=int(started[1]),
            kernel_init_us=int(started[2]),
            start_to_exit_ms=(ended - vm.machine.started_at) * 1000,
        )


def boot_benchmark(runs: int, backend: str | None, accel: Accel, memory_mib: int) -> int:
    """``ringzero bench boot``: boots ``hello`` N times per backend and
    reports the median (min-max) of QEMU start to Service::start() (host
    clock), reset to Service::start() and the kernel's own init time (the
    guest's TSC), QEMU start to the VM's end (hello ends itself 10 ms after
    start), and the size of the stripped image."""
    from .cli import start_run

    image = build(["hello"])["hello"]
    backends = [backend] if backend else list(BACKENDS)
    results: dict[str, dict[str, dict[str, float]]] = {}
    samples: dict[str, list[BootSample]] = {}
    with start_run() as run:
        for b in backends:
            print(f"ringzero: booting hello {runs} times with {b} ({accel}) ...", file=sys.stderr)
            boot_once(run, image, b, accel, memory_mib, -1)  # warm caches (page cache, libvirt)
            samples[b] = [boot_once(run, image, b, accel, memory_mib, i) for i in range(runs)]
            results[b] = {
                name: _summary([getattr(s, name) for s in samples[b]])
                for name in BootSample.__dataclass_fields__
            }
        out = reports_dir() / "bench" / run.id
    out.mkdir(parents=True, exist_ok=True)
    (out / "boot.json").write_text(
        json.dumps(
            {
                "accel": accel,
                "runs": runs,
                "image": str(image.path),
                "image_bytes": image.size,
                "summary": results,
                "samples": {b: [asdict(s) for s in v] for b, v in samples.items()},
            },
            indent=2,
        )
    )

    print(f"\nboot of hello under {accel}, {runs} boots per backend: median (min-max)")
    print(f"image: {image.path.name}, {image.size} bytes ({image.size / 1024:.0f} KiB), stripped\n")
    header = (
        f"{'backend':<9} {'QEMU start->start() ms':>24} {'reset->start() us':>22} "
        f"{'kernel init us':>20} {'QEMU start->exit ms':>24}"
    )
    print(header)
    for b, r in results.items():
        print(
            f"{b:<9} {_fmt(r['start_to_service_ms']):>24} {_fmt(r['reset_to_start_us'], 0):>22} "
            f"{_fmt(r['kernel_init_us'], 0):>20} {_fmt(r['start_to_exit_ms']):>24}"
        )
    print(f"\nwritten to {out / 'boot.json'}")
    return 0
