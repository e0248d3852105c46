"""Bounded floods against the target, each for RINGZERO_FLOOD_S seconds
(10 by default), from the wire's namespace with ringzero.flood: ICMP echo
(ping -f), ARP (arping, and prebuilt frames at full speed), TCP SYN
(hping3 from spoofed addresses), HTTP with a new connection per request
(httperf) and HTTP keep-alive (wrk), then all of them at once. After each:
the service still answers (ping, and a new TCP connection: an HTTP GET on
ringzero, the agent's TCP echo on Linux), nothing was lost that should
not have been, and the target's footprint (ringzero's
heap; the Linux namespace's TCP sockets) is back at its level before the
flood: nothing leaked, no half-open connection stayed.

What "nothing lost" means per flood:
- ping -f: every echo request sent has its reply on the wire (counted on
  the link after ping ends, so the one in flight at ping's deadline counts).
- arping: every request sent has its reply on the wire.
- ARP frames at full speed: the link takes only what it can queue (the
  rest is refused at the sender and not counted as sent); of what it
  took, every request is answered except replies the target itself
  counted as dropped on the way out (its device queue full).
- SYN flood: nothing is owed to spoofed SYNs (RFC 4987); the listener
  must still accept afterwards and hold nothing once its SYN-ACKs give up.
- httperf and wrk: every request gets a 2xx response, no connection or
  socket error.

The link's queue on the wire side is deepened (conftest.TXQUEUELEN), and
the ringzero target gives up on half-open connections after one SYN-ACK
retransmission (tcp_syn_retries=1, about 3 s; net.ipv4.tcp_synack_retries=1
on Linux) so that the footprint returns in seconds, not minutes; TIME-WAIT
lasts 2 s (tcp_msl=1) should the server close first anywhere.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from ringzero import flood
from ringzero.flood import FloodResult

from .floodutil import HTTP_PORT, Snapshot, http_stats, report

pytestmark = pytest.mark.boot_args("http=80", "tcp_syn_retries=1", "tcp_msl=1")


def tcg(sut: Any) -> bool:
    return getattr(sut, "accel", None) == "tcg"


def rate_from_env(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


# New HTTP connections a second for httperf (an open loop: it does not
# slow down when the server does). Under TCG on an idle host the server
# takes 500 a second (2 ms each); on a host busy with other VMs and
# compilers, the guest gets a fraction of a CPU, connections pile up past
# the 48 a 64 MiB guest serves at once, and the rest get 503 (an error
# here): 100 a second collapsed so on this project's 2-CPU machines.
def http_rate(sut: Any) -> int:
    return rate_from_env("RINGZERO_FLOOD_HTTP_RATE", 25 if tcg(sut) else 500)


# wrk's keep-alive connections.
KEEPALIVE_CONNECTIONS = 8


# SYNs a second when all floods run at once: well under what a TCG guest
# takes (25,000 to 50,000 frames a second here), so that the others'
# frames are not queued behind a backlog the guest cannot drain.
def combined_syn_pps(sut: Any) -> int:
    return rate_from_env("RINGZERO_FLOOD_SYN_PPS", 1000 if tcg(sut) else 10000)


def at_least(result: FloodResult, per_s: float) -> None:
    """The flood was a flood: at least per_s a second sent."""
    assert result.rate >= per_s, f"too slow to mean anything (< {per_s:g}/s): {result.summary()}"


# ---- ICMP ---------------------------------------------------------------------------------


@pytest.mark.rfc(1122, "3.2.2.6", "MUST")
def test_ping_flood_gets_every_echo_answered(wire, sut, service, flood_s, request, record_property):
    """ping -f for the flood's length: every echo request has its reply on
    the wire, then the service answers and the footprint is back."""
    before = Snapshot(wire, sut)
    r = flood.icmp_flood(wire, sut.ip, flood_s, link=sut.link).wait()
    lines, _, _ = before.lines()
    report(request, record_property, *lines, results=[r])
    service.settle()
    at_least(r, 100)  # ping -f's own floor
    assert r.errors == 0, r.summary()
    assert r.answered == r.sent, f"{r.sent - r.answered} echo requests unanswered: {r.summary()}"


# ---- ARP ----------------------------------------------------------------------------------


@pytest.mark.rfc(826, "Packet Reception", "MUST")
def test_arping_flood_gets_every_request_answered(
    wire, sut, service, flood_s, request, record_property
):
    """arping as fast as it goes: every request has its reply on the wire."""
    before = Snapshot(wire, sut)
    r = flood.arp_flood(wire, sut.ip, flood_s, link=sut.link).wait()
    lines, _, _ = before.lines()
    report(request, record_property, *lines, results=[r])
    service.settle()
    at_least(r, 100)
    assert r.answered == r.sent, f"{r.sent - r.answered} ARP requests unanswered: {r.summary()}"


@pytest.mark.rfc(826, "Packet Reception", "MUST")
def test_arp_frame_flood_at_full_speed_is_answered(
    wire, sut, service, flood_s, request, record_property
):
    """Who-has requests from the wire's 64 virtual hosts, prebuilt and sent
    as fast as one AF_PACKET socket goes (far more than a TCG guest
    takes): every request the link took is answered, but for replies the
    target counted as dropped itself; its ARP cache (64 new entries)
    expires and the footprint is back."""
    before = Snapshot(wire, sut)
    r = flood.arp_flood(wire, sut.ip, flood_s, tool="scapy", link=sut.link).wait()
    lines, dropped, _ = before.lines()
    report(request, record_property, *lines, results=[r])
    service.settle()
    at_least(r, 1000)
    lost = r.sent - r.answered
    assert lost <= dropped, (
        f"{lost} requests unanswered, {dropped} of them counted by the target: {r.summary()}"
    )


# ---- TCP SYN ------------------------------------------------------------------------------


@pytest.mark.rfc(9293, "7", "MAY")
def test_syn_flood_leaves_no_half_open_connections(
    wire, sut, service, flood_s, request, record_property
):
    """hping3 --flood --rand-source against the service's listener (HTTP
    on ringzero, the agent's echo on Linux): SYNs from
    addresses that never answer the SYN-ACKs (RFC 4987's attack; RFC
    9293 7 leaves the defence to the implementation). Afterwards the
    listener accepts at once, and once the half-open connections have
    given up (one retransmission) the footprint is back."""
    before = Snapshot(wire, sut)
    r = flood.syn_flood(wire, sut.ip, service.port, flood_s, link=sut.link).wait()
    lines, _, _ = before.lines()
    report(request, record_property, *lines, results=[r])
    service.settle()
    at_least(r, 1000)


# ---- HTTP ---------------------------------------------------------------------------------


@pytest.mark.requires("http-server")
@pytest.mark.rfc(9110, "9.3.1", "MUST")
def test_http_connection_flood_has_no_errors(wire, sut, service, flood_s, request, record_property):
    """httperf: a new connection per GET /hello at a fixed rate; every
    request answered 200, no error of any kind."""
    before = Snapshot(wire, sut)
    rate = http_rate(sut)
    r = flood.http_conn_flood(wire, sut.ip, HTTP_PORT, flood_s, rate=rate).wait()
    lines, _, _ = before.lines()
    report(request, record_property, *lines, results=[r])
    service.settle()
    assert r.sent == round(rate * flood_s), r.summary()
    assert (r.errors, r.answered) == (0, r.sent), r.summary()


@pytest.mark.requires("http-server")
@pytest.mark.rfc(9112, "9.3", "MUST")
def test_http_keepalive_flood_has_no_errors(wire, sut, service, flood_s, request, record_property):
    """wrk: KEEPALIVE_CONNECTIONS persistent connections, each with the
    next GET /hello as soon as the response came; every response 2xx, no
    socket error."""
    before = Snapshot(wire, sut)
    r = flood.http_keepalive_flood(
        wire, sut.ip, HTTP_PORT, flood_s, connections=KEEPALIVE_CONNECTIONS
    ).wait()
    lines, _, _ = before.lines()
    report(request, record_property, *lines, results=[r])
    service.settle()
    at_least(r, 100)
    assert (r.errors, r.answered) == (0, r.sent), r.summary()


# ---- everything at once ---------------------------------------------------------------


@pytest.mark.rfc(1122, "3.2.2.6", "MUST")
@pytest.mark.rfc(826, "Packet Reception", "MUST")
@pytest.mark.rfc(9293, "7", "MAY")
@pytest.mark.rfc(9110, "9.3.1", "MUST")
def test_all_floods_at_once(wire, sut, service, flood_s, request, record_property):
    """ping -f, arping, a SYN flood (at combined_syn_pps, against the HTTP
    port where there is one), httperf and wrk together (the HTTP floods
    where the target serves HTTP): every echo and ARP request that reached
    the target answered (the link may drop what the guest cannot take in
    time, and counts it), every HTTP request answered: 200, or 503 for
    the connections the server refused at its cap, with no other error;
    then the service answers and the footprint is back."""
    syn_pps = combined_syn_pps(sut)
    before = Snapshot(wire, sut)
    http_before = http_stats(wire, sut.ip) if service.http else None
    floods = [
        flood.icmp_flood(wire, sut.ip, flood_s, link=sut.link),
        flood.arp_flood(wire, sut.ip, flood_s, link=sut.link),
        flood.syn_flood(wire, sut.ip, service.port, flood_s, pps=syn_pps, link=sut.link),
    ]
    if service.http:
        rate = http_rate(sut) // 2
        floods.append(flood.http_conn_flood(wire, sut.ip, HTTP_PORT, flood_s, rate=rate))
        floods.append(
            flood.http_keepalive_flood(
                wire, sut.ip, HTTP_PORT, flood_s, connections=KEEPALIVE_CONNECTIONS // 2
            )
        )
    try:
        results = [f.wait() for f in floods]
    finally:
        for f in floods:
            f.stop()
    changes = before.changes()
    lines, _, link_dropped = before.lines(changes)
    report(request, record_property, *lines, results=results)
    service.settle()
    by_kind = {r.kind: r for r in results}
    icmp, arp = by_kind["icmp"], by_kind["arp"]
    # Five floods at once can outrun a guest that gets a fraction of a
    # host CPU (TCG on a busy host): the link's queue toward it fills and
    # the link drops frames, which never reach the target and so are owed
    # no answer (RFC 1122 3.2.2.6 and RFC 826 are about what is
    # received). Every request the link did not count as dropped must be
    # answered; with no link drops, every request.
    lost = (icmp.sent - icmp.answered) + (arp.sent - arp.answered)
    assert lost <= link_dropped, (
        f"{lost} echo and ARP requests unanswered, but the link dropped only "
        f"{link_dropped} frames on the way to the target: {icmp.summary()}; {arp.summary()}"
    )
    echo_seen = changes[0].get("icmp.rx.echo_requests")
    if echo_seen is not None:  # ringzero counts what reached it
        assert icmp.answered == echo_seen, (
            f"the target counted {echo_seen} echo requests, {icmp.answered} were answered "
            f"on the wire: {icmp.summary()}"
        )
    if "http-keepalive" in by_kind:
        h = by_kind["http-keepalive"]
        assert (h.errors, h.answered) == (0, h.sent), h.summary()
    if "http-conn" in by_kind:
        # httperf opens new connections at a fixed rate whatever the server
        # does. With the guest starved by the other floods (and its SYN-ACKs
        # behind the SYN flood's), they can pile up past the server's
        # connection cap, and it answers those 503 with Connection: close
        # (RFC 9110 15.6.4: temporary overload) rather than take more than
        # it can hold. Every request must be answered, and the only errors
        # allowed are those 503s, each one counted by the server as
        # refused at its cap (test_http_connection_flood_has_no_errors,
        # alone, allows none).
        h = by_kind["http-conn"]
        assert http_before is not None
        refused = (
            http_stats(wire, sut.ip)["connections_refused"] - http_before["connections_refused"]
        )
        d = h.detail
        assert d["replies"] == h.sent, f"{h.sent - d['replies']} requests unanswered: {h.summary()}"
        assert h.errors == d["status_5xx"] == refused, (
            f"errors other than the server's refusals at its cap ({refused}): {h.summary()}"
        )
