"""DNS (RFC 1035) against the target's server: the conformance service
started with "dns=..." answers A queries on UDP port 53 from its records.
Real queries come from `dig` in the wire's namespace; malformed ones are
written byte by byte and sent from a UDP socket there, since dig will not
send them."""

from __future__ import annotations

import re
import socket
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

WWW = ("www.example.test", "10.33.0.50")
MULTI = ("multi.example.test", ["10.33.0.51", "10.33.0.52", "10.33.0.53"])
SPEC = ",".join([f"{WWW[0]}:{WWW[1]}"] + [f"{MULTI[0]}:{ip}" for ip in MULTI[1]])
TTL = 60  # the server's (net/dns_server.hpp)

pytestmark = [pytest.mark.requires("dns-server"), pytest.mark.boot_args(f"dns={SPEC}")]

# Header flags (RFC 1035 §4.1.1).
QR, AA, TC, RD = 0x8000, 0x0400, 0x0200, 0x0100
NOERROR, FORMERR, NXDOMAIN, NOTIMP = 0, 1, 3, 4


# ---- dig ----------------------------------------------------------------------------


@dataclass
class Dig:
    """What dig printed about one response."""

    status: str
    id: int
    flags: set[str]
    # (owner, ttl, class, type, data) per answer record
    answers: list[tuple[str, int, str, str, str]] = field(default_factory=list)


def dig(wire: Any, sut: Any, name: str, qtype: str = "A") -> Dig:
    argv = ["dig", f"@{sut.ip}", name, qtype, "+tries=1", "+time=2", "+norecurse"]
    result = wire.run(argv, timeout=15)
    out = result.stdout + result.stderr
    assert result.returncode == 0, f"`{' '.join(argv)}` failed:\n{out}"
    head = re.search(r"->>HEADER<<- opcode: QUERY, status: (\w+), id: (\d+)", out)
    flags = re.search(r";; flags:([^;]*);", out)
    assert head and flags, f"dig printed no header:\n{out}"
    answers = []
    section = re.search(r";; ANSWER SECTION:\n(.*?)(?:\n\n|\Z)", out, re.S)
    if section:
        for line in section[1].splitlines():
            owner, ttl, klass, rtype, data = line.split(None, 4)
            answers.append((owner, int(ttl), klass, rtype, data))
    return Dig(head[1], int(head[2]), set(flags[1].split()), answers)


# ---- raw queries ----------------------------------------------------------------------


def wire_name(name: str) -> bytes:
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def header(ident: int, flags: int, qd: int = 1, an: int = 0, ns: int = 0, ar: int = 0) -> bytes:
    return struct.pack("!6H", ident, flags, qd, an, ns, ar)


def query(ident: int, name: str, qtype: int = 1, qclass: int = 1, flags: int = RD) -> bytes:
    return header(ident, flags) + wire_name(name) + struct.pack("!HH", qtype, qclass)


@dataclass
class Reply:
    id: int
    flags: int
    rcode: int
    counts: tuple[int, int, int, int]
    raw: bytes


def parse(data: bytes) -> Reply:
    assert len(data) >= 12, f"a reply of {len(data)} bytes"
    ident, flags, qd, an, ns, ar = struct.unpack("!6H", data[:12])
    return Reply(ident, flags, flags & 0xF, (qd, an, ns, ar), data)


@pytest.fixture
def client(wire: Any, sut: Any) -> Iterator[socket.socket]:
    """A UDP socket of the wire's Linux stack, connected to the target's port 53."""
    s = wire.socket_in_ns(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((wire.addr.tools_ip, 0))
    s.connect((sut.ip, 53))
    s.settimeout(3.0)
    yield s
    s.close()


def ask(client: socket.socket, message: bytes) -> Reply:
    client.send(message)
    return parse(client.recv(4096))


def silence(client: socket.socket, seconds: float = 1.0) -> list[bytes]:
    """Whatever arrives within `seconds` (nothing, hopefully)."""
    got = []
    client.settimeout(seconds)
    try:
        while True:
            got.append(client.recv(4096))
    except TimeoutError:
        pass
    finally:
        client.settimeout(3.0)
    return got


def assert_still_answers(client: socket.socket) -> None:
    r = ask(client, query(0x5A5A, WWW[0]))
    assert (r.id, r.rcode, r.counts[1]) == (0x5A5A, NOERROR, 1), r


# ---- answers ------------------------------------------------------------------------


@pytest.mark.rfc(1035, "4.1.1", "MUST")
def test_a_record_is_answered_authoritatively(wire, sut):
    """`dig www.example.test A`: NOERROR, AA, one A record with the
    configured address and TTL, the id dig chose."""
    d = dig(wire, sut, WWW[0])
    assert d.status == "NOERROR"
    assert {"qr", "aa"} <= d.flags and "ra" not in d.flags, d.flags
    assert d.answers == [(WWW[0] + ".", TTL, "IN", "A", WWW[1])]


@pytest.mark.rfc(1035, "4.1.1", "MUST")
def test_the_id_and_question_are_echoed(client):
    """The response carries the query's id, RD, and its question byte for
    byte; the answer points back at the question's name (0xC00C)."""
    q = query(0xBEEF, WWW[0])
    r = ask(client, q)
    assert r.id == 0xBEEF
    assert r.flags & (QR | AA | RD) == QR | AA | RD, hex(r.flags)
    assert r.counts == (1, 1, 0, 0)
    assert r.raw[12 : len(q)] == q[12:]
    rr = r.raw[len(q) :]
    assert rr == b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, TTL, 4) + socket.inet_aton(WWW[1])


@pytest.mark.rfc(1035, "3.2.1", "MUST")
def test_several_a_records_for_one_name(wire, sut):
    """A name configured three times gets three A records in one answer."""
    d = dig(wire, sut, MULTI[0])
    assert d.status == "NOERROR"
    assert sorted(a[4] for a in d.answers) == sorted(MULTI[1])
    assert {(a[0], a[1], a[3]) for a in d.answers} == {(MULTI[0] + ".", TTL, "A")}


@pytest.mark.rfc(1035, "2.3.3", "MUST")
def test_names_match_in_any_case(wire, sut, client):
    """RFC 1035 §2.3.3, RFC 4343: "WwW.ExAmPlE.TeSt" is www.example.test; the
    question comes back in the case it was asked."""
    d = dig(wire, sut, "WwW.ExAmPlE.TeSt")
    assert d.status == "NOERROR"
    assert [a[4] for a in d.answers] == [WWW[1]]
    q = query(7, "WWW.EXAMPLE.TEST")
    r = ask(client, q)
    assert r.raw[12 : len(q)] == q[12:]


@pytest.mark.rfc(1035, "4.1.1", "MUST")
def test_unknown_name_is_nxdomain(wire, sut):
    """A name the server has no records for: NXDOMAIN (RCODE 3), authoritative."""
    d = dig(wire, sut, "nobody.example.test")
    assert d.status == "NXDOMAIN"
    assert "aa" in d.flags
    assert d.answers == []


@pytest.mark.rfc(2308, "2.2", "MUST")
def test_aaaa_of_a_known_name_is_nodata(wire, sut):
    """AAAA for a name that has only A records: NOERROR with an empty
    answer section (NODATA), not NXDOMAIN."""
    d = dig(wire, sut, WWW[0], "AAAA")
    assert d.status == "NOERROR"
    assert "aa" in d.flags
    assert d.answers == []


# ---- malformed queries ---------------------------------------------------------------

MALFORMED = {
    # Name fine, QTYPE and QCLASS cut short.
    "truncated_question": query(0x1001, WWW[0])[:-3],
    # A length byte of 64: neither a label (<= 63) nor a pointer.
    "bad_label_length": header(0x1002, RD) + b"\x03www\x40" + b"x" * 64 + b"\0\0\1\0\1",
    "qdcount_0": header(0x1003, RD, qd=0),
    "qdcount_2": header(0x1004, RD, qd=2) + (wire_name(WWW[0]) + b"\0\1\0\1") * 2,
    # A pointer to itself (offset 12).
    "compression_loop": header(0x1005, RD) + b"\xc0\x0c\0\1\0\1",
    # A label, then a pointer back to that label.
    "compression_loop_via_label": header(0x1006, RD) + b"\x01a\xc0\x0c\0\1\0\1",
    # A pointer forward, into the rest of the message.
    "forward_pointer": header(0x1007, RD) + b"\xc0\x12\0\1\0\1" + wire_name(WWW[0]),
}


@pytest.mark.rfc(1035, "4.1.1", "MUST")
@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_malformed_query_gets_formerr(client, kind):
    """A query whose header is whole but whose question is not: FORMERR
    (RCODE 1) with the query's id, and the server answers the next query."""
    message = MALFORMED[kind]
    r = ask(client, message)
    ident = struct.unpack("!H", message[:2])[0]
    assert r.id == ident
    assert r.flags & QR
    assert r.rcode == FORMERR, f"{kind}: RCODE {r.rcode}"
    assert r.counts[1:] == (0, 0, 0), r.counts
    assert_still_answers(client)


@pytest.mark.rfc(1035, "4.1.1", "MUST")
def test_other_opcodes_are_not_implemented(client):
    """OPCODE 2 (STATUS): NOTIMP (RCODE 4), the opcode copied."""
    r = ask(client, query(0x2002, WWW[0], flags=2 << 11))
    assert r.id == 0x2002
    assert (r.flags >> 11) & 0xF == 2
    assert r.rcode == NOTIMP
    assert r.counts[1] == 0


@pytest.mark.rfc(1035, "4.1.1", "MUST")
def test_a_response_is_not_answered(client):
    """A message with QR set is a response: the server says nothing (an
    answer to it could start a loop between two servers), then goes on
    answering queries."""
    client.send(query(0x3003, WWW[0], flags=QR | AA))
    client.send(header(0x3004, QR | 1, qd=0))
    assert silence(client) == []
    assert_still_answers(client)


@pytest.mark.rfc(1035, "4.1.1", "MUST")
def test_shorter_than_a_header_is_dropped(client):
    """Under 12 bytes there is no id to answer with: nothing comes back."""
    client.send(b"\x12\x34\x01\x00\x00\x01")
    client.send(b"")
    assert silence(client) == []
    assert_still_answers(client)


# ---- load --------------------------------------------------------------------------------


@pytest.mark.rfc(1035, "4.2.1", "MUST")
def test_a_burst_of_1000_queries_loses_none(client):
    """1000 queries, up to 32 in flight at a time, alternating a known and an
    unknown name: each id gets exactly one reply with the right RCODE."""
    n, window = 1000, 32
    pending: dict[int, int] = {}
    replies: dict[int, Reply] = {}
    sent = 0
    deadline = time.monotonic() + 60
    while (sent < n or pending) and time.monotonic() < deadline:
        while sent < n and len(pending) < window:
            name = WWW[0] if sent % 2 else f"nx{sent}.example.test"
            client.send(query(sent, name))
            pending[sent] = NOERROR if sent % 2 else NXDOMAIN
            sent += 1
        try:
            r = parse(client.recv(4096))
        except TimeoutError:
            break
        assert r.id not in replies, f"two replies to id {r.id}"
        replies[r.id] = r
        assert r.rcode == pending.pop(r.id), r
    assert not pending, f"{len(pending)} of {n} queries unanswered: {sorted(pending)[:10]}"
    assert len(replies) == n
