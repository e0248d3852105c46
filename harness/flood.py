"""Bounded floods from the wire's namespace: ICMP echo (``ping -f``), ARP
(``arping`` or prebuilt frames from an AF_PACKET socket), TCP SYN
(``hping3``), HTTP with a new connection per request (``httperf``) and
HTTP keep-alive (``wrk``).

    f = icmp_flood(wire, sut.ip, 10.0)      # runs in the background
    ...
    r = f.wait()                            # FloodResult: sent, answered, errors, detail
    print(r.summary())

Every flood stops by itself: the tool's own limit (ping's and arping's
deadline, wrk's duration, httperf's connection count; hping3 has none, so
it gets SIGINT at the end of its time), and behind that a watchdog thread
that sends SIGINT, then SIGKILL, to the tool's PID a grace period after the
end. A tool gets SIGKILL too when the harness dies (``netns.prepare_child``).
Output goes to a temporary file and is parsed when the tool has ended; the
parsers are plain functions of the text (tests/test_flood.py feeds them
recorded output).

Answers are counted on the wire where the tool cannot or does not count
them all: a *frame counter* is an AF_PACKET socket on the link with a
classic BPF program that accepts only the frames to count; it never reads
them (its receive buffer is tiny) and the kernel's PACKET_STATISTICS tells
how many passed the filter, whether queued or dropped. It counts the echo
replies to ping -f and the ARP replies to arping (both stop at their
deadline with requests in flight, whose late replies they no longer
count), the SYN-ACKs to a spoofed SYN flood (hping3 sees none) and the ARP
replies to the frame flood; the count waits for late answers (settle()).
"""

from __future__ import annotations

import abc
import contextlib
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

GRACE_S = 5.0  # after the end: SIGINT, then this long again: SIGKILL
HTTP_TIMEOUT_S = 5.0  # httperf's and wrk's per-request timeout
ARP_INTERVAL_S = 0.00001  # arping's interval: as fast as it goes (1,000 to 8,000/s)
FRAME_BATCH = 64  # frames sent between looks at the clock
# Answers counted on the wire come in after the tool ends when the target
# is behind (a VM under TCG on a busy host: seconds behind, with a deep
# queue on its link): the count is taken when all expected answers came,
# or none came for SETTLE_QUIET_S, or after SETTLE_LIMIT_S.
SETTLE_QUIET_S = 1.0
SETTLE_LIMIT_S = 10.0

# The Debian package for each tool, for the message when one is missing.
PACKAGES = {
    "ping": "iputils-ping",
    "arping": "arping",
    "hping3": "hping3",
    "httperf": "httperf",
    "wrk": "wrk",
}


class FloodError(RuntimeError):
    """A flood could not start, or its tool's output has no figures."""


@dataclass
class FloodResult:
    kind: str  # "icmp", "arp", "syn", "http-conn", "http-keepalive"
    tool: str  # "ping -f", "arping", "scapy", "hping3", "httperf", "wrk"
    duration_s: float
    sent: int  # packets or requests sent
    answered: int  # replies / successful responses
    errors: int  # errors the tool reported (HTTP errors, timeouts, resets...)
    detail: dict[str, float] = field(default_factory=dict)  # tool-specific figures
    stopped: bool = False  # ended early by stop() (or the watchdog)

    @property
    def loss_pct(self) -> float:
        """Of what was sent, the share not answered, in percent."""
        if self.sent <= 0:
            return 0.0
        return 100.0 * max(0, self.sent - self.answered) / self.sent

    @property
    def rate(self) -> float:
        """Sent per second."""
        return self.sent / self.duration_s if self.duration_s > 0 else 0.0

    def summary(self) -> str:
        """One line: what was sent, how fast, what came back, and the details."""
        line = (
            f"{self.kind} flood ({self.tool}): {self.sent:,} sent in {self.duration_s:.1f} s "
            f"({self.rate:,.0f}/s), {self.answered:,} answered ({self.loss_pct:.3f} % not), "
            f"{self.errors} errors"
        )
        if self.stopped:
            line += ", stopped early"
        if self.detail:
            line += "; " + ", ".join(f"{k} {_num(v)}" for k, v in self.detail.items())
        return line


def _num(v: float) -> str:
    if float(v).is_integer():
        return f"{int(v):,}"
    return f"{v:,.3f}".rstrip("0").rstrip(".")


# ---- parsers of the tools' output ---------------------------------------------------------


def parse_ping(text: str, duration_s: float) -> FloodResult:
    """iputils ping's statistics:
    "N packets transmitted, M received, [+D duplicates, ][+E errors, ]X% packet loss, time Tms"
    and "rtt min/avg/max/mdev = a/b/c/d ms, pipe P, ipg/ewma g/e ms"."""
    m = re.search(
        r"(\d+) packets transmitted, (\d+) received,(?: \+(\d+) duplicates,)?"
        r"(?: \+(\d+) errors,)?.*?packet loss(?:, time (\d+)ms)?",
        text,
    )
    if not m:
        raise FloodError(f"ping printed no statistics; its output ends:\n{text[-1500:]}")
    detail: dict[str, float] = {}
    if m[3]:
        detail["duplicates"] = int(m[3])
    rtt = re.search(r"rtt min/avg/max/mdev = ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms", text)
    if rtt:
        detail.update(
            rtt_min_ms=float(rtt[1]),
            rtt_avg_ms=float(rtt[2]),
            rtt_max_ms=float(rtt[3]),
            rtt_mdev_ms=float(rtt[4]),
        )
    pipe = re.search(r"pipe (\d+)", text)
    if pipe:
        detail["pipe"] = int(pipe[1])
    took = int(m[5]) / 1000 if m[5] else duration_s
    return FloodResult(
        "icmp", "ping -f", took or duration_s, int(m[1]), int(m[2]), int(m[4] or 0), detail
    )


def parse_arping(text: str, duration_s: float) -> FloodResult:
    """Thomas Habets' arping: "N packets transmitted, M packets received,
    X% unanswered (E extra)" and "rtt min/avg/max/std-dev = a/b/c/d ms"."""
    m = re.search(
        r"(\d+) packets transmitted, (\d+) packets received,\s+[\d.]+% unanswered"
        r"(?: \((\d+) extra\))?",
        text,
    )
    if not m:
        raise FloodError(f"arping printed no statistics; its output ends:\n{text[-1500:]}")
    detail: dict[str, float] = {"extra": int(m[3] or 0)}
    rtt = re.search(r"rtt min/avg/max/std-dev = ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms", text)
    if rtt:
        detail.update(rtt_min_ms=float(rtt[1]), rtt_avg_ms=float(rtt[2]), rtt_max_ms=float(rtt[3]))
    # Replies beyond one per request ("extra") are not answers to more requests.
    sent, received = int(m[1]), int(m[2])
    return FloodResult("arp", "arping", duration_s, sent, min(received, sent), 0, detail)


def parse_hping3(text: str, duration_s: float) -> FloodResult:
    """hping3's statistics (on stderr): "N packets transmitted, M packets
    received, X% packet loss" and "round-trip min/avg/max = a/b/c ms". In
    flood mode it counts no replies (the flood sets answered from the wire)."""
    m = re.search(r"(\d+) packets transmitted, (\d+) packets received", text)
    if not m:
        raise FloodError(f"hping3 printed no statistics; its output ends:\n{text[-1500:]}")
    detail: dict[str, float] = {}
    rtt = re.search(r"round-trip min/avg/max = ([\d.]+)/([\d.]+)/([\d.]+) ms", text)
    if rtt and int(m[2]):
        detail.update(rtt_min_ms=float(rtt[1]), rtt_avg_ms=float(rtt[2]), rtt_max_ms=float(rtt[3]))
    return FloodResult("syn", "hping3", duration_s, int(m[1]), int(m[2]), 0, detail)


def parse_httperf(text: str, duration_s: float) -> FloodResult:
    """httperf's report. sent: connections (one request each); answered:
    replies with a 2xx status; errors: httperf's "Errors: total" (timeouts,
    refused and reset connections, ...) plus replies with any other status."""
    total = re.search(
        r"Total: connections (\d+) requests (\d+) replies (\d+) test-duration ([\d.]+) s", text
    )
    if not total:
        raise FloodError(f"httperf printed no totals; its output ends:\n{text[-1500:]}")
    status = re.search(r"Reply status: 1xx=(\d+) 2xx=(\d+) 3xx=(\d+) 4xx=(\d+) 5xx=(\d+)", text)
    errors = re.search(
        r"Errors: total (\d+) client-timo (\d+) socket-timo (\d+) "
        r"connrefused (\d+) connreset (\d+)",
        text,
    )
    errors2 = re.search(
        r"Errors: fd-unavail (\d+) addrunavail (\d+) ftab-full (\d+) other (\d+)", text
    )
    if not status or not errors:
        raise FloodError(f"httperf printed no reply status or errors:\n{text[-1500:]}")
    ok = int(status[2])
    other_status = int(status[1]) + int(status[3]) + int(status[4]) + int(status[5])
    detail: dict[str, float] = {
        "requests": int(total[2]),
        "replies": int(total[3]),
        "status_4xx": int(status[4]),
        "status_5xx": int(status[5]),
        "client_timeouts": int(errors[2]),
        "socket_timeouts": int(errors[3]),
        "conn_refused": int(errors[4]),
        "conn_reset": int(errors[5]),
    }
    if errors2:
        detail["addr_unavailable"] = int(errors2[2])
        detail["errors_other"] = int(errors2[4])
    rate = re.search(r"Connection rate: ([\d.]+) conn/s.*?<=(\d+) concurrent", text)
    if rate:
        detail["conn_rate"] = float(rate[1])
        detail["concurrent_max"] = int(rate[2])
    ctime = re.search(
        r"Connection time \[ms\]: min ([\d.]+) avg ([\d.]+) max ([\d.]+) median ([\d.]+)", text
    )
    if ctime:
        detail.update(
            conn_time_avg_ms=float(ctime[2]),
            conn_time_median_ms=float(ctime[4]),
            conn_time_max_ms=float(ctime[3]),
        )
    connect = re.search(r"Connection time \[ms\]: connect ([\d.]+)", text)
    if connect:
        detail["connect_ms"] = float(connect[1])
    reply = re.search(r"Reply time \[ms\]: response ([\d.]+)", text)
    if reply:
        detail["response_ms"] = float(reply[1])
    took = float(total[4])
    return FloodResult(
        "http-conn",
        "httperf",
        took or duration_s,
        int(total[1]),
        ok,
        int(errors[1]) + other_status,
        detail,
    )


_WRK_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _wrk_ms(value: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", value)
    if not m:
        raise FloodError(f"wrk printed a time it is not known to print: {value!r}")
    return float(m[1]) * _WRK_UNITS[m[2]]


def parse_wrk(text: str, duration_s: float) -> FloodResult:
    """wrk's report: "N requests in Ts, X read", "Socket errors: connect a,
    read b, write c, timeout d", "Non-2xx or 3xx responses: n", and with
    --latency the distribution. sent: requests completed (wrk counts no
    others); answered: those with a 2xx/3xx status; errors: socket errors
    plus other statuses."""
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m|h),", text)
    if not done:
        raise FloodError(f"wrk printed no totals; its output ends:\n{text[-1500:]}")
    requests = int(done[1])
    took = _wrk_ms(done[2] + done[3]) / 1000
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    other = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    non2xx = int(other[1]) if other else 0
    detail: dict[str, float] = {"non_2xx_3xx": non2xx}
    socket_errors = 0
    if sock:
        names = ("connect", "read", "write", "timeout")
        for name, value in zip(names, sock.groups(), strict=True):
            detail[f"socket_{name}_errors"] = int(value)
            socket_errors += int(value)
    lat = re.search(r"Latency\s+([\d.]+\w+)\s+([\d.]+\w+)\s+([\d.]+\w+)", text)
    if lat:
        detail["latency_avg_ms"] = _wrk_ms(lat[1])
        detail["latency_max_ms"] = _wrk_ms(lat[3])
    for pct in ("50", "75", "90", "99"):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+\w+)\s*$", text, re.MULTILINE)
        if m:
            detail[f"latency_p{pct}_ms"] = _wrk_ms(m[1])
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if rps:
        detail["requests_per_s"] = float(rps[1])
    return FloodResult(
        "http-keepalive",
        "wrk",
        took or duration_s,
        requests,
        requests - non2xx,
        socket_errors + non2xx,
        detail,
    )


# ---- frame counters -------------------------------------------------------------------

SOL_PACKET = 263
PACKET_STATISTICS = 6
PACKET_QDISC_BYPASS = 20
SO_ATTACH_FILTER = 26
SO_SNDBUFFORCE = 32
ETH_P_ALL = 0x0003

# Classic BPF (linux/filter.h): the instructions the programs below use.
LD_H_ABS, LD_W_ABS, LD_B_ABS = 0x28, 0x20, 0x30
LDX_B_MSH, LD_B_IND, LD_H_IND = 0xB1, 0x50, 0x48
ALU_AND_K, JEQ_K, JSET_K, RET_K = 0x54, 0x15, 0x45, 0x06
KEEP, DROP = 0x40000, 0

Insn = tuple[int, int, int, int]  # code, jt, jf, k
Jump = int | str  # an offset, or "keep" / "drop": the program's two last instructions


def _ip(addr: str) -> int:
    return int.from_bytes(socket.inet_aton(addr), "big")


def assemble(*body: tuple[int, Jump, Jump, int]) -> list[Insn]:
    """A program: body, then "keep" (accept) and "drop" (reject); jumps may
    name either instead of an offset."""
    n = len(body)
    out = []
    for i, (code, jt, jf, k) in enumerate(body):
        target = {"keep": n, "drop": n + 1}

        def offset(j: Jump, i: int = i, target: dict[str, int] = target) -> int:
            return target[j] - i - 1 if isinstance(j, str) else j

        out.append((code, offset(jt), offset(jf), k))
    return [*out, (RET_K, 0, 0, KEEP), (RET_K, 0, 0, DROP)]


def _ipv4_from(ip: str, protocol: int) -> list[tuple[int, Jump, Jump, int]]:
    """Accepts on: IPv4, this protocol, from ip, not a later fragment, with
    X = the IP header's length."""
    return [
        (LD_H_ABS, 0, 0, 12),  # ethertype
        (JEQ_K, 0, "drop", 0x0800),
        (LD_B_ABS, 0, 0, 23),  # protocol
        (JEQ_K, 0, "drop", protocol),
        (LD_W_ABS, 0, 0, 26),  # source address
        (JEQ_K, 0, "drop", _ip(ip)),
        (LD_H_ABS, 0, 0, 20),  # flags and fragment offset
        (JSET_K, "drop", 0, 0x1FFF),
        (LDX_B_MSH, 0, 0, 14),  # X = IP header length
    ]


def arp_replies_from(ip: str) -> list[Insn]:
    """ARP replies whose sender protocol address is ip."""
    return assemble(
        (LD_H_ABS, 0, 0, 12),  # ethertype
        (JEQ_K, 0, "drop", 0x0806),
        (LD_H_ABS, 0, 0, 20),  # opcode
        (JEQ_K, 0, "drop", 2),
        (LD_W_ABS, 0, 0, 28),  # sender protocol address
        (JEQ_K, "keep", "drop", _ip(ip)),
    )


def syn_acks_from(ip: str, port: int, not_to: str | None = None) -> list[Insn]:
    """IPv4 TCP segments from ip:port with SYN and ACK set (and, with
    not_to, to any address but that one)."""
    dst: list[tuple[int, Jump, Jump, int]] = []
    if not_to is not None:
        dst = [(LD_W_ABS, 0, 0, 30), (JEQ_K, "drop", 0, _ip(not_to))]  # destination address
    return assemble(
        *_ipv4_from(ip, 6),
        (LD_H_IND, 0, 0, 14),  # source port
        (JEQ_K, 0, "drop", port),
        (LD_B_IND, 0, 0, 14 + 13),  # TCP flags
        (ALU_AND_K, 0, 0, 0x12),
        (JEQ_K, 0, "drop", 0x12),  # SYN and ACK
        *dst,
    )  # falls through to "keep"


def echo_replies_from(ip: str) -> list[Insn]:
    """ICMP echo replies from ip."""
    return assemble(
        *_ipv4_from(ip, 1),
        (LD_B_IND, 0, 0, 14),  # ICMP type
        (JEQ_K, "keep", "drop", 0),  # echo reply
    )


def run_bpf(program: Sequence[Insn], frame: bytes) -> bool:
    """Runs a program of the instructions above on a frame: accepted? (For
    tests; the kernel runs them for real.) An out-of-bounds load rejects,
    as in the kernel."""
    a = x = 0
    pc = 0
    while True:
        code, jt, jf, k = program[pc]
        pc += 1
        try:
            if code == LD_H_ABS:
                if k + 2 > len(frame):
                    return False
                a = int.from_bytes(frame[k : k + 2], "big")
            elif code == LD_W_ABS:
                if k + 4 > len(frame):
                    return False
                a = int.from_bytes(frame[k : k + 4], "big")
            elif code == LD_B_ABS:
                a = frame[k]
            elif code == LDX_B_MSH:
                x = 4 * (frame[k] & 0xF)
            elif code == LD_B_IND:
                a = frame[x + k]
            elif code == LD_H_IND:
                if x + k + 2 > len(frame):
                    return False
                a = int.from_bytes(frame[x + k : x + k + 2], "big")
            elif code == ALU_AND_K:
                a &= k
            elif code == JEQ_K:
                pc += jt if a == k else jf
            elif code == JSET_K:
                pc += jt if a & k else jf
            elif code == RET_K:
                return k != 0
            else:
                raise ValueError(f"instruction {code:#x} is not one run_bpf knows")
        except IndexError:
            return False


class FrameCounter:
    """Counts the frames on a link of the wire that a BPF program accepts,
    from now until close() (see the module's docstring)."""

    def __init__(self, wire: Any, link: str, program: Sequence[Insn]) -> None:
        self._sock: socket.socket | None = wire.socket_in_ns(socket.AF_PACKET, socket.SOCK_RAW, 0)
        sock = self._sock
        assert sock is not None
        code = b"".join(struct.pack("=HBBI", *insn) for insn in program)
        buf = ctypes.create_string_buffer(code)
        fprog = struct.pack("=HxxxxxxQ", len(program), ctypes.addressof(buf))
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)  # the kernel's minimum
        # Bound with a protocol only now, with the filter on: nothing else counts.
        sock.bind((link, ETH_P_ALL))
        self._total = 0
        self._read()  # zero

    def _read(self) -> int:
        """Frames since the last read (the kernel resets its counts)."""
        if self._sock is None:
            return 0
        raw = self._sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
        packets, _drops = struct.unpack("=II", raw)  # packets includes the drops
        return int(packets)

    def count(self) -> int:
        self._total += self._read()
        return self._total

    def settle(
        self,
        expected: int | None = None,
        quiet_s: float = SETTLE_QUIET_S,
        limit_s: float = SETTLE_LIMIT_S,
    ) -> int:
        """The count once it reached expected, or has not moved for quiet_s
        (answers still queued for a slow target come in), or after limit_s."""
        end = time.monotonic() + limit_s
        last = self.count()
        still_since = time.monotonic()
        while time.monotonic() < end and (expected is None or last < expected):
            time.sleep(0.05)
            now = self.count()
            if now != last:
                last, still_since = now, time.monotonic()
            elif time.monotonic() - still_since >= quiet_s:
                break
        return last

    def close(self) -> int:
        total = self.count()
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        return total


def link_to(wire: Any, ip: str) -> str:
    """The wire's interface that ip is reached through."""
    out = wire.run(["ip", "-o", "route", "get", ip], timeout=10, check=True).stdout
    m = re.search(r"\bdev (\S+)", out)
    if not m:
        raise FloodError(f"no route to {ip} in the wire: {out.strip()}")
    return m[1]


def link_tx_dropped(wire: Any, link: str) -> int:
    """Frames the wire's end of a link dropped on their way to the target
    (a tap whose reader, QEMU, fell behind; a veth whose peer's backlog was
    full): the kernel's tx_dropped for the interface."""
    out = wire.run(["ip", "-s", "-j", "link", "show", "dev", link], timeout=10, check=True).stdout
    data = json.loads(out or "[]")
    if not data:
        raise FloodError(f"no link {link} in the wire")
    return int(data[0]["stats64"]["tx"]["dropped"])


# ---- floods -------------------------------------------------------------------------------


class Flood(abc.ABC):
    """One running flood. wait() for its end, or stop() it early; both
    return its FloodResult (the same one on every later call)."""

    kind: str
    tool: str
    duration_s: float

    @abc.abstractmethod
    def running(self) -> bool: ...

    @abc.abstractmethod
    def wait(self, timeout: float | None = None) -> FloodResult:
        """Waits for the end; after timeout seconds (if given) stops it and
        returns what it had."""

    @abc.abstractmethod
    def stop(self) -> FloodResult:
        """Ends it now (SIGINT, then SIGKILL, to a tool) and parses what there is."""


def require(tool: str) -> None:
    """Raises one clear line when the tool is missing."""
    if shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin"):
        return
    package = PACKAGES.get(tool, tool)
    raise FloodError(
        f"{tool} is not installed: apt-get install {package} "
        "(scripts/apt-packages.txt lists it; `make setup` installs it)"
    )


class ToolFlood(Flood):
    """A flood run by a tool in the wire's namespace. The tool ends by its
    own limit; the watchdog sends SIGINT at ``interrupt_at`` seconds (the
    tool's end for one without a limit of its own, else a grace period
    after its expected end), SIGKILL GRACE_S later."""

    def __init__(
        self,
        wire: Any,
        argv: Sequence[str],
        *,
        kind: str,
        tool: str,
        duration_s: float,
        parse: Callable[[str, float], FloodResult],
        interrupt_at: float | None = None,
        own_limit: bool = True,
        counter: FrameCounter | None = None,
        one_answer_each: bool = False,
    ) -> None:
        require(argv[0])
        # Without a limit of its own, SIGINT at interrupt_at is the tool's end.
        self._own_limit = own_limit
        self._one_answer_each = one_answer_each  # the counter's count to wait for: sent
        self.kind = kind
        self.tool = tool
        self.duration_s = duration_s
        self.argv = list(argv)
        self._parse = parse
        self._counter = counter
        self._interrupt_at = interrupt_at if interrupt_at is not None else duration_s + GRACE_S
        # Closed by _finish(), after the tool has ended.
        self._out: IO[bytes] = tempfile.TemporaryFile(prefix=f"flood-{kind}-")  # noqa: SIM115
        self._result: FloodResult | None = None
        self._stopped = False
        self._interrupted = False
        self._lock = threading.Lock()
        self._stop_now = threading.Event()
        self.started = time.monotonic()
        try:
            self.proc: subprocess.Popen[bytes] = wire.popen(
                self.argv, stdout=self._out, stderr=subprocess.STDOUT, text=False
            )
        except BaseException:
            self._out.close()
            if counter is not None:
                counter.close()
            raise
        self.ended: float | None = None
        self._watchdog = threading.Thread(target=self._watch, name=f"flood {kind}", daemon=True)
        self._watchdog.start()

    def _watch(self) -> None:
        """Ends the tool at the latest interrupt_at (+ GRACE_S) after its start."""
        deadline = self.started + self._interrupt_at
        proc = self.proc
        while proc.poll() is None:
            left = deadline - time.monotonic()
            if left <= 0 or self._stop_now.is_set():
                break
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=min(left, 0.2))
        if proc.poll() is None:
            self._interrupted = True
            self._signal(signal.SIGINT)
            try:
                proc.wait(timeout=GRACE_S)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                proc.wait()
        self.ended = time.monotonic()

    def _signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, sig)

    def running(self) -> bool:
        return self.proc.poll() is None

    def wait(self, timeout: float | None = None) -> FloodResult:
        self._watchdog.join(timeout)
        if self._watchdog.is_alive():
            return self.stop()
        return self._finish()

    def stop(self) -> FloodResult:
        if self.proc.poll() is None:
            self._stopped = True
            self._stop_now.set()
        self._watchdog.join()
        return self._finish()

    def output(self) -> str:
        """What the tool printed (stdout and stderr)."""
        self._out.seek(0)
        return self._out.read().decode(errors="replace")

    def _finish(self) -> FloodResult:
        with self._lock:
            if self._result is not None:
                return self._result
            took = (self.ended or time.monotonic()) - self.started
            text = self.output()
            self._out.close()
            try:
                result = self._parse(text, took)
            except FloodError as e:
                if self._counter is not None:
                    self._counter.close()
                raise FloodError(
                    f"{self.tool} ({' '.join(self.argv)}) exited with {self.proc.returncode}: {e}"
                ) from None
            if self._counter is not None:
                # Every answer that came, late ones too: the target's, not the tool's view.
                self._counter.settle(result.sent if self._one_answer_each else None)
                on_wire = self._counter.close()
                result.detail["answered_by_tool"] = result.answered
                result.detail["answered_on_wire"] = on_wire
                result.answered = min(on_wire, result.sent)
            result.stopped = self._stopped or (self._interrupted and self._own_limit)
            self._result = result
            return result


class FrameFlood(Flood):
    """Prebuilt frames sent round and round on a link by one AF_PACKET
    socket (past the qdisc, straight to the driver), from a thread, for
    duration_s seconds or until stop(); pps=0: as fast as the socket goes.
    A FrameCounter counts the answers."""

    def __init__(
        self,
        wire: Any,
        link: str,
        frames: Sequence[bytes],
        *,
        kind: str,
        tool: str,
        duration_s: float,
        pps: int = 0,
        counter: FrameCounter | None = None,
    ) -> None:
        self.kind = kind
        self.tool = tool
        self.duration_s = duration_s
        self.pps = pps
        self._frames = list(frames)
        self._counter = counter
        self._sock = wire.socket_in_ns(socket.AF_PACKET, socket.SOCK_RAW, 0)
        self._sock.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, 4 << 20)
        self._sock.setsockopt(SOL_PACKET, PACKET_QDISC_BYPASS, 1)
        self._sock.bind((link, 0))
        self.sent = 0
        self.refused = 0  # sends the device turned away (ENOBUFS): not sent
        self.seconds = 0.0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._stopped = False
        self._result: FloodResult | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"flood {kind}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        send = self._sock.send
        batches = [
            self._frames[i : i + FRAME_BATCH] for i in range(0, len(self._frames), FRAME_BATCH)
        ]
        start = time.monotonic()
        end = start + self.duration_s
        attempted = refused = 0
        try:
            while not self._stop.is_set():
                for batch in batches:
                    now = time.monotonic()
                    if now >= end or self._stop.is_set():
                        return
                    if self.pps:
                        ahead = attempted / self.pps - (now - start)
                        if ahead > 0:
                            time.sleep(ahead)
                    for frame in batch:
                        try:
                            send(frame)
                        except OSError:
                            refused += 1
                    attempted += len(batch)
        except BaseException as e:
            self.error = e
        finally:
            self.refused = refused
            self.sent = attempted - refused
            self.seconds = time.monotonic() - start

    def running(self) -> bool:
        return self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> FloodResult:
        self._thread.join(timeout)
        if self._thread.is_alive():
            return self.stop()
        return self._finish()

    def stop(self) -> FloodResult:
        if self._thread.is_alive():
            self._stopped = True
        self._stop.set()
        self._thread.join()
        return self._finish()

    def _finish(self) -> FloodResult:
        with self._lock:
            if self._result is not None:
                return self._result
            answered = 0
            if self._counter is not None:
                self._counter.settle(self.sent)
                answered = self._counter.close()
            self._sock.close()
            if self.error is not None:
                raise FloodError(f"the {self.kind} frame flood failed: {self.error!r}")
            detail: dict[str, float] = {
                "refused_by_link": self.refused,
                "frames": len(self._frames),
            }
            self._result = FloodResult(
                self.kind,
                self.tool,
                self.seconds,
                self.sent,
                min(answered, self.sent),
                0,
                detail,
                stopped=self._stopped,
            )
            return self._result


# ---- the floods ---------------------------------------------------------------------------


def _seconds(duration_s: float) -> str:
    return str(max(1, round(duration_s)))


def icmp_flood(wire: Any, ip: str, duration_s: float, *, link: str | None = None) -> Flood:
    """``ping -f -q -w D``: an echo request as soon as the previous reply
    came, at least 100 a second (iputils' flood mode), for D seconds. The
    replies are counted on the wire too (answered): ping stops at its
    deadline with a request or two still in flight, whose replies it no
    longer waits for."""
    return _with_counter(
        wire,
        ip,
        link,
        echo_replies_from,
        lambda counter: ToolFlood(
            wire,
            ["ping", "-f", "-q", "-w", _seconds(duration_s), ip],
            kind="icmp",
            tool="ping -f",
            duration_s=duration_s,
            parse=parse_ping,
            counter=counter,
            one_answer_each=True,
        ),
    )


def _with_counter(
    wire: Any,
    ip: str,
    link: str | None,
    program: Callable[[str], list[Insn]],
    start: Callable[[FrameCounter], Flood],
) -> Flood:
    """start(counter) with a FrameCounter for program(ip) on the link to
    ip; the counter is closed if the flood does not start."""
    counter = FrameCounter(wire, link or link_to(wire, ip), program(ip))
    try:
        return start(counter)
    except BaseException:
        counter.close()
        raise


def arp_frames(wire: Any, ip: str) -> list[bytes]:
    """Broadcast who-has requests for ip, one from each virtual host of the
    wire (addresses and MACs no kernel owns)."""
    from scapy.layers.l2 import ARP, Ether

    from .net.wire import MAX_HOSTS

    a = wire.addr
    return [
        bytes(
            Ether(src=a.host_mac(i), dst="ff:ff:ff:ff:ff:ff")
            / ARP(op=1, hwsrc=a.host_mac(i), psrc=a.host_ip(i), pdst=ip)
        )
        for i in range(MAX_HOSTS)
    ]


def arp_flood(
    wire: Any,
    ip: str,
    duration_s: float,
    tool: str = "arping",
    *,
    link: str | None = None,
    pps: int = 0,
) -> Flood:
    """tool="arping": ``arping -W 0.00001 -w D``, as fast as arping goes
    (a request or a few outstanding: 1,000 to 5,000 a second here).
    tool="scapy": who-has requests from the wire's 64 virtual hosts,
    prebuilt with Scapy and sent by an AF_PACKET socket at full speed (pps
    caps it). Either way the target's replies are counted on the wire
    (answered; arping's own count is answered_by_tool: it stops with
    requests in flight). Replies to the wire's own kernel, if it asks
    during the flood, count too."""
    link = link or link_to(wire, ip)
    if tool == "arping":
        argv = ["arping", "-W", f"{ARP_INTERVAL_S:g}", "-w", _seconds(duration_s), "-i", link, ip]
        return _with_counter(
            wire,
            ip,
            link,
            arp_replies_from,
            lambda counter: ToolFlood(
                wire,
                argv,
                kind="arp",
                tool="arping",
                duration_s=duration_s,
                parse=parse_arping,
                counter=counter,
                one_answer_each=True,
            ),
        )
    if tool == "scapy":
        frames = arp_frames(wire, ip)
        return _with_counter(
            wire,
            ip,
            link,
            arp_replies_from,
            lambda counter: FrameFlood(
                wire,
                link,
                frames,
                kind="arp",
                tool="scapy",
                duration_s=duration_s,
                pps=pps,
                counter=counter,
            ),
        )
    raise ValueError(f"arp_flood: tool {tool!r} is not arping or scapy")


def syn_flood(
    wire: Any,
    ip: str,
    port: int,
    duration_s: float,
    pps: int = 0,
    *,
    link: str | None = None,
    spoof: bool = True,
) -> Flood:
    """``hping3 -S --flood`` (pps: ``-i uN``, about that many a second) to
    ip:port for duration_s seconds (SIGINT then: hping3 has no time limit).
    spoof: random source addresses (--rand-source), so the target's
    SYN-ACKs go to hosts that never answer and its half-open connections
    stay until it gives up on them; without, the wire's own stack answers
    them with RSTs. The SYN-ACKs are counted on the wire (answered)."""
    argv = ["hping3", "-q", "-S", "-p", str(port)]
    if pps > 0:
        argv += ["-i", f"u{max(1, 1_000_000 // pps)}"]
    else:
        argv.append("--flood")
    if spoof:
        argv.append("--rand-source")
    require("hping3")
    # The SYN-ACKs to the flood: from that port, and (spoofed) not to the
    # wire's own address, where other clients of the port are.
    not_to = wire.addr.tools_ip if spoof else None
    return _with_counter(
        wire,
        ip,
        link,
        lambda ip: syn_acks_from(ip, port, not_to),
        lambda counter: ToolFlood(
            wire,
            [*argv, ip],
            kind="syn",
            tool="hping3",
            duration_s=duration_s,
            parse=parse_hping3,
            interrupt_at=duration_s,
            own_limit=False,
            counter=counter,
        ),
    )


def http_conn_flood(
    wire: Any, ip: str, port: int, duration_s: float, rate: int, path: str = "/hello"
) -> Flood:
    """httperf: ``rate`` new connections a second, one request each
    (--num-calls 1), rate * duration_s connections in all."""
    conns = max(1, round(rate * duration_s))
    argv = [
        "httperf",
        "--server",
        ip,
        "--port",
        str(port),
        "--uri",
        path,
        "--rate",
        str(rate),
        "--num-conns",
        str(conns),
        "--num-calls",
        "1",
        "--timeout",
        f"{HTTP_TIMEOUT_S:g}",
    ]
    return ToolFlood(
        wire,
        argv,
        kind="http-conn",
        tool="httperf",
        duration_s=duration_s,
        parse=parse_httperf,
        interrupt_at=duration_s + HTTP_TIMEOUT_S + GRACE_S,
    )


def http_keepalive_flood(
    wire: Any,
    ip: str,
    port: int,
    duration_s: float,
    connections: int = 8,
    path: str = "/hello",
) -> Flood:
    """``wrk -t1 -cN -dDs --latency``: N keep-alive connections, each
    sending its next request as soon as the previous response came."""
    argv = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{_seconds(duration_s)}s",
        "--timeout",
        f"{HTTP_TIMEOUT_S:g}s",
        "--latency",
        f"http://{ip}:{port}{path}",
    ]
    return ToolFlood(
        wire,
        argv,
        kind="http-keepalive",
        tool="wrk",
        duration_s=duration_s,
        parse=parse_wrk,
    )
