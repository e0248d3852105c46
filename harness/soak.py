"""``ringzero soak``: one VM running the ``http`` service under every flood
at once for hours, its memory watched.

The floods (harness/flood.py: ICMP echo, ARP, SYN, HTTP connections with
httperf, HTTP keep-alive with wrk) run in rounds of one sampling interval:
all of them start together for the interval, the harness waits for them
and collects what each counted, then samples

  - the guest: GET /stats from the service (heap, HTTP and TCP counters,
    every stack counter), from the wire's namespace;
  - the QEMU process: VmRSS (/proc/<pid>/status) and its CPU time
    (utime + stime, /proc/<pid>/stat);

and prints one progress line. One more sample, taken before the first
round, is the idle baseline. At the end (or on Ctrl-C, or when the VM
dies) it writes, in the output directory: soak.json (every sample and
round, the summary), soak.md (a table per interval, the summary and the
comparison with IncludeOS's published soak) and memory.svg (guest heap and
QEMU RSS over time), plus the VM's serial.log and qemu.log under vm/.

Pass or fail (the exit status is 1 on any of these):
  - any flood counted an error (a send error, an HTTP error, a timeout);
  - ping loss: an echo request without a reply;
  - the service did not answer /stats, or the VM crashed or ended;
  - the guest heap grew after warm-up beyond the bound (see heap_flatness).
A round cut short by Ctrl-C (or SIGTERM) is counted but not judged; the
report is still written, and the status is 130 (SIGTERM: 143).

Rounds follow the wall clock: a round lasts the interval plus the few
seconds the floods take to count their last answers, and the last round is
what is left of the duration.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import re
import socket
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .paths import reports_dir
from .plot import line_chart, stack

HTTP_PORT = 80
LISTENING = r"^http: listening on port 80\b"
FLOOD_KINDS = ("icmp", "arp", "syn", "http", "keepalive")

# Heap flatness: warm-up is the first WARMUP_FRACTION of the samples, at
# least WARMUP_MIN_SAMPLES (the idle baseline included) and at least
# WARMUP_MIN_S of flooding: the stack's tables fill up to their steady state
# in that time (TIME-WAIT lasts 2 MSL, 60 s; half-open connections are
# bounded by the backlog at once). The sample that ends warm-up is the
# reference; from then on the heap in use may rise above it by at most
# max(HEAP_BOUND_BYTES, HEAP_BOUND_FRACTION of it). A leak of a few hundred
# octets per second crosses that within an hour; connections that happen to
# be open or in TIME-WAIT at the moment of a sample (tens of KiB that come
# and go) do not.
WARMUP_FRACTION = 0.10
WARMUP_MIN_SAMPLES = 2
WARMUP_MIN_S = 120.0
HEAP_BOUND_BYTES = 64 * 1024
TREND_MIN_SAMPLES = 10  # the summary states a trend from this many samples after warm-up
HEAP_BOUND_FRACTION = 0.05

# IncludeOS's published soak (the figures to beat).
INCLUDEOS = {
    "duration_h": 9.0,
    "pings": 101_000_000,
    "ping_loss_pct": 0.0,
    "http_connections": 382_000,
    "http_errors": 0,
    "memory_bytes": 1.1e6,
}


# ---- options ---------------------------------------------------------------------

_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_DURATION = re.compile(rf"(?:\s*{_NUMBER}\s*[dhms])+\s*")
_DURATION_PART = re.compile(rf"({_NUMBER})\s*([dhms])")
_UNIT_S = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(text: str) -> float:
    """Seconds in "90s", "30m", "8h", "1h30m", "1.5h", "2d" or "45" (seconds)."""
    s = text.strip().lower()
    if re.fullmatch(_NUMBER, s):
        total = float(s)
    elif _DURATION.fullmatch(s):
        total = sum(float(n) * _UNIT_S[u] for n, u in _DURATION_PART.findall(s))
    else:
        raise ValueError(f"{text!r}: not a duration (e.g. 90s, 30m, 8h, 1h30m)")
    if not math.isfinite(total) or total <= 0:
        raise ValueError(f"{text!r}: a duration must be more than 0 s (e.g. 90s, 30m, 8h)")
    return total


def format_duration(seconds: float) -> str:
    """H:MM:SS."""
    s = max(0, round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def parse_floods(text: str) -> tuple[str, ...]:
    """A comma-separated subset of FLOOD_KINDS, "all" or "none"."""
    words = [w.strip() for w in text.split(",") if w.strip()]
    if words == ["all"]:
        return FLOOD_KINDS
    if words == ["none"]:
        return ()
    unknown = [w for w in words if w not in FLOOD_KINDS]
    if unknown or not words:
        raise ValueError(
            f"--floods {text!r}: a comma-separated list of {', '.join(FLOOD_KINDS)}, "
            "or all, or none"
        )
    return tuple(k for k in FLOOD_KINDS if k in words)


@dataclass
class SoakConfig:
    duration_s: float
    interval_s: float = 60.0
    out: Path | None = None  # default reports/soak/<run-id>/
    backend: str = "qemu"
    accel: str = "auto"
    memory_mib: int = 64
    floods: tuple[str, ...] = FLOOD_KINDS
    # Modest rates for the open-loop floods: what the TCG-emulated VM on 2
    # host CPUs sustains with 0 errors while all floods run at once. ping -f
    # and wrk are closed loops: as fast as the guest answers.
    syn_pps: int = 200
    syn_port: int = HTTP_PORT
    http_rate: int = 20  # new connections per second (httperf)
    keepalive_connections: int = 4  # wrk
    # ARP: who-has frames from the wire's 64 virtual hosts at arp_pps
    # ("scapy"), or arping as fast as it goes ("arping": thousands a
    # second, more than the guest here answers while the rest runs).
    arp_tool: str = "scapy"
    arp_pps: int = 200
    heap_bound_bytes: int = HEAP_BOUND_BYTES
    warmup_s: float = WARMUP_MIN_S
    cmdline: str = ""  # extra words for the service (e.g. http_max_connections=128)


# ---- what is sampled -------------------------------------------------------------


@dataclass
class Sample:
    """One measurement, at t_s seconds after the first round began (the
    baseline is at 0, before it)."""

    t_s: float
    round: int  # 0: the idle baseline; n: after round n
    guest: dict[str, Any] | None  # /stats, or None when it did not answer
    qemu_rss_bytes: int | None
    qemu_cpu_s: float | None
    error: str | None = None
    # How long QEMU's threads have so far waited for a host CPU (schedstat):
    # a round in which it grew by seconds is one where the host, not the
    # guest, was slow.
    qemu_wait_s: float | None = None

    @property
    def heap_in_use(self) -> int | None:
        v = _get(self.guest, "heap", "in_use")
        return int(v) if v is not None else None

    @property
    def heap_peak(self) -> int | None:
        v = _get(self.guest, "heap", "peak")
        return int(v) if v is not None else None


@dataclass
class Round:
    """What every flood of one round counted (FloodResult fields, plus
    loss_pct and rate), keyed by kind."""

    index: int
    started_s: float
    planned_s: float
    elapsed_s: float
    floods: dict[str, dict[str, Any]] = field(default_factory=dict)
    partial: bool = False  # stopped early (Ctrl-C)
    start_s: float = 0.0  # starting the floods took this long
    done_s: dict[str, float] = field(default_factory=dict)  # each flood's result, after start


def _get(d: dict[str, Any] | None, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def fetch_stats(
    connect: Callable[[], socket.socket], ip: str, port: int = HTTP_PORT, timeout: float = 10.0
) -> dict[str, Any]:
    """GET /stats from the service; connect() makes the socket (in the
    wire's namespace). The response is read by its Content-Length and the
    client closes first, so that the TIME-WAIT is the client's: the
    sampler's connections do not linger in the guest's heap."""
    request = f"GET /stats HTTP/1.1\r\nHost: {ip}\r\n\r\n".encode()
    with contextlib.closing(connect()) as s:
        s.settimeout(timeout)
        s.connect((ip, port))
        s.sendall(request)
        data = b""
        length: int | None = None
        while True:
            if length is None and b"\r\n\r\n" in data:
                length = _content_length(data.partition(b"\r\n\r\n")[0])
            if length is not None and len(data.partition(b"\r\n\r\n")[2]) >= length:
                break
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        raise RuntimeError(f"/stats: no complete response ({len(data)} octets)")
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    status = status_line.split(" ", 2)
    if len(status) < 2 or status[1] != "200":
        raise RuntimeError(f"/stats: {status_line!r}")
    if length is not None:
        body = body[:length]
    stats = json.loads(body)
    if not isinstance(stats, dict):
        raise RuntimeError("/stats: not a JSON object")
    return stats


def _content_length(head: bytes) -> int | None:
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            return int(value.strip())
    return None


def qemu_rss_bytes(pid: int) -> int:
    """VmRSS of the process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            value, unit = line.split()[1:3]
            if unit.lower() != "kb":
                raise RuntimeError(f"/proc/{pid}/status: VmRSS in {unit}")
            return int(value) * 1024
    raise RuntimeError(f"/proc/{pid}/status has no VmRSS")


def flood_dict(result: Any) -> dict[str, Any]:
    """A FloodResult as plain data, with its loss_pct and rate."""
    d = dataclasses.asdict(result)
    d["loss_pct"] = float(result.loss_pct)
    d["rate"] = float(result.rate)
    return d


# ---- the summary -----------------------------------------------------------------


@dataclass
class Flatness:
    warmup_samples: int  # how many samples are warm-up (baseline and reference included)
    reference_t_s: float | None  # the sample that ends warm-up
    reference_bytes: int | None
    end_bytes: int | None
    max_bytes: int | None  # after warm-up
    growth_bytes: int | None  # max after warm-up minus the reference
    drift_bytes: int | None  # end minus the reference
    slope_bytes_per_h: float | None  # least squares over the samples after warm-up
    bound_bytes: int
    flat: bool | None  # None: too few samples after warm-up to tell
    warmup_s: float = WARMUP_MIN_S
    samples_after: int = 0  # samples after the reference

    def describe(self) -> str:
        if self.flat is None:
            return (
                "not measured: no sample after warm-up (the first 10 % of the samples and "
                f"{format_duration(self.warmup_s)} at least; run longer)"
            )
        assert self.growth_bytes is not None and self.slope_bytes_per_h is not None
        word = "flat" if self.flat else "GREW"
        # A trend from a handful of samples is mostly noise.
        trend = f"; trend {_signed_bytes(round(self.slope_bytes_per_h))}/h"
        if self.samples_after < TREND_MIN_SAMPLES:
            trend = ""
        return (
            f"{word} after warm-up: {_bytes(self.reference_bytes)} at "
            f"{format_duration(self.reference_t_s or 0)}, later samples "
            f"{_signed_bytes(self.growth_bytes)} at most (bound +{_bytes(self.bound_bytes)}), "
            f"{_signed_bytes(self.drift_bytes or 0)} at the end{trend}"
        )


def heap_bound(reference: int, floor: int = HEAP_BOUND_BYTES) -> int:
    return max(floor, round(HEAP_BOUND_FRACTION * reference))


def heap_flatness(
    points: Sequence[tuple[float, int]],
    floor: int = HEAP_BOUND_BYTES,
    warmup_s: float = WARMUP_MIN_S,
) -> Flatness:
    """Whether the heap in use stayed flat after warm-up. points: (t_s,
    in_use) per sample, baseline first. Warm-up ends with the first sample
    that is past the first 10 % of the samples (at least 2) and at least
    warmup_s into the run: that one is the reference. Flat when no later
    sample is more than the bound (max(floor, 5 % of it)) above it."""
    n = len(points)
    w = max(WARMUP_MIN_SAMPLES, math.ceil(WARMUP_FRACTION * n))
    r = next((i for i in range(w - 1, n) if points[i][0] >= warmup_s), n)
    if r >= n - 1:
        last = points[min(r, n - 1)] if n else None
        return Flatness(
            warmup_samples=min(r + 1, n),
            reference_t_s=last[0] if last else None,
            reference_bytes=last[1] if last else None,
            end_bytes=points[-1][1] if n else None,
            max_bytes=None,
            growth_bytes=None,
            drift_bytes=None,
            slope_bytes_per_h=None,
            bound_bytes=heap_bound(last[1], floor) if last else floor,
            flat=None,
            warmup_s=warmup_s,
        )
    steady = list(points[r:])
    t_ref, ref = steady[0]
    after = [v for _, v in steady[1:]]
    top = max(after)
    bound = heap_bound(ref, floor)
    return Flatness(
        warmup_samples=r + 1,
        reference_t_s=t_ref,
        reference_bytes=ref,
        end_bytes=steady[-1][1],
        max_bytes=top,
        growth_bytes=top - ref,
        drift_bytes=steady[-1][1] - ref,
        slope_bytes_per_h=_slope(steady) * 3600.0,
        bound_bytes=bound,
        flat=top - ref <= bound,
        warmup_s=warmup_s,
        samples_after=len(after),
    )


def _slope(points: Sequence[tuple[float, int | float]]) -> float:
    """Least-squares slope (units per second)."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    sxx = sum((t - mx) ** 2 for t, _ in points)
    if sxx == 0:
        return 0.0
    return sum((t - mx) * (v - my) for t, v in points) / sxx


def _sum(rounds: Iterable[Round], kind: str, key: str) -> int:
    return sum(int(r.floods[kind][key]) for r in rounds if kind in r.floods)


def conn_rate(result: dict[str, Any]) -> float | None:
    """httperf's connection rate of one round (conn/s it opened)."""
    detail = result.get("detail") or {}
    if "conn_rate" in detail:
        return float(detail["conn_rate"])
    return float(result["rate"]) if "rate" in result else None


def ok_rate(result: dict[str, Any]) -> float:
    """Connections (or requests) of one round answered well, per second."""
    took = float(result.get("duration_s") or 0.0)
    return float(result["answered"]) / took if took > 0 else 0.0


def summarize(
    samples: Sequence[Sample],
    rounds: Sequence[Round],
    heap_floor: int = HEAP_BOUND_BYTES,
    warmup_s: float = WARMUP_MIN_S,
) -> dict[str, Any]:
    """Totals over the rounds, memory figures over the samples, flatness and
    the verdict (problems: what makes the exit status non-zero)."""
    elapsed = sum(r.elapsed_s for r in rounds)
    s: dict[str, Any] = {"rounds": len(rounds), "elapsed_s": elapsed}
    for kind in FLOOD_KINDS:
        if any(kind in r.floods for r in rounds):
            sent, answered = _sum(rounds, kind, "sent"), _sum(rounds, kind, "answered")
            s[kind] = {
                "sent": sent,
                "answered": answered,
                "errors": _sum(rounds, kind, "errors"),
                "loss_pct": 100.0 * (sent - answered) / sent if sent else 0.0,
                "tool": next(r.floods[kind]["tool"] for r in rounds if kind in r.floods),
            }
    http_rounds = [r.floods["http"] for r in rounds if "http" in r.floods]
    if http_rounds:
        s["http"]["conn_rate_first"] = conn_rate(http_rounds[0])
        s["http"]["conn_rate_last"] = conn_rate(http_rounds[-1])
        s["http"]["ok_rate_first"] = ok_rate(http_rounds[0])
        s["http"]["ok_rate_last"] = ok_rate(http_rounds[-1])
    s["flood_errors"] = sum(s[k]["errors"] for k in FLOOD_KINDS if k in s)

    # The server's own counts: connections and error responses during the run.
    polled = [x for x in samples if x.guest is not None]
    if len(polled) >= 2:
        first, last = polled[0].guest, polled[-1].guest
        conns = (_get(last, "http", "connections_total") or 0) - (
            _get(first, "http", "connections_total") or 0
        )
        reqs = (_get(last, "http", "requests") or 0) - (_get(first, "http", "requests") or 0)
        errors = {}
        for code, n in (_get(last, "http", "responses") or {}).items():
            before = (_get(first, "http", "responses") or {}).get(code, 0)
            if code.isdigit() and int(code) >= 400 and n - before:
                errors[code] = n - before
        refused = (_get(last, "http", "connections_refused") or 0) - (
            _get(first, "http", "connections_refused") or 0
        )
        s["server"] = {
            "connections": conns,
            "requests": reqs,
            "error_responses": errors,
            "connections_refused": refused,
        }

    heap = [(x.t_s, x.heap_in_use) for x in samples if x.heap_in_use is not None]
    heap_points = [(t, int(v)) for t, v in heap if v is not None]
    flat = heap_flatness(heap_points, heap_floor, warmup_s)
    peaks = [x.heap_peak for x in samples if x.heap_peak is not None]
    s["heap"] = {
        "start": heap_points[0][1] if heap_points else None,
        "after_warmup": flat.reference_bytes,
        "end": heap_points[-1][1] if heap_points else None,
        "max": max(v for _, v in heap_points) if heap_points else None,
        "peak": max(peaks) if peaks else None,
        "capacity": _get(polled[-1].guest, "heap", "capacity") if polled else None,
        "flatness": dataclasses.asdict(flat),
        "flatness_text": flat.describe(),
    }
    rss = [x.qemu_rss_bytes for x in samples if x.qemu_rss_bytes is not None]
    s["qemu"] = {
        "rss_start": rss[0] if rss else None,
        "rss_end": rss[-1] if rss else None,
        "rss_max": max(rss) if rss else None,
    }
    cpu = [(x.t_s, x.qemu_cpu_s) for x in samples if x.qemu_cpu_s is not None]
    if len(cpu) >= 2 and cpu[-1][0] > cpu[0][0]:
        s["qemu"]["cpu_pct"] = 100.0 * (cpu[-1][1] - cpu[0][1]) / (cpu[-1][0] - cpu[0][0])

    # A round cut short by Ctrl-C is counted but not judged: the tools (and,
    # from a terminal, QEMU) got the signal too, with requests in flight.
    judged = [r for r in rounds if not r.partial]
    problems = []
    for kind in FLOOD_KINDS:
        count = _sum(judged, kind, "errors")
        if count:
            problems.append(f"{kind} flood: {count} errors")
    sent, answered = _sum(judged, "icmp", "sent"), _sum(judged, "icmp", "answered")
    if sent > answered:
        pct = 100.0 * (sent - answered) / sent
        problems.append(f"ping loss: {sent - answered} of {sent} ({pct:.4f} %)")
    if "server" in s and s["server"]["error_responses"]:
        problems.append(f"the server answered with errors: {s['server']['error_responses']}")
    missed = [x for x in samples if x.error]
    for x in missed:
        problems.append(f"sample at {format_duration(x.t_s)}: {x.error}")
    if flat.flat is False:
        problems.append(f"guest heap {flat.describe()}")
    s["problems"] = problems
    s["passed"] = not problems
    return s


# ---- the report ------------------------------------------------------------------


def _bytes(n: float | None) -> str:
    if n is None:
        return "-"
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(n) >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n:.0f} B"


def _signed_bytes(n: int) -> str:
    return ("+" if n >= 0 else "-") + _bytes(abs(n))


def _count(n: float | None) -> str:
    """1,234 / 12.3 k / 3.41 M: three significant digits from 10,000 on."""
    if n is None:
        return "-"
    for unit, size, least in (("G", 1e9, 1e9), ("M", 1e6, 1e6), ("k", 1e3, 1e4)):
        if abs(n) >= least:
            v = n / size
            decimals = max(0, 2 - math.floor(math.log10(abs(v))))
            return f"{v:,.{decimals}f} {unit}"
    return f"{n:,.0f}"


def _rate(n: float | None) -> str:
    return "-" if n is None else f"{n:.1f}"


def _pct(n: float | None, digits: int = 3) -> str:
    return "-" if n is None else f"{n:.{digits}f} %"


def time_unit(total_s: float) -> tuple[str, float]:
    """The x axis unit for a run this long: seconds, minutes or hours."""
    if total_s <= 300:
        return "s", 1.0
    if total_s <= 3 * 3600:
        return "min", 60.0
    return "h", 3600.0


def memory_svg(samples: Sequence[Sample]) -> str:
    """Guest heap (in use, peak) and QEMU RSS over time, one chart above the other."""
    total = samples[-1].t_s if samples else 0.0
    unit, div = time_unit(total)
    heap = [(x.t_s / div, x.heap_in_use / 1024) for x in samples if x.heap_in_use is not None]
    peak = [(x.t_s / div, x.heap_peak / 1024) for x in samples if x.heap_peak is not None]
    rss = [(x.t_s / div, x.qemu_rss_bytes / 2**20) for x in samples if x.qemu_rss_bytes]
    return stack(
        [
            line_chart(
                {"guest heap in use": heap, "guest heap peak": peak},
                "Guest heap (GET /stats)",
                f"time ({unit})",
                "KiB",
            ),
            line_chart({"QEMU RSS": rss}, "QEMU process memory (VmRSS)", f"time ({unit})", "MiB"),
        ]
    )


def _round_row(r: Round, sample: Sample | None, prev: Sample | None) -> list[str]:
    f = r.floods
    icmp = f.get("icmp")
    http = f.get("http")
    ka = f.get("keepalive")
    errors = sum(int(v["errors"]) for v in f.values())
    cpu = None
    if sample and prev and sample.qemu_cpu_s is not None and prev.qemu_cpu_s is not None:
        dt = sample.t_s - prev.t_s
        cpu = 100.0 * (sample.qemu_cpu_s - prev.qemu_cpu_s) / dt if dt > 0 else None
    return [
        str(r.index) + (" (partial)" if r.partial else ""),
        format_duration(sample.t_s if sample else r.started_s + r.elapsed_s),
        _count(icmp["sent"]) if icmp else "-",
        _pct(icmp["loss_pct"]) if icmp else "-",
        _count(f["arp"]["answered"]) if "arp" in f else "-",
        _count(f["syn"]["sent"]) if "syn" in f else "-",
        _count(http["answered"]) if http else "-",
        f"{ok_rate(http):.1f} ({_rate(conn_rate(http))})" if http else "-",
        _count(ka["answered"]) if ka else "-",
        str(errors),
        _bytes(sample.heap_in_use) if sample else "-",
        _bytes(sample.heap_peak) if sample else "-",
        str(_get(sample.guest, "tcp", "connections")) if sample and sample.guest else "-",
        _bytes(sample.qemu_rss_bytes) if sample else "-",
        f"{cpu:.0f} %" if cpu is not None else "-",
        _waited(sample, prev),
    ]


def _waited(sample: Sample | None, prev: Sample | None) -> str:
    """How long QEMU waited for a host CPU between two samples."""
    if not sample or not prev or sample.qemu_wait_s is None or prev.qemu_wait_s is None:
        return "-"
    return f"{sample.qemu_wait_s - prev.qemu_wait_s:.1f} s"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def markdown(meta: dict[str, Any], samples: Sequence[Sample], rounds: Sequence[Round]) -> str:
    s = meta["summary"]
    c = meta["config"]
    hours = s["elapsed_s"] / 3600 if s["elapsed_s"] else 0.0
    verdict = "PASSED" if s["passed"] else "FAILED"
    if meta.get("interrupted"):
        verdict += " (stopped early)"
    out = [
        f"# ringzero soak {meta['run_id']}: {verdict}",
        "",
        f"- service `http` ({meta['image']}), {c['memory_mib']} MiB, "
        f"{meta['backend']} / {meta['accel']}, started {meta['started']}",
        f"- duration {format_duration(s['elapsed_s'])} of {format_duration(c['duration_s'])} "
        f"planned, {s['rounds']} rounds of {c['interval_s']:g} s",
        f"- floods: {', '.join(c['floods']) or 'none'}; SYN {c['syn_pps']} pps to port "
        f"{c['syn_port']}, httperf {c['http_rate']:g} conn/s, wrk {c['keepalive_connections']} "
        f"connections, ARP "
        + (f"{c['arp_pps']} pps (frames)" if c["arp_tool"] == "scapy" else "with arping"),
        "",
        "## Summary",
        "",
    ]
    rows = []
    if "icmp" in s:
        i = s["icmp"]
        rows.append(["ICMP echo", f"{i['sent']:,} sent, {i['answered']:,} answered",
                     _pct(i["loss_pct"], 4) + " loss", str(i["errors"])])  # fmt: skip
    if "arp" in s:
        a = s["arp"]
        rows.append(["ARP requests", f"{a['sent']:,} sent, {a['answered']:,} answered",
                     _pct(a["loss_pct"], 4) + " unanswered", str(a["errors"])])  # fmt: skip
    if "syn" in s:
        y = s["syn"]
        rows.append(["SYN flood", f"{y['sent']:,} SYNs", f"{y['answered']:,} answered",
                     str(y["errors"])])  # fmt: skip
    if "http" in s:
        h = s["http"]
        rate = ""
        if "ok_rate_first" in h:
            rate = (
                f"answered {h['ok_rate_first']:.1f} conn/s in the first round, "
                f"{h['ok_rate_last']:.1f} in the last (httperf opened "
                f"{_rate(h['conn_rate_first'])} and {_rate(h['conn_rate_last'])})"
            )
        rows.append(["HTTP connections (httperf)",
                     f"{h['sent']:,} connections, {h['answered']:,} replies", rate,
                     str(h["errors"])])  # fmt: skip
    if "keepalive" in s:
        k = s["keepalive"]
        rows.append(["HTTP keep-alive (wrk)", f"{k['answered']:,} requests", "",
                     str(k["errors"])])  # fmt: skip
    if "server" in s:
        v = s["server"]
        rows.append(["the server's counts", f"{v['connections']:,} connections, "
                     f"{v['requests']:,} requests",
                     f"error responses: {v['error_responses'] or 'none'}; "
                     f"refused: {v['connections_refused']}", "-"])  # fmt: skip
    out += [_table(["", "count", "", "errors"], rows), ""]
    hp = s["heap"]
    q = s["qemu"]
    out += [
        f"- guest heap in use: {_bytes(hp['start'])} at start, {_bytes(hp['after_warmup'])} "
        f"after warm-up, {_bytes(hp['end'])} at the end, {_bytes(hp['max'])} at most "
        f"(allocator peak {_bytes(hp['peak'])}, capacity {_bytes(hp['capacity'])})",
        f"- heap {hp['flatness_text']}",
        f"- QEMU RSS: {_bytes(q['rss_start'])} at start, {_bytes(q['rss_end'])} at the end, "
        f"{_bytes(q['rss_max'])} at most"
        + (f"; QEMU used {q['cpu_pct']:.0f} % of a CPU" if "cpu_pct" in q else ""),
        "",
    ]
    if s["problems"]:
        out += ["Problems:", "", *(f"- {p}" for p in s["problems"]), ""]
    else:
        out += ["No errors, no ping loss, heap flat after warm-up (or too short to tell).", ""]

    out += ["## Against IncludeOS's published soak", ""]
    inc = INCLUDEOS
    pings = s.get("icmp", {}).get("answered", 0)
    conns = s.get("server", {}).get("connections", s.get("http", {}).get("answered", 0))
    http_errors = s.get("http", {}).get("errors", 0) + s.get("keepalive", {}).get("errors", 0)

    def per_h(n: float, h: float) -> str:
        return _count(n / h) + "/h" if h > 0 else "-"

    out += [
        _table(
            ["", "IncludeOS", "this run", "per hour: IncludeOS", "per hour: this run"],
            [
                ["duration", f"{inc['duration_h']:g} h", f"{hours:.2f} h", "", ""],
                [
                    "pings",
                    _count(inc["pings"]),
                    _count(pings),
                    per_h(inc["pings"], inc["duration_h"]),
                    per_h(pings, hours),
                ],
                [
                    "ping loss",
                    _pct(inc["ping_loss_pct"], 0),
                    _pct(s.get("icmp", {}).get("loss_pct"), 4),
                    "",
                    "",
                ],
                [
                    "HTTP connections",
                    _count(inc["http_connections"]),
                    _count(conns),
                    per_h(inc["http_connections"], inc["duration_h"]),
                    per_h(conns, hours),
                ],
                ["HTTP errors", str(inc["http_errors"]), str(http_errors), "", ""],
                ["memory in use", "1.1 MB", f"{_bytes(hp['max'])} (guest heap, max)", "", ""],
            ],
        ),
        "",
        "HTTP connections here: what the server counted (httperf's one connection per "
        "request, wrk's keep-alive connections, the sampler's GET /stats).",
        "",
        "## Memory over time",
        "",
        "![guest heap and QEMU RSS](memory.svg)",
        "",
        "## Per interval",
        "",
    ]
    by_round = {x.round: x for x in samples}
    rows = []
    base = by_round.get(0)
    if base is not None:
        rows.append(["0 (baseline)", format_duration(0), *["-"] * 8, _bytes(base.heap_in_use),
                     _bytes(base.heap_peak), str(_get(base.guest, "tcp", "connections")),
                     _bytes(base.qemu_rss_bytes), "-", "-"])  # fmt: skip
    prev = base
    for r in rounds:
        sample = by_round.get(r.index)
        rows.append(_round_row(r, sample, prev))
        prev = sample or prev
    header = ["round", "t", "pings", "loss", "ARP answered", "SYNs", "HTTP conns",
              "conn/s answered (opened)",
              "keep-alive reqs", "errors", "heap in use", "heap peak", "TCP conns", "QEMU RSS",
              "QEMU CPU", "QEMU waited for a CPU"]  # fmt: skip
    out += [_table(header, rows), ""]
    return "\n".join(out)


def write_report(
    out: Path, meta: dict[str, Any], samples: Sequence[Sample], rounds: Sequence[Round]
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    data = {
        **meta,
        "samples": [{**dataclasses.asdict(x)} for x in samples],
        "rounds": [dataclasses.asdict(r) for r in rounds],
    }
    (out / "soak.json").write_text(json.dumps(data, indent=1) + "\n")
    (out / "memory.svg").write_text(memory_svg(samples))
    (out / "soak.md").write_text(markdown(meta, samples, rounds))


def progress_line(
    total_s: float,
    sample: Sample,
    summary: dict[str, Any],
    rnd: Round | None,
    prev: Sample | None = None,
) -> str:
    icmp = summary.get("icmp", {})
    http = summary.get("http", {})
    ka = summary.get("keepalive", {})
    rate = ok_rate(rnd.floods["http"]) if rnd and "http" in rnd.floods else None
    parts = [
        f"[{format_duration(sample.t_s)}/{format_duration(total_s)}]",
        f"pings {_count(icmp.get('sent', 0))} loss {_pct(icmp.get('loss_pct', 0.0))}",
        f"http conns {_count(http.get('answered', 0))}"
        + (f" ({rate:.1f}/s)" if rate is not None else ""),
        f"keep-alive reqs {_count(ka.get('answered', 0))}",
        f"errors {summary['flood_errors']}",
        f"heap {_bytes(sample.heap_in_use)}",
        f"RSS {_bytes(sample.qemu_rss_bytes)}",
    ]
    waited = _waited(sample, prev)
    if waited != "-":
        parts.append(f"QEMU waited for a CPU {waited}")
    if sample.error:
        parts.append(f"! {sample.error}")
    return "  ".join(parts)


# ---- the run ---------------------------------------------------------------------


def run_soak(config: SoakConfig) -> int:
    """Boots the VM, floods and samples it for config.duration_s, writes the
    report; returns the exit status (0 passed, 1 failed, 130 interrupted)."""
    from .build import build
    from .cli import start_run
    from .console import ConsoleError
    from .hypervisor.accel import resolve
    from .hypervisor.base import NicSpec
    from .net.wire import Wire
    from .vm import Vm

    image = build(["http"])["http"]
    accel = resolve(config.accel)
    samples: list[Sample] = []
    rounds: list[Round] = []
    interrupted = False
    started = time.strftime("%Y-%m-%d %H:%M:%S %z")
    with start_run() as run:
        out = config.out or reports_dir() / "soak" / run.id
        out.mkdir(parents=True, exist_ok=True)
        meta: dict[str, Any] = {
            "run_id": run.id,
            "started": started,
            "image": image.path.name,
            "image_bytes": image.size,
            "backend": config.backend,
            "accel": accel,
            "config": {**dataclasses.asdict(config), "out": str(out)},
        }
        wire = Wire(run).create()
        a = wire.addr
        tap = wire.new_tap()
        words = [f"ip={a.target_ip}/{a.prefix}", f"gw={a.tools_ip}", f"mac={a.target_mac}"]
        vm = Vm(
            run,
            image,
            name="soak-http",
            backend=config.backend,
            accel=accel,
            artifacts=out / "vm",
            cmdline=" ".join([*words, config.cmdline]).strip(),
            memory_mib=config.memory_mib,
            nic=NicSpec(tap=tap, mac=a.target_mac),
            paused=True,
        )
        print(
            f"ringzero: soak {run.id}: http on {a.target_ip} ({config.backend}, {accel}), "
            f"{format_duration(config.duration_s)} in rounds of {config.interval_s:g} s; "
            f"report in {out}",
            file=sys.stderr,
        )
        # Undone in reverse order: the VM, then its tap (a tap outlives the
        # namespace it is in: it would go back to the root namespace).
        run.on_close(f"tap {tap}", lambda: wire.remove_link(tap))

        def sample(t_s: float, index: int) -> Sample:
            return _sample(wire, vm, a.target_ip, t_s, index)

        status: int | None = None
        try:
            vm.start()
            wire.adopt(tap)
            vm.resume()
            try:
                vm.wait_for(LISTENING, timeout=10.0)
            except ConsoleError as e:
                raise RuntimeError(f"the http service did not start listening: {e}") from None
            if "arp" in config.floods and config.arp_tool == "scapy":
                import scapy.layers.l2  # noqa: F401  (seconds to load: not in round 1's time)
            samples.append(sample(0.0, 0))
            t0 = time.monotonic()
            index = 0
            while True:
                left = config.duration_s - (time.monotonic() - t0)
                if left < 1.0:
                    break
                index += 1
                length = min(config.interval_s, left)
                rnd = Round(index, time.monotonic() - t0, length, 0.0)
                rounds.append(rnd)
                try:
                    _flood_round(config, wire, a.target_ip, rnd)
                finally:
                    rnd.elapsed_s = time.monotonic() - t0 - rnd.started_s
                s = sample(time.monotonic() - t0, index)
                samples.append(s)
                summary = summarize(samples, rounds, config.heap_bound_bytes, config.warmup_s)
                prev = samples[-2] if len(samples) > 1 else None
                print(progress_line(config.duration_s, s, summary, rnd, prev), flush=True)
                trouble = _trouble(vm)
                if trouble:
                    s.error = trouble
                    print(f"ringzero: {trouble}; stopping", file=sys.stderr)
                    break
        except KeyboardInterrupt:
            interrupted = True
            print("\nringzero: interrupted; writing the report", file=sys.stderr)
        except SystemExit as e:  # SIGTERM/SIGHUP (runs.py makes them SystemExit)
            interrupted = True
            status = e.code if isinstance(e.code, int) else 1
        finally:
            if interrupted and vm.machine is not None and vm.machine.running() and rounds:
                # One quick try: Ctrl-C in a terminal reaches QEMU too.
                with contextlib.suppress(Exception):
                    t = rounds[-1].started_s + rounds[-1].elapsed_s
                    last = _sample(wire, vm, a.target_ip, t, rounds[-1].index, tries=1, timeout=3)
                    if last.guest is not None:
                        samples.append(last)
            summary = summarize(samples, rounds, config.heap_bound_bytes, config.warmup_s)
            if vm.machine is None or not samples:
                summary["problems"].insert(0, "the VM did not start; see the vm/ directory")
                summary["passed"] = False
            meta.update(
                summary=summary,
                interrupted=interrupted,
                ended=time.strftime("%Y-%m-%d %H:%M:%S %z"),
            )
            crash = vm.crash_text()
            if crash:
                meta["crash"] = crash
                (out / "vm" / "crash.txt").write_text(crash + "\n")
            write_report(out, meta, samples, rounds)
    print(_final_text(meta, out), file=sys.stderr)
    if interrupted:
        return status if status is not None else 130
    return 0 if meta["summary"]["passed"] else 1


def _final_text(meta: dict[str, Any], out: Path) -> str:
    s = meta["summary"]
    verdict = "passed" if s["passed"] else "FAILED"
    lines = [f"ringzero: soak {verdict}; report in {out}/soak.md"]
    lines += [f"  - {p}" for p in s["problems"]]
    lines.append(f"  heap {s['heap']['flatness_text']}")
    return "\n".join(lines)


def _trouble(vm: Any) -> str | None:
    crash = vm.crash_text()
    if crash:
        return f"the unikernel crashed:\n{crash}"
    if vm.machine is None or not vm.machine.running():
        return f"the VM ended (exit status {vm.exit_status})"
    return None


def _sample(
    wire: Any, vm: Any, ip: str, t_s: float, index: int, tries: int = 3, timeout: float = 10.0
) -> Sample:
    """The guest's /stats and the QEMU process's memory and CPU."""
    guest = None
    error = None
    for attempt in range(tries):
        try:
            guest = fetch_stats(
                lambda: wire.socket_in_ns(socket.AF_INET, socket.SOCK_STREAM), ip, timeout=timeout
            )
            error = None
            break
        except (OSError, ValueError, RuntimeError) as e:
            error = f"GET /stats failed: {e}"
            if attempt + 1 < tries:
                time.sleep(0.5 * (attempt + 1))
    rss = cpu = wait = None
    pid = vm.machine.pid() if vm.machine is not None else None
    if pid is not None:
        with contextlib.suppress(OSError, RuntimeError):
            rss = qemu_rss_bytes(pid)
            cpu = vm.cpu_seconds()
            wait = vm.run_delay_seconds()
    return Sample(t_s, index, guest, rss, cpu, error, wait)


def _flood_round(config: SoakConfig, wire: Any, ip: str, rnd: Round) -> None:
    """Runs every flood for the round's length at once and collects their
    results into rnd (stopping them all, results kept, on Ctrl-C)."""
    d = rnd.planned_s
    if not config.floods:  # an idle soak: memory only
        time.sleep(d)
        return
    from . import flood  # type: ignore[attr-defined,unused-ignore]

    arp_pps = config.arp_pps if config.arp_tool == "scapy" else 0
    starters: dict[str, Callable[[], Any]] = {
        "icmp": lambda: flood.icmp_flood(wire, ip, d),
        "arp": lambda: flood.arp_flood(wire, ip, d, tool=config.arp_tool, pps=arp_pps),
        "syn": lambda: flood.syn_flood(wire, ip, config.syn_port, d, pps=config.syn_pps),
        "http": lambda: flood.http_conn_flood(wire, ip, HTTP_PORT, d, rate=config.http_rate),
        "keepalive": lambda: flood.http_keepalive_flood(
            wire, ip, HTTP_PORT, d, connections=config.keepalive_connections
        ),
    }
    running: dict[str, Any] = {}
    # Waited for together: each counts late answers for a while at its end.
    pool = ThreadPoolExecutor(len(config.floods), thread_name_prefix="soak-wait")
    t0 = time.monotonic()

    def wait(kind: str, f: Any, limit: float) -> Any:
        result = f.wait(limit)
        rnd.done_s[kind] = time.monotonic() - t0
        return result

    try:
        for kind in config.floods:
            running[kind] = starters[kind]()
        rnd.start_s = time.monotonic() - t0
        limit = d + max(30.0, 0.5 * d)
        futures = {kind: pool.submit(wait, kind, f, limit) for kind, f in running.items()}
        for kind, future in futures.items():
            rnd.floods[kind] = flood_dict(future.result())
    except BaseException:
        rnd.partial = True
        # Stopped all at once: a tool may take seconds to go.
        left = {kind: f for kind, f in running.items() if kind not in rnd.floods}
        if left:
            with ThreadPoolExecutor(len(left), thread_name_prefix="soak-stop") as stops:
                stopping = {kind: stops.submit(f.stop) for kind, f in left.items()}
                for kind, future in stopping.items():
                    with contextlib.suppress(Exception):
                        rnd.floods[kind] = flood_dict(future.result())
        raise
    finally:
        pool.shutdown(wait=True)  # prompt: every flood has ended or been stopped
