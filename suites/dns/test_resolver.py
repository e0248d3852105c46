"""The target's stub resolver (RFC 1035 §7, RFC 1123 §6.1.3): lookups
through the agent's `resolve`, against real dnsmasq in the wire namespace
and against a name server the Scapy peer plays (silent, or answering
wrong)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ringzero.net.dnsmasq import Dnsmasq
from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

NAME, NAME_IP = "svc.example.test", "10.33.0.77"
SILENT = 4  # the virtual host that plays a name server (10.33.0.14)

pytestmark = [
    pytest.mark.requires("dns-resolver"),
    pytest.mark.boot_args("nameserver=10.33.0.1"),
]


@pytest.fixture
def dnsmasq(wire: Any, sut: Any, artifacts: Path) -> Iterator[Dnsmasq]:
    """dnsmasq answering DNS on the tools address: one name, NXDOMAIN for
    the rest of example.test."""
    args = [
        f"--interface={sut.link}",
        "--bind-interfaces",
        f"--host-record={NAME},{NAME_IP}",
        "--local=/example.test/",
        "--log-queries",
    ]
    with Dnsmasq(wire, artifacts / "dnsmasq.log", args) as d:
        yield d


def resolve(sut: Any, name: str, timeout: float = 10.0) -> dict[str, Any]:
    return sut.agent.call("resolve", {"name": name}, timeout=timeout)


QUERY = Ether() / IP() / UDP(dport=53)  # (the DNS layer is checked by the tests)


@pytest.mark.rfc(1123, "6.1.3.1", "MUST")
def test_a_name_resolves_through_dnsmasq(sut, dnsmasq):
    """A lookup sends a query to the configured server and returns the
    address of the A record."""
    r = resolve(sut, NAME)
    assert r.get("address") == NAME_IP, r
    assert f"query[A] {NAME}" in dnsmasq.log_text()


@pytest.mark.rfc(1035, "4.1.1", "MUST")
def test_nxdomain_is_reported_as_such(sut, dnsmasq):
    """A name that does not exist (RCODE 3) is reported as nxdomain, not
    as a timeout or an address."""
    assert resolve(sut, "nope.example.test").get("error") == "nxdomain"


@pytest.mark.boot_args("nameserver=10.33.0.14")
@pytest.mark.rfc(1123, "6.1.3.3", "MUST")
def test_unanswered_queries_are_retransmitted_with_backoff(peer, sut):
    """A silent server: the query goes again after 1 s and 2 s more (the
    interval doubles), with the same id from the same port, and the lookup
    ends in a timeout instead of hanging."""
    r = resolve(sut, NAME, timeout=15.0)
    assert r.get("error") == "timeout", r
    sent = [p for p in peer.from_target(QUERY) if p.haslayer(DNS) and p[DNS].qr == 0]
    assert len(sent) == 3, [p.summary() for p in sent]
    assert {p[IP].dst for p in sent} == {peer.host(SILENT).ip}
    assert len({p[DNS].id for p in sent}) == 1 and len({p[UDP].sport for p in sent}) == 1
    gaps = [b.time - a.time for a, b in itertools.pairwise(sent)]
    assert 0.8 <= gaps[0] <= 1.5 and 1.8 <= gaps[1] <= 2.6, gaps
    assert sent[0][UDP].sport >= 49152  # an ephemeral port, not 53


@pytest.mark.boot_args("nameserver=10.33.0.14")
@pytest.mark.rfc(5452, "9.1", "MUST")
def test_replies_that_do_not_match_the_query_are_ignored(peer, sut):
    """Forged answers - a wrong id, another question, or from another
    address - are dropped; the answer that matches the query is taken."""
    server, forger = peer.host(SILENT), peer.host(5)
    # The lookup runs in a thread: its reply comes when the answer does.
    result: dict[str, Any] = {}
    t = threading.Thread(target=lambda: result.update(resolve(sut, NAME)))
    t.start()
    q = peer.expect(QUERY, timeout=3.0)
    assert q is not None, "no query"

    def answer(ident: int, qname: str, src: Any, ip: str) -> Any:
        return (
            Ether(src=src.mac, dst=sut.mac)
            / IP(src=src.ip, dst=sut.ip)
            / UDP(sport=53, dport=q[UDP].sport)
            / DNS(
                id=ident,
                qr=1,
                aa=1,
                rd=q[DNS].rd,
                qd=DNSQR(qname=qname),
                an=DNSRR(rrname=qname, type="A", ttl=60, rdata=ip),
            )
        )

    peer.send(
        answer(q[DNS].id ^ 1, NAME, server, "10.0.0.1"),  # wrong id
        answer(q[DNS].id, "other.example.test", server, "10.0.0.2"),  # wrong question
        answer(q[DNS].id, NAME, forger, "10.0.0.3"),  # wrong server
        answer(q[DNS].id, NAME, server, NAME_IP),  # the one
    )
    t.join(timeout=12)
    assert result.get("address") == NAME_IP, result
    stats = sut.agent.request("stats")["counters"]
    assert stats["resolver.drop.unknown_id"] == 1
    assert stats["resolver.drop.wrong_question"] == 1
    assert stats["resolver.drop.wrong_source"] == 1
    assert stats["resolver.answers"] == 1
