"""HTTP over the scripted TCP peer (ringzero.net.tcp): requests cut into
segments where no client's kernel would cut them, a bare LF answered
segment by segment, a connection reset in the middle of a request, the
server's lingering close, and a response squeezed through a tiny window.
The virtual host is owned by no kernel, so only our segments reach the
server."""

from __future__ import annotations

import pytest
from ringzero.net.tcp import TcpPeer

from .http_client import PORT, Response, parse_response, pattern, request, responses_in

pytestmark = [pytest.mark.requires("http-server"), pytest.mark.boot_args("http=80")]

HELLO = b"Hello from ringzero\n"


def read_response(c: TcpPeer, head_only: bool = False, within: float = 5.0) -> Response:
    """The next whole response in what the target sent (ACKing its data)."""
    begin = len(c.received)
    while True:
        got = parse_response(bytes(c.received[begin:]), head_only)
        if got is not None:
            response, used = got
            assert begin + used == len(c.received), (
                f"{len(c.received) - begin - used} octets after the response"
            )
            return response
        c.recv(1, within=within)


def send_pieces(c: TcpPeer, pieces: list[bytes]) -> None:
    """Each piece in a segment of its own, one after another."""
    for piece in pieces:
        c.send(flags="PA", payload=piece)


def connected(peer, sut, **kw) -> TcpPeer:
    c = TcpPeer(peer, sut, remote_port=PORT, **kw)
    c.connect()
    return c


@pytest.mark.rfc(9112, "2.2", "MUST")
def test_request_in_three_octet_segments(peer, sut):
    """GET /hello in segments of 3 octets (a message is a sequence of
    octets: segment boundaries mean nothing), then a Connection: close
    request in single octets: both answered; the second response ends in
    the server's FIN."""
    c = connected(peer, sut)
    data = request("GET", "/hello")
    send_pieces(c, [data[i : i + 3] for i in range(0, len(data), 3)])
    r = read_response(c)
    assert (r.status, r.body) == (200, HELLO), str(r)
    data = request("GET", "/bytes/10", headers=[("Connection", "close")])
    send_pieces(c, [data[i : i + 1] for i in range(len(data))])
    rest = c.recv(0, until_fin=True, within=5.0)
    got = responses_in(rest)
    assert [(x.status, x.body) for x in got] == [(200, pattern(10))], [str(x) for x in got]
    assert got[0].closes
    c.close()


@pytest.mark.rfc(9112, "2.2", "MUST")
def test_crlf_split_across_segments(peer, sut):
    """A request cut right after every CR (each CRLF split between two
    segments, and the empty line too): still CRLFs, 200."""
    data = request("POST", "/echo", body=b"split\r\nbody")
    pieces = [p + b"\r" for p in data.split(b"\r")]
    pieces[-1] = pieces[-1][:-1]
    assert b"".join(pieces) == data
    c = connected(peer, sut)
    send_pieces(c, [p for p in pieces if p])
    r = read_response(c)
    assert (r.status, r.body) == (200, b"split\r\nbody"), str(r)


@pytest.mark.rfc(9112, "2.2", "MAY")
def test_bare_lf_answered_400_then_fin(peer, sut):
    """A request with a bare LF, from the scripted peer: the target's data
    is one 400 response with Connection: close, and its FIN follows at the
    sequence number right after the response's last octet."""
    c = connected(peer, sut)
    c.send(flags="PA", payload=b"GET /hello HTTP/1.1\nHost: ringzero\r\n\r\n")
    data = c.recv(0, until_fin=True, within=5.0)
    got = responses_in(data)
    assert [x.status for x in got] == [400], [str(x) for x in got]
    assert got[0].closes
    segs = c.segments()
    end = max((s.seq + len(s.payload)) % (1 << 32) for s in segs if s.payload)
    fins = {(s.seq + len(s.payload)) % (1 << 32) for s in segs if s.fin}
    assert fins == {end}, f"FIN at {fins}, the data ends at {end}"
    assert not any(s.rst for s in segs), "the target reset the connection"
    c.close()


@pytest.mark.rfc(9112, "9.6", "MAY")
def test_lingering_close_takes_late_data_without_reset(peer, sut):
    """After its 400 and FIN, the client (not having read them yet) sends
    another request: the server goes on taking data (ACKs it) and neither
    answers it nor resets, so the 400 is not destroyed by a RST (the TCP
    reset problem); our FIN then ends the connection."""
    c = connected(peer, sut)
    c.send(flags="PA", payload=b"GET /hello HTTP/1.1\r\n\r\n")  # no Host: 400
    data = c.recv(0, until_fin=True, within=5.0)
    assert [x.status for x in responses_in(data)] == [400]
    c.send(flags="PA", payload=request("GET", "/hello"))
    c.expect(has="A", ack=c.snd_nxt, lacks="R", what="ACK of the late request")
    later = c.collect(0.5)
    assert not any(s.rst or s.payload for s in later), [str(s) for s in later]
    c.close()


@pytest.mark.rfc(9112, "9.5", "MAY")
def test_reset_in_the_middle_of_a_request(peer, sut, wire):
    """Half a request, then RST (a client may close at any time): the
    server drops the connection, and serves the next one (from another
    port) with a whole response."""
    c = connected(peer, sut)
    c.send(
        flags="PA",
        payload=b"POST /echo HTTP/1.1\r\nHost: ringzero\r\nContent-Length: 100\r\n\r\nab",
    )
    c.expect(has="A", ack=c.snd_nxt)
    c.reset()
    d = connected(peer, sut)
    d.send(flags="PA", payload=request("GET", "/hello"))
    r = read_response(d)
    assert (r.status, r.body) == (200, HELLO), str(r)
    d.close()


@pytest.mark.rfc(9112, "6.3", "MUST")
def test_response_through_a_256_octet_window(peer, sut):
    """A client advertising a 256-octet window: GET /bytes/4096 comes in
    segments of at most 256 octets, whole, and exactly Content-Length
    octets of the pattern."""
    c = TcpPeer(peer, sut, remote_port=PORT, window=256)
    c.connect()
    c.send(flags="PA", payload=request("GET", "/bytes/4096"))
    begin = len(c.received)
    while True:
        got = parse_response(bytes(c.received[begin:]))
        if got is not None:
            break
        c.recv(1, within=5.0, window=256)
    r, _ = got
    assert (r.status, r.content_length) == (200, 4096), str(r)
    assert r.body == pattern(4096)
    sizes = [len(s.payload) for s in c.segments() if s.payload]
    assert max(sizes) <= 256, f"segments of {max(sizes)} octets into a 256-octet window"
