"""Connection management (RFC 9112 9): persistent connections counted on
the wire (SYNs and responses in the capture), HTTP/1.0 and "Connection:
close", pipelining, the header and idle timeouts, and the connection
limit. The timers are shortened on the command line (http_header_timeout,
http_idle_timeout: the server checks them every 250 ms)."""

from __future__ import annotations

import select
import socket
import struct
import threading
import time
from collections.abc import Callable

import pytest

from .http_client import (
    PORT,
    Conn,
    Response,
    client_syns,
    pattern,
    request,
    responses_in,
    segments,
    server_payloads,
    stats,
)

pytestmark = [pytest.mark.requires("http-server"), pytest.mark.boot_args("http=80")]

HELLO = b"Hello from ringzero\n"
POST = b"POST /echo HTTP/1.1\r\nHost: ringzero\r\n"
TICK = 0.25  # how often the server looks at its timers


# ---- persistence, counted on the wire ---------------------------------------------------


@pytest.mark.rfc(9112, "9.3", "MUST")
def test_keep_alive_one_syn_for_five_requests(curl, peer, sut):
    """curl with five URLs: one connection (exactly one SYN to port 80 in
    the capture), five responses (five server segments starting a status
    line), five 200s with the right bodies."""
    paths = ["/hello", "/bytes/100", "/hello", "/", "/bytes/3000"]
    c = curl(paths=paths)
    assert c.returncode == 0, c.stderr
    assert c.codes == [200] * 5
    assert c.bodies[0] == c.bodies[2] == HELLO
    assert c.bodies[1] == pattern(100) and c.bodies[4] == pattern(3000)
    assert c.connects == 1, c.written
    syns = client_syns(peer, sut)
    assert len(syns) == 1, f"{len(syns)} SYNs: {[str(s) for s in syns]}"
    starts = [s for s in server_payloads(peer, sut) if s.payload.startswith(b"HTTP/1.1 ")]
    assert len(starts) == 5, [s.payload[:40] for s in starts]
    assert {s.dport for s in starts} == {syns[0].sport}


@pytest.mark.rfc(9112, "9.3", "MUST")
def test_http11_persists_by_default(connect):
    """HTTP/1.1 without a Connection field: no "close" in the responses,
    and three requests one after another on one connection are answered."""
    c = connect()
    for path, body in (("/hello", HELLO), ("/bytes/7", pattern(7)), ("/hello", HELLO)):
        r = c.request(request("GET", path))
        assert (r.status, r.body) == (200, body), str(r)
        assert not r.closes, str(r)


@pytest.mark.rfc(9112, "9.6", "MUST")
def test_connection_close_from_the_client(connect, peer, sut):
    """A request with Connection: close: the response carries the "close"
    option and the server closes: its FIN, in the capture, right after the
    response's last octet (same sequence number), nothing after it."""
    c = connect()
    port = c.sock.getsockname()[1]
    r = c.request(request("GET", "/hello", headers=[("Connection", "close")]))
    assert (r.status, r.body) == (200, HELLO)
    assert r.closes, str(r)
    assert c.closed_by_server(), "no FIN after the response to a Connection: close request"
    mine = [s for s in segments(peer) if s.src == sut.ip and s.sport == PORT and s.dport == port]
    data_end = max(s.seq + len(s.payload) for s in mine if s.payload) % (1 << 32)
    fins = {(s.seq + len(s.payload)) % (1 << 32) for s in mine if s.fin}
    assert fins == {data_end}, f"FIN at {fins}, the data ends at {data_end}"


@pytest.mark.rfc(9112, "9.6", "MUST")
@pytest.mark.parametrize("value", ["CLOSE", "keep-alive, close", "Upgrade, Close"])
def test_close_option_in_any_case_or_list(connect, value):
    """Connection options are case-insensitive tokens in a list: "CLOSE",
    "keep-alive, close", "Upgrade, Close" all end the connection after
    the response, which says close."""
    c = connect()
    r = c.request(request("GET", "/hello", headers=[("Connection", value)]))
    assert (r.status, r.body) == (200, HELLO), str(r)
    assert r.closes, str(r)
    assert c.closed_by_server(), f"Connection: {value} and the connection stayed open"


@pytest.mark.rfc(9112, "9.6", "MUST")
def test_half_closed_client_gets_its_response(connect):
    """A request, then the client's FIN (shutdown for writing, as `nc -N`
    does): the request is answered, then the server closes too."""
    c = connect()
    c.send(request("GET", "/hello"))
    c.sock.shutdown(socket.SHUT_WR)
    got = responses_in(c.read_until_eof())
    assert [(r.status, r.body) for r in got] == [(200, HELLO)], [str(r) for r in got]


@pytest.mark.rfc(9112, "9.3", "MUST")
def test_http10_closes_after_the_response(connect):
    """HTTP/1.0 without keep-alive: the response says Connection: close and
    the server closes after it."""
    c = connect()
    r = c.request(b"GET /hello HTTP/1.0\r\n\r\n")
    assert (r.status, r.body) == (200, HELLO), str(r)
    assert r.closes, str(r)
    assert c.closed_by_server()


@pytest.mark.rfc(9112, "9.3", "MAY")
def test_http10_keep_alive_persists(connect):
    """HTTP/1.0 with Connection: keep-alive: the response says keep-alive
    too and the connection takes a second request."""
    c = connect()
    ask = b"GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
    r = c.request(ask)
    assert (r.status, r.body) == (200, HELLO), str(r)
    assert (r.header("Connection") or "").lower() == "keep-alive", str(r)
    r = c.request(ask)
    assert (r.status, r.body) == (200, HELLO), str(r)


# ---- pipelining ------------------------------------------------------------------------


@pytest.mark.rfc(9112, "9.3.2", "MUST")
def test_pipelined_requests_answered_in_order(connect, peer, sut):
    """Six requests of different kinds in one send(): six responses, in the
    order of the requests, each its own (parsed by Content-Length), on the
    one connection (one SYN in the capture)."""
    asks = [
        (request("GET", "/bytes/500"), pattern(500), False),
        (request("GET", "/hello"), HELLO, False),
        (request("HEAD", "/bytes/77"), b"", True),
        (request("POST", "/echo", body=b"pipelined body"), b"pipelined body", False),
        (request("GET", "/bytes/3"), pattern(3), False),
        (request("GET", "/nowhere"), None, False),
    ]
    c = connect()
    c.send(b"".join(a[0] for a in asks))
    got = [c.read_response(head_only=head) for _, _, head in asks]
    assert [r.status for r in got] == [200, 200, 200, 200, 200, 404]
    for (_, body, _), r in zip(asks, got, strict=True):
        if body is not None:
            assert r.body == body, str(r)
    assert got[2].content_length == 77
    assert len(client_syns(peer, sut)) == 1


@pytest.mark.rfc(9112, "9.3.2", "MUST")
def test_hundred_pipelined_requests(connect):
    """100 requests for /bytes/i (i = 0..99) in one send(): 100 responses,
    response i with i octets."""
    c = connect()
    c.send(b"".join(request("GET", f"/bytes/{i}") for i in range(100)))
    for i in range(100):
        r = c.read_response()
        assert (r.status, r.body) == (200, pattern(i)), f"response {i}: {r}"


@pytest.mark.rfc(9112, "9.3.2", "MUST")
def test_pipelined_large_responses_read_late(connect):
    """24 pipelined GET /bytes/65536 from a client that reads nothing for a
    second: reading then, all 24 come whole and in order."""
    c = connect(timeout=30.0)
    c.send(b"".join(request("GET", "/bytes/65536") for _ in range(24)))
    time.sleep(1.0)
    for i in range(24):
        r = c.read_response()
        assert (r.status, len(r.body)) == (200, 65536), f"response {i}: {r}"
        assert r.body == pattern(65536), f"response {i} differs from the pattern"


@pytest.mark.rfc(9112, "9.3.2", "MUST")
def test_pipelining_client_that_never_reads_is_pushed_back(connect, wire, sut):
    """400 pipelined POST /echo of 16 KiB each (6.4 MiB of responses) from a
    client that reads nothing: the server stops reading once 64 KiB of
    responses wait unsent, so the client cannot send them all (TCP pushes
    back) and the server's heap grows by far less than the 6.4 MiB. When
    the client then reads, all 400 come back in order."""
    n, size = 400, 16384
    bodies = [i.to_bytes(4, "big") * (size // 4) for i in range(n)]
    data = b"".join(request("POST", "/echo", body=b) for b in bodies)
    before = stats(wire, sut.ip)["heap"]["in_use"]
    c = connect(timeout=60.0)
    c.sock.setblocking(False)
    sent, last = 0, time.monotonic()
    while sent < len(data) and time.monotonic() - last < 1.0:
        try:
            sent += c.sock.send(data[sent : sent + 65536])
            last = time.monotonic()
        except BlockingIOError:
            select.select([], [c.sock], [], 0.2)
    during = stats(wire, sut.ip)
    grown = during["heap"]["in_use"] - before
    assert sent < len(data), f"all {len(data)} octets went out: nothing pushed back"
    assert grown < 2 << 20, f"the heap grew by {grown} octets while the client did not read"
    got: list[Response] = []
    reader = threading.Thread(target=lambda: got.extend(c.read_response() for _ in range(n)))
    c.sock.setblocking(True)
    c.sock.settimeout(60.0)
    reader.start()
    c.send(data[sent:])
    reader.join(timeout=120.0)
    assert not reader.is_alive(), f"{len(got)} of {n} responses"
    assert [r.status for r in got] == [200] * n
    for i, r in enumerate(got):
        assert r.body == bodies[i], f"response {i} is not body {i}"


@pytest.mark.rfc(9112, "9.6", "MUST")
def test_request_pipelined_after_close_is_not_answered(connect):
    """GET /hello with Connection: close, then GET /bytes/5 in the same
    send(): one response (with close), then the end of the stream; the
    second request gets nothing (MUST NOT process further requests)."""
    c = connect()
    c.send(request("GET", "/hello", headers=[("Connection", "close")]) + request("GET", "/bytes/5"))
    rest = c.read_until_eof()
    got = responses_in(rest)
    assert len(got) == 1, f"{len(got)} responses: {[str(r) for r in got]}"
    assert (got[0].status, got[0].body) == (200, HELLO)
    assert got[0].closes


@pytest.mark.rfc(9112, "9.6", "MUST")
def test_request_pipelined_after_an_error_is_not_answered(connect):
    """A request without Host, then a good one in the same send(): the 400
    (with close) and nothing for the second."""
    c = connect()
    c.send(request("GET", "/hello", host=None) + request("GET", "/hello"))
    got = responses_in(c.read_until_eof())
    assert [r.status for r in got] == [400], [str(r) for r in got]
    assert got[0].closes


# ---- timeouts --------------------------------------------------------------------------

HEADER_TIMEOUT_MS = 1000
IDLE_TIMEOUT_MS = 1000


@pytest.mark.boot_args(f"http_header_timeout={HEADER_TIMEOUT_MS}")
@pytest.mark.rfc(9110, "15.5.9", "SHOULD")
def test_slow_header_section_gets_408_and_close(connect, slow):
    """Half a header section, then nothing: 408 Request Timeout with
    Connection: close once http_header_timeout (1 s) passed, then the
    server closes."""
    c = connect()
    c.send(b"GET /hello HTTP/1.1\r\nHost: ringzero\r\n")
    start = time.monotonic()
    r = c.read_response(timeout=(HEADER_TIMEOUT_MS / 1000 + TICK) * slow + 3.0)
    waited = time.monotonic() - start
    assert r.status == 408 and r.reason == "Request Timeout", str(r)
    assert r.closes, str(r)
    assert waited >= HEADER_TIMEOUT_MS / 1000 - TICK, f"408 after only {waited:.2f} s"
    assert c.closed_by_server()
    assert_still_serves(connect)


@pytest.mark.boot_args(f"http_header_timeout={HEADER_TIMEOUT_MS}")
@pytest.mark.rfc(9110, "15.5.9", "SHOULD")
def test_header_section_dripping_still_times_out(connect, slow):
    """A header section one octet every 200 ms (a slowloris client: each
    octet is activity, but the whole section must come within the 1 s
    header timeout): 408 and close while the section is still coming."""
    c = connect()
    data = b"GET /hello HTTP/1.1\r\nHost: ringzero\r\nX-Slow: " + b"s" * 60 + b"\r\n\r\n"
    start = time.monotonic()
    sent = 0
    while sent < len(data) - 4:  # never the end of the section
        c.send(data[sent : sent + 1])
        sent += 1
        if select.select([c.sock], [], [], 0.2)[0]:
            break
    waited = time.monotonic() - start
    r = c.read_response()
    assert r.status == 408, f"after {sent} of {len(data)} octets in {waited:.1f} s: {r}"
    assert r.closes
    assert waited < (3 * HEADER_TIMEOUT_MS / 1000 + TICK) * slow, f"408 only after {waited:.1f} s"
    assert c.closed_by_server()


@pytest.mark.boot_args(f"http_idle_timeout={IDLE_TIMEOUT_MS}")
@pytest.mark.rfc(9112, "9.5", "SHOULD")
def test_idle_keep_alive_connection_is_closed(connect, slow):
    """A request answered, then silence: after http_idle_timeout (1 s) the
    server closes the connection gracefully (FIN), sending nothing."""
    c = connect()
    r = c.request(request("GET", "/hello"))
    assert r.status == 200 and not r.closes
    start = time.monotonic()
    assert c.closed_by_server(timeout=(IDLE_TIMEOUT_MS / 1000 + TICK) * slow + 3.0), (
        "the idle connection is still open"
    )
    waited = time.monotonic() - start
    assert waited >= IDLE_TIMEOUT_MS / 1000 - TICK, f"closed after only {waited:.2f} s"


@pytest.mark.boot_args(f"http_idle_timeout={IDLE_TIMEOUT_MS}")
@pytest.mark.rfc(9112, "9.5", "SHOULD")
def test_activity_keeps_a_connection_open(connect):
    """Requests 0.6 s apart (each gap shorter than the 1 s idle timeout)
    for 3 s: all answered on the one connection."""
    c = connect()
    for _ in range(5):
        r = c.request(request("GET", "/hello"))
        assert (r.status, r.body) == (200, HELLO), str(r)
        time.sleep(0.6)
    r = c.request(request("GET", "/bytes/9"))
    assert (r.status, r.body) == (200, pattern(9))


@pytest.mark.boot_args(f"http_idle_timeout={IDLE_TIMEOUT_MS}")
@pytest.mark.rfc(9112, "6.3", "MAY")
def test_body_that_stops_coming_gets_408(connect, slow):
    """A header section declaring 10 octets of body, 5 of them, then
    nothing for longer than http_idle_timeout (1 s): 408 with close (an
    incomplete request; a server MAY answer before closing), then FIN."""
    c = connect()
    c.send(POST + b"Content-Length: 10\r\n\r\nhello")
    r = c.read_response(timeout=(IDLE_TIMEOUT_MS / 1000 + TICK) * slow + 3.0)
    assert r.status == 408 and r.closes, str(r)
    assert c.closed_by_server()


@pytest.mark.rfc(9112, "9.6", "MUST")
def test_hundred_connections_leave_nothing_behind(connect, wire, sut):
    """100 connections one after another, each GET /bytes/1000 with
    Connection: close: all answered and closed by the server; then the
    server counts 100 more connections in total and only the one asking
    /stats open."""
    before = stats(wire, sut.ip)["http"]
    for i in range(100):
        c = connect()
        r = c.request(request("GET", "/bytes/1000", headers=[("Connection", "close")]))
        assert (r.status, r.body) == (200, pattern(1000)), f"connection {i}: {r}"
        assert c.closed_by_server(), f"connection {i} stayed open"
        c.close()
    time.sleep(0.3)
    after = stats(wire, sut.ip)["http"]
    assert after["connections_total"] - before["connections_total"] == 101
    assert after["connections"] == 1, after


@pytest.mark.rfc(9112, "9.5", "MAY")
def test_client_reset_during_a_large_response(connect, wire, sut):
    """GET /bytes/16000000, the first octets read, then a RST (close with
    SO_LINGER 0): the server drops that connection (it is no longer
    counted open) and serves the next one."""
    c = connect()
    c.send(request("GET", "/bytes/16000000"))
    assert c.sock.recv(1000).startswith(b"HTTP/1.1 200 OK\r\n")
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
    time.sleep(0.3)
    doc = stats(wire, sut.ip)["http"]
    assert doc["connections"] == 1, doc
    assert_still_serves(connect)


# ---- the connection limit --------------------------------------------------------------

MAX_CONNECTIONS = 4


def assert_still_serves(connect: Callable[..., Conn]) -> None:
    r = connect().request(request("GET", "/hello"))
    assert (r.status, r.body) == (200, HELLO), str(r)


@pytest.mark.boot_args(f"http_max_connections={MAX_CONNECTIONS}")
@pytest.mark.rfc(9110, "15.6.4", "MAY")
def test_connection_over_the_limit_gets_503(connect, wire, sut, slow):
    """http_max_connections=4: four keep-alive connections, each having had
    a request answered; the fifth gets 503 Service Unavailable with
    Connection: close and is closed; /stats (asked on one of the four)
    counts it in connections_refused; once the four are closed a new
    connection is served."""
    four = [connect() for _ in range(MAX_CONNECTIONS)]
    for c in four:
        r = c.request(request("GET", "/hello"))
        assert (r.status, r.body) == (200, HELLO)
    fifth = connect()
    r = fifth.read_response()
    assert (r.status, r.reason) == (503, "Service Unavailable"), str(r)
    assert r.closes
    assert fifth.closed_by_server()
    fifth.close()
    doc = four[0].request(request("GET", "/stats")).json()
    assert doc["http"]["connections_refused"] == 1, doc["http"]
    assert doc["http"]["connections"] in (MAX_CONNECTIONS, MAX_CONNECTIONS + 1), doc["http"]
    for c in four:
        c.close()
    deadline = time.monotonic() + 3.0 * slow
    while True:
        c = connect()
        r = c.request(request("GET", "/hello"))
        if r.status == 200:
            break
        assert r.status == 503, str(r)
        assert time.monotonic() < deadline, "still refused after the four connections closed"
        time.sleep(0.1)
    assert r.body == HELLO
