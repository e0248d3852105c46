"""What the flood tests share: the service checks before and after a flood
(ping, a TCP echo, an HTTP GET), the target's footprint (what a flood
could leave behind) and its wait to return to its level, and the
target's counters that tell where frames went."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

from ringzero.flood import FloodResult, link_tx_dropped
from ringzero.net import netns

ECHO_PORT = 7  # the agent's TCP echo listener (tcp_listen mode=echo)
HTTP_PORT = 80  # the conformance service's HTTP server (boot arg http=80)
HELLO = b"Hello from ringzero\n"
CHECK_TIMEOUT_S = 10.0
# The agent's stats: its default 5 s ran out once under libvirt and TCG on
# a busy host (load 13 on 2 CPUs), before any flood.
STATS_TIMEOUT_S = 20.0

# How far above its level before the flood the footprint may stay: the
# heap's bytes and blocks (ringzero), the namespace's TCP sockets (Linux).
# The heap's slack is for containers that keep their high-water capacity
# (the TCP table's bucket array: up to 16 KiB at 1,024 connections); a
# leak of anything per frame, connection or request of a flood (hundreds
# of thousands) is far above it.
SLACK = {"heap_in_use": 16384, "heap_live": 8, "tcp_sockets": 0, "tcp_syn_recv": 0}
SETTLE_S = 20.0  # the footprint must be back within this after the flood


# ---- the service answers ------------------------------------------------------------


def ping_ok(wire: Any, ip: str, count: int = 3) -> str | None:
    """None if `ping -c count` got a reply to every request, else what ping
    said. Up to 10 s for each: right after a flood, a slow target may still
    be working through the frames queued on its link. -w makes ping wait
    for late replies (without it, once one reply came, ping waits only two
    round trips for the rest: a VM the host did not run for a moment would
    read as losing one); a lost reply still fails, as ping then sends more
    requests than it gets replies."""
    result = wire.run(
        ["ping", "-c", str(count), "-i", "0.2", "-W", "10", "-w", "20", ip], timeout=60
    )
    m = re.search(r"(\d+) packets transmitted, (\d+) received", result.stdout)
    if m and int(m[1]) == int(m[2]) == count:
        return None
    return f"ping: {result.stdout.strip()}{result.stderr.strip()}"


def echo_ok(wire: Any, ip: str, port: int = ECHO_PORT) -> str | None:
    """None if a new TCP connection to the echo listener echoes a message."""
    s = wire.socket_in_ns(socket.AF_INET, socket.SOCK_STREAM)
    message = b"still there after the flood"
    try:
        s.settimeout(CHECK_TIMEOUT_S)
        s.connect((ip, port))
        s.sendall(message)
        back = b""
        while len(back) < len(message):
            chunk = s.recv(len(message) - len(back))
            if not chunk:
                break
            back += chunk
    except OSError as e:
        return f"TCP echo on port {port}: {e!r}"
    finally:
        s.close()
    return None if back == message else f"TCP echo on port {port} came back as {back!r}"


def http_get(wire: Any, ip: str, path: str = "/hello", port: int = HTTP_PORT) -> tuple[int, bytes]:
    """GET path over a new connection (HTTP/1.1, persistent, so that the
    client and not the server closes first and the server keeps no
    TIME-WAIT); the status and the body (framed by Content-Length)."""
    s = wire.socket_in_ns(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.settimeout(CHECK_TIMEOUT_S)
        s.connect((ip, port))
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: ringzero\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                raise OSError(f"the connection closed before the header section: {data!r}")
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        m = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", head)
        length = int(m[1]) if m else 0
        while len(body) < length:
            chunk = s.recv(length - len(body))
            if not chunk:
                break
            body += chunk
        return status, body
    finally:
        s.close()


def http_ok(wire: Any, ip: str) -> str | None:
    try:
        status, body = http_get(wire, ip)
    except (OSError, ValueError, IndexError) as e:
        return f"GET /hello: {e!r}"
    if status != 200 or body != HELLO:
        return f"GET /hello: {status} {body[:80]!r}"
    return None


# ---- the footprint --------------------------------------------------------------------


def footprint(sut: Any) -> dict[str, int]:
    """What the target holds: ringzero's heap (bytes in use and live
    blocks, from the agent's stats); for Linux, whose kernel heap is the
    host's, the TCP sockets of its namespace and those in SYN-RECV."""
    ns = getattr(sut, "ns", None)
    if ns is None:
        heap = stats(sut)["heap"]
        return {"heap_in_use": int(heap["in_use"]), "heap_live": int(heap["live"])}
    out = subprocess.run(
        netns.exec_argv(ns, ["ss", "-H", "-t", "-a", "-n"]),
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    ).stdout
    states = [line.split()[0] for line in out.splitlines() if line.strip()]
    return {"tcp_sockets": len(states), "tcp_syn_recv": states.count("SYN-RECV")}


def excess(now: dict[str, int], base: dict[str, int]) -> dict[str, int]:
    """What is above the level plus its slack."""
    return {k: v - base[k] for k, v in now.items() if v > base[k] + SLACK[k]}


@dataclass
class Settled:
    before: dict[str, int]
    right_after: dict[str, int]
    after: dict[str, int]
    seconds: float  # after the flood's end until back
    samples: list[tuple[float, dict[str, int]]] = field(default_factory=list)

    def __str__(self) -> str:
        def fmt(d: dict[str, int]) -> str:
            return " ".join(f"{k}={v:,}" for k, v in d.items())

        return (
            f"footprint before: {fmt(self.before)}; right after: {fmt(self.right_after)}; "
            f"back within the slack after {self.seconds:.1f} s: {fmt(self.after)}"
        )


def wait_footprint(sut: Any, before: dict[str, int], timeout: float = SETTLE_S) -> Settled:
    """Polls the footprint until it is back at its level (within SLACK);
    AssertionError with the samples if it is not within timeout."""
    start = time.monotonic()
    first = footprint(sut)
    samples = [(0.0, first)]
    now = first
    while excess(now, before):
        waited = time.monotonic() - start
        if waited > timeout:
            trail = "\n".join(f"  +{t:5.1f} s  {s}" for t, s in samples[-12:])
            raise AssertionError(
                f"the target's footprint did not return to its level within {timeout:g} s "
                f"(slack {SLACK}): before {before}, now {now}, above by {excess(now, before)}"
                f"\n{trail}"
            )
        time.sleep(0.25)
        now = footprint(sut)
        samples.append((time.monotonic() - start, now))
    return Settled(before, first, now, time.monotonic() - start, samples)


# ---- counters -----------------------------------------------------------------------------


def stats(sut: Any) -> dict[str, Any]:
    reply: dict[str, Any] = sut.agent.call("stats", timeout=STATS_TIMEOUT_S)
    return reply


def http_stats(wire: Any, ip: str) -> dict[str, Any]:
    """The ringzero HTTP server's own counters (GET /stats from the wire):
    connections_total, connections_refused (answered 503 at its
    connection cap), requests, responses by status."""
    out = wire.run(
        ["curl", "-sS", "--max-time", "20", f"http://{ip}:{HTTP_PORT}/stats"],
        timeout=30,
        check=True,
    ).stdout
    http: dict[str, Any] = json.loads(out)["http"]
    return http


def counters(sut: Any) -> dict[str, int]:
    return {k: int(v) for k, v in stats(sut)["counters"].items()}


def moved(before: dict[str, int], after: dict[str, int], *words: str) -> dict[str, int]:
    """The counters whose names hold one of the words and that moved."""
    return {
        name: after[name] - before.get(name, 0)
        for name in sorted(after)
        if any(w in name.lower() for w in words) and after[name] != before.get(name, 0)
    }


def tx_drops(delta: dict[str, int]) -> int:
    """Frames the target counted as dropped on their way out (its device
    queue full, no room for headers): ringzero's eth.tx.drop.* counters."""
    return sum(v for k, v in delta.items() if k.startswith("eth.tx.drop."))


# ---- reporting ----------------------------------------------------------------------------


def report(request: Any, record_property: Any, *lines: str, results: list[FloodResult]) -> None:
    """Prints the figures (pytest -s shows them), records them as the
    test's properties (junit XML) and as a section of its report."""
    text = "\n".join([*(r.summary() for r in results), *lines])
    print(f"\n{text}")
    for r in results:
        record_property(
            f"flood_{r.kind}_{r.tool.split()[0]}",
            {
                "sent": r.sent,
                "answered": r.answered,
                "errors": r.errors,
                "duration_s": round(r.duration_s, 3),
                "rate": round(r.rate, 1),
                "loss_pct": round(r.loss_pct, 4),
                **r.detail,
            },
        )
    for i, line in enumerate(lines):
        record_property(f"flood_note_{i}", line)
    request.node.add_report_section("call", "flood figures", text)


def target_tx_drops(sut: Any) -> int:
    """Frames the target counted as dropped on their way out: ringzero's
    eth.tx.drop.* counters (its device queue full, no room for headers);
    Linux's eth0 tx_dropped (its veth peer's backlog full)."""
    ns = getattr(sut, "ns", None)
    if ns is None:
        return tx_drops(counters(sut))
    out = subprocess.run(
        netns.exec_argv(ns, ["ip", "-s", "-j", "link", "show", "dev", "eth0"]),
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    ).stdout
    return int(json.loads(out)[0]["stats64"]["tx"]["dropped"])


WORDS = ("icmp", "echo", "arp", "syn", "cookie", "listen", "drop", "http", "gave_up", "pool")


class Snapshot:
    """The target's counters, its own tx drops and the link's drops now;
    changes() tells what moved since."""

    def __init__(self, wire: Any, sut: Any) -> None:
        self.wire = wire
        self.sut = sut
        self.counters = counters(sut)
        self.target_drops = target_tx_drops(sut)
        self.link_drops = link_tx_dropped(wire, sut.link)

    def changes(self) -> tuple[dict[str, int], int, int]:
        """(the counters about floods that moved, frames the target dropped
        on their way out, frames the wire's end of the link dropped on
        their way to the target)."""
        return (
            moved(self.counters, counters(self.sut), *WORDS),
            target_tx_drops(self.sut) - self.target_drops,
            link_tx_dropped(self.wire, self.sut.link) - self.link_drops,
        )

    def lines(
        self, changes: tuple[dict[str, int], int, int] | None = None
    ) -> tuple[list[str], int, int]:
        """The changes (read now, or those given) as report lines, the
        target's own tx drops, and the link's drops on the way to the
        target."""
        delta, target, link = changes or self.changes()
        return (
            [
                f"target counters: {delta}",
                f"dropped by the target on the way out: {target}; "
                f"by the link on the way in: {link}",
            ],
            target,
            link,
        )
