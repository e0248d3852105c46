"""Fixtures of the flood suite: the flood's length, a capture that keeps out
of the way, and the service ready (listening, warmed up, its footprint
taken) with its checks for afterwards."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
from ringzero.net import netns
from ringzero.net.peer import BPF_ONLY_ARP

from .floodutil import (
    ECHO_PORT,
    HTTP_PORT,
    Settled,
    echo_ok,
    footprint,
    http_ok,
    ping_ok,
    wait_footprint,
)

# Seconds each flood runs (RINGZERO_FLOOD_S overrides): long enough for
# rates and leaks to show, short enough for the suite to take about two
# minutes on the unikernel under TCG.
FLOOD_S = float(os.environ.get("RINGZERO_FLOOD_S", "10"))
# The wire's end of the target's link queues this many frames (Linux's
# default is 1000): a VM under TCG that stops taking frames for a moment
# (its host busy) would otherwise see the host drop a flood's frames with
# every other frame behind them before its stack sees any. The floods test
# the stack, not the host's queue.
TXQUEUELEN = 10_000
LISTENING = r"^http: listening on port 80\b"


@pytest.fixture
def flood_s() -> float:
    return FLOOD_S


@pytest.fixture(autouse=True)
def quiet_capture(peer: Any, sut: Any) -> None:
    """The peer's capture takes ARP frames only (it answers ARP for its
    virtual hosts from them): a flood is millions of frames, which would
    fill the harness's memory and the pcap and take a CPU from the target.
    The floods count what they need on the wire themselves (ringzero.flood's
    frame counters). After `sut`, which attaches the capture."""
    peer.filter_capture(BPF_ONLY_ARP)


class Service:
    """The target, answering on `port`: its HTTP server where it has one
    (ringzero), else the agent's echo listener (Linux; not on ringzero,
    whose agent keeps a record of every connection it accepted, which
    would read as a leak). check() that it answers; settle() after a
    flood, for its footprint to return to the level taken before."""

    def __init__(self, wire: Any, sut: Any, request: Any, record_property: Any) -> None:
        self.wire = wire
        self.sut = sut
        self.http = sut.target.has("http-server")
        self.port = HTTP_PORT if self.http else ECHO_PORT
        self.before: dict[str, int] = {}
        self._request = request
        self._record = record_property

    def check(self) -> None:
        """ping, and a new TCP connection: an HTTP GET or an echo."""
        tcp = http_ok if self.http else echo_ok
        problems = [ping_ok(self.wire, self.sut.ip), tcp(self.wire, self.sut.ip)]
        found = [p for p in problems if p]
        assert not found, "the service does not answer: " + "; ".join(found)

    def settle(self) -> Settled:
        """The checks, then the wait for the footprint (AssertionError if
        it does not come back); prints and records how it went."""
        self.check()
        settled = wait_footprint(self.sut, self.before)
        print(settled)
        self._record("footprint", str(settled))
        self._request.node.add_report_section("call", "footprint", str(settled))
        return settled


@pytest.fixture
def service(sut: Any, wire: Any, request: Any, record_property: Any) -> Service:
    wire.run(["ip", "link", "set", "dev", sut.link, "txqueuelen", str(TXQUEUELEN)], check=True)
    ns = getattr(sut, "ns", None)
    if ns is not None:
        # Linux's half-open connections: one SYN-ACK retransmission, gone
        # after about 3 s (as tcp_syn_retries=1 does on ringzero).
        netns.sysctls(ns, {"net.ipv4.tcp_synack_retries": "1"})
    svc = Service(wire, sut, request, record_property)
    vm = getattr(sut, "vm", None)
    if vm is not None and svc.http:
        vm.wait_for(LISTENING, timeout=5.0)
    if not svc.http:
        sut.agent.request("tcp_listen", port=ECHO_PORT, mode="echo")
    # The checks once before, so that what they allocate the first time
    # (an ARP entry, the HTTP server's tables) is in the level already.
    svc.check()
    svc.before = _steady_footprint(sut)
    return svc


def _steady_footprint(sut: Any, limit_s: float = 3.0) -> dict[str, int]:
    """The footprint once two readings 0.3 s apart agree (the checks'
    connections closed), or the last after limit_s."""
    last = footprint(sut)
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        time.sleep(0.3)
        now = footprint(sut)
        if now == last:
            break
        last = now
    return last
