"""Initial sequence numbers (RFC 6528; RFC 9293 §3.4.1): ISN = M + F(4-tuple,
secret), M a clock, F a keyed hash. From the wire that shows as ISNs of
different 4-tuples unrelated to each other (spread over the whole
sequence space, successive ones far apart however close in time), and
ISNs of one 4-tuple growing with the time between them at a steady rate
(at least the 4 microsecond tick of RFC 9293; Linux's clock ticks every
64 ns).

The target's ISN is the sequence number of its SYN-ACK (passive) or SYN
(active); each half-open connection is reset once its ISN is known."""

from __future__ import annotations

import itertools
import time

import pytest
from ringzero.net.tcp import MOD, Seg, TcpPeer, seq_diff

pytestmark = pytest.mark.requires("tcp")

PORT = 5000
NEAR = 1 << 20  # "near": within 1/4096 of the sequence space


def syn_ack_isn(peer, sut, **kw) -> Seg:
    """Our SYN to the listener, its SYN-ACK (returned), our RST."""
    c = TcpPeer(peer, sut, remote_port=PORT, **kw)
    c.send_syn()
    synack = c.expect_syn_ack()
    c.reset()
    return synack


def assert_unrelated(isns: list[int], buckets: int) -> None:
    """Distinct, in every one of `buckets` equal parts of the sequence
    space, and successive ones (in the order the connections were made)
    rarely near each other."""
    assert len(set(isns)) == len(isns), "the same ISN twice: " + str(sorted(isns))
    used = {isn * buckets // MOD for isn in isns}
    assert used == set(range(buckets)), (
        f"{len(isns)} ISNs fall in only {len(used)} of {buckets} parts of the sequence space"
    )
    steps = [seq_diff(b, a) for a, b in itertools.pairwise(isns)]
    near = [d for d in steps if abs(d) < NEAR]
    assert len(near) <= len(steps) // 10, (
        f"{len(near)} of {len(steps)} successive ISNs within {NEAR} of each other: {near[:10]}"
    )


@pytest.mark.rfc(6528, "3", "SHOULD")
@pytest.mark.tcp_req("SHLD-1", "MUST-9")
def test_isns_of_many_connections_are_unrelated(peer, sut, tgt, record_property):
    """200 SYNs from 200 ports, in batches of 40, to one listener: the 200
    ISNs of the SYN-ACKs are all different, cover all eight eighths of the
    32-bit space, and successive ones are far apart (a clock alone, or a
    counter with small random steps, would put them close together)."""
    tgt.listen(PORT, backlog=64)
    isns: list[int] = []
    started = time.time()
    for _ in range(5):
        conns = [TcpPeer(peer, sut, remote_port=PORT) for _ in range(40)]
        for c in conns:
            c.send_syn()
        for c in conns:
            isns.append(c.expect_syn_ack().seq)
        for c in conns:
            c.reset()
    record_property("isn_sample", f"{len(isns)} ISNs in {time.time() - started:.1f} s")
    assert_unrelated(isns, 8)


@pytest.mark.rfc(6528, "3", "SHOULD")
@pytest.mark.tcp_req("SHLD-1", "MUST-9")
def test_isns_of_the_targets_own_connections_are_unrelated(peer, sut, tgt):
    """The target opens 30 connections to 30 of our ports: the ISNs of its
    SYNs are all different, in both halves of the sequence space, and
    successive ones far apart. (Each attempt is refused once seen.)"""
    isns = []
    for _ in range(30):
        c = TcpPeer(peer, sut)
        tgt.connect(c.ip, c.port)
        syn = c.expect_syn()
        isns.append(syn.seq)
        c.send(flags="RA", seq=0)
    assert_unrelated(isns, 2)


@pytest.mark.rfc(6528, "3", "SHOULD")
@pytest.mark.tcp_req("MUST-8", "SHLD-1")
def test_isn_of_one_four_tuple_follows_a_clock(peer, sut, tgt, record_property):
    """The same 4-tuple three times, 300 ms then 600 ms apart (each
    half-open connection reset at once): its ISN grows by the time between,
    at one steady rate (the keyed part is the same each time), of at least
    250 per millisecond (RFC 9293's 4 microsecond clock)."""
    tgt.listen(PORT)
    port = TcpPeer(peer, sut, remote_port=PORT).port
    segs = [syn_ack_isn(peer, sut, port=port)]
    for pause in (0.3, 0.6):
        time.sleep(pause)
        segs.append(syn_ack_isn(peer, sut, port=port))
    rates = []
    for a, b in itertools.pairwise(segs):
        grew = seq_diff(b.seq, a.seq)
        assert grew > 0, f"the ISN of one 4-tuple went back, from {a.seq} to {b.seq}"
        rates.append(grew / (b.time - a.time))
    record_property("isn_clock", f"{rates[0]:.0f} and {rates[1]:.0f} per second")
    tol = TcpPeer(peer, sut).timing.relative
    assert min(rates) >= 250_000 * (1 - tol), f"the ISN clock ticks {rates} times a second"
    assert abs(rates[0] - rates[1]) <= 2 * tol * max(rates), (
        f"the ISN grew at {rates[0]:.0f} then at {rates[1]:.0f} a second: not one clock"
    )


@pytest.mark.rfc(6528, "3", "SHOULD")
@pytest.mark.tcp_req("SHLD-1", "MUST-9")
def test_isns_for_other_hosts_on_the_same_ports_are_unrelated(peer, sut, tgt):
    """Five of our hosts, one source port, one after the other: the
    4-tuples differ only in the remote address, and the ISNs of hosts 1 to
    4 differ from host 0's by far more than the clock moved meanwhile
    (host 0 again, last, shows how much): the address goes into the keyed
    hash. (One of the four may fall near by chance, 1 in 2000.)"""
    tgt.listen(PORT)
    port = TcpPeer(peer, sut, remote_port=PORT).port
    first = syn_ack_isn(peer, sut, port=port, host=0)
    others = [syn_ack_isn(peer, sut, port=port, host=h) for h in (1, 2, 3, 4)]
    last = syn_ack_isn(peer, sut, port=port, host=0)
    clock = abs(seq_diff(last.seq, first.seq))
    near = [s for s in others if abs(seq_diff(s.seq, first.seq)) <= max(16 * clock, NEAR)]
    assert len(near) <= 1, (
        f"host 0's ISN {first.seq} (then {last.seq}); hosts 1 to 4: "
        + ", ".join(str(s.seq) for s in others)
    )
