"""HTTP/1.1 (RFC 9110, RFC 9112) against the target's server, as curl sees
it: the conformance service started with "http=80" serves /, /hello,
/bytes/N, /echo and /stats on port 80. Each route, method handling (404,
405 with Allow, 501), HEAD, request bodies with Content-Length and chunked,
HTTP/1.0, and the header fields every response carries."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import pytest

from .http_client import pattern, request, stats

pytestmark = [pytest.mark.requires("http-server"), pytest.mark.boot_args("http=80")]

HELLO = b"Hello from ringzero\n"


def payload(n: int, seed: int = 1) -> bytes:
    """n octets that differ at every offset (a request body)."""
    out = b""
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return out[:n]


def tokens(value: str | None) -> set[str]:
    return {t.strip() for t in (value or "").split(",") if t.strip()}


# ---- GET -------------------------------------------------------------------------------


@pytest.mark.rfc(9110, "9.3.1", "MUST")
def test_get_root_is_an_html_page(curl):
    """GET /: 200, text/html, a body as long as its Content-Length."""
    c = curl(paths=["/"])
    assert c.returncode == 0, c.stderr
    assert c.codes == [200]
    head = c.heads[0]
    assert head.version == "HTTP/1.1"
    assert (head.header("Content-Type") or "").startswith("text/html"), head
    assert head.content_length == len(c.bodies[0]) > 0
    assert b"<" in c.bodies[0]


@pytest.mark.rfc(9110, "9.3.1", "MUST")
def test_get_hello_body_is_exact(curl):
    """GET /hello: 200, text/plain, exactly "Hello from ringzero\\n"."""
    c = curl(paths=["/hello"])
    assert c.codes == [200], c.stderr
    head = c.heads[0]
    assert head.reason == "OK"
    assert (head.header("Content-Type") or "").startswith("text/plain"), head
    assert head.content_length == len(HELLO)
    assert c.bodies == [HELLO]


@pytest.mark.rfc(9110, "6.6.1", "MUST")
def test_no_date_and_server_names_itself(curl):
    """The unikernel has no trustworthy clock: an origin server without one
    MUST NOT send Date (RFC 9110 6.6.1). Every response names the server
    (Server: ringzero, 10.2.4) and has a Content-Length (RFC 9112 6.3),
    a 404 as much as a 200."""
    c = curl(paths=["/hello", "/", "/nowhere"])
    assert c.codes == [200, 200, 404]
    for head in c.heads:
        assert head.headers("Date") == [], head
        assert head.header("Server") == "ringzero", head
        assert head.content_length is not None, head


@pytest.mark.rfc(9110, "9.3.1", "MUST")
@pytest.mark.parametrize("size", [0, 1, 251, 65537, 1 << 20])
def test_bytes_n_has_n_octets_of_the_pattern(curl, size):
    """GET /bytes/N: 200 application/octet-stream, N octets, octet i being
    i % 251 (so a lost, repeated or shuffled segment shows)."""
    c = curl(paths=[f"/bytes/{size}"], timeout=120.0)
    assert c.returncode == 0, c.stderr
    assert c.codes == [200]
    head = c.heads[0]
    assert head.header("Content-Type") == "application/octet-stream", head
    assert head.content_length == size
    body = c.bodies[0]
    assert len(body) == size
    assert body == pattern(size), "the body differs from the pattern"


@pytest.mark.rfc(9110, "15.5.5", "MAY")
def test_bad_bytes_counts_and_unknown_paths_are_404(curl):
    """Paths no route has, and /bytes/ with anything but a decimal number
    up to 16 MiB: 404 Not Found."""
    paths = ["/nowhere", "/bytes/", "/bytes/abc", "/bytes/-1", "/bytes/1x", "/bytes/16777217"]
    paths += ["/hello/there", "/Hello"]
    c = curl(paths=paths)
    assert c.codes == [404] * len(paths), list(zip(paths, c.codes, strict=False))
    for head in c.heads:
        assert head.reason == "Not Found"


@pytest.mark.rfc(9110, "9.3.2", "MUST")
def test_head_has_gets_fields_and_no_content(connect):
    """HEAD /bytes/1000 and HEAD /hello, pipelined with a GET: each HEAD
    response has the Content-Length GET would have and no content (the
    next response starts right after its header section); the largest
    /bytes (16 MiB) too."""
    c = connect()
    c.send(
        request("HEAD", "/bytes/1000")
        + request("HEAD", "/hello")
        + request("HEAD", "/bytes/16777216")
        + request("GET", "/hello")
    )
    heads = [c.read_response(head_only=True) for _ in range(3)]
    get = c.read_response()
    assert [h.status for h in heads] == [200, 200, 200]
    assert [h.content_length for h in heads] == [1000, len(HELLO), 16777216]
    assert heads[0].header("Content-Type") == "application/octet-stream"
    assert get.status == 200 and get.body == HELLO, str(get)
    assert (heads[1].header("Content-Type"), heads[1].header("Server")) == (
        get.header("Content-Type"),
        get.header("Server"),
    )


@pytest.mark.rfc(9110, "9.3.2", "MUST")
def test_head_with_curl(curl):
    """curl --head /hello: 200 with GET's Content-Length, and curl (which
    reads no body after HEAD) ends cleanly with nothing downloaded."""
    c = curl("--head", paths=["/hello"])
    assert c.returncode == 0, c.stderr
    assert c.codes == [200]
    assert c.heads[0].content_length == len(HELLO)
    assert c.written[0].split()[2] == "0"


# ---- request bodies --------------------------------------------------------------------


@pytest.mark.rfc(9112, "6.2", "MUST")
def test_post_echo_with_content_length(curl, tmp_path):
    """POST /echo with a 60 000-octet body framed by Content-Length: 200,
    the same octets back, the request's Content-Type."""
    body = payload(60_000)
    src = tmp_path / "post.bin"
    src.write_bytes(body)
    c = curl(
        "--data-binary", f"@{src}", "-H", "Content-Type: application/x-test", "-H", "Expect:",
        paths=["/echo"],
    )  # fmt: skip
    assert c.returncode == 0, c.stderr
    assert c.codes == [200]
    assert c.heads[0].header("Content-Type") == "application/x-test"
    assert c.heads[0].content_length == len(body)
    assert c.bodies[0] == body


@pytest.mark.rfc(9112, "7.1", "MUST")
def test_post_echo_chunked(curl, tmp_path):
    """POST /echo with Transfer-Encoding: chunked (curl's chunks of its
    read buffer): the body decoded, sent back with a Content-Length."""
    body = payload(50_000, seed=2)
    src = tmp_path / "chunked.bin"
    src.write_bytes(body)
    c = curl(
        "--data-binary", f"@{src}", "-H", "Transfer-Encoding: chunked", "-H", "Expect:",
        "-H", "Content-Type: application/octet-stream", "-v",
        paths=["/echo"],
    )  # fmt: skip
    assert c.returncode == 0, c.stderr
    assert "Transfer-Encoding: chunked" in c.stderr, "curl did not send chunked"
    assert c.codes == [200]
    assert c.heads[0].content_length == len(body)
    assert c.heads[0].headers("Transfer-Encoding") == []
    assert c.bodies[0] == body


@pytest.mark.rfc(9110, "15.5.14", "MAY")
def test_default_body_limit_is_64_kib(connect):
    """Without http_max_body, bodies up to 65536 octets (the documented
    default): 65536 echoed, 65537 refused with 413 and a close."""
    body = payload(65536, seed=4)
    c = connect()
    r = c.request(request("POST", "/echo", body=body))
    assert (r.status, r.body) == (200, body), str(r)
    r = c.request(request("POST", "/echo", body=body + b"!"))
    assert r.status == 413 and r.closes, str(r)
    assert c.closed_by_server()


@pytest.mark.rfc(9110, "9.3.4", "MUST")
def test_put_echo(curl, tmp_path):
    """PUT /echo: 200 and the body back; without a Content-Type in the
    request, application/octet-stream."""
    body = payload(3000, seed=3)
    src = tmp_path / "put.bin"
    src.write_bytes(body)
    c = curl("-T", str(src), "-H", "Content-Type:", "-H", "Expect:", paths=["/echo"])
    assert c.returncode == 0, c.stderr
    assert c.codes == [200]
    assert c.heads[0].header("Content-Type") == "application/octet-stream"
    assert c.bodies[0] == body


@pytest.mark.rfc(9110, "10.1.1", "MUST")
def test_expect_100_continue_is_answered_before_the_body(connect, slow):
    """POST /echo with Expect: 100-continue and only the header section
    sent: the server answers at once, with 100 (Continue) or a final
    status, instead of waiting for content the client holds back; after
    a 100, the body gets its 200 echo."""
    c = connect()
    c.send(b"POST /echo HTTP/1.1\r\nHost: ringzero\r\nContent-Length: 5\r\n"
           b"Expect: 100-continue\r\n\r\n")  # fmt: skip
    r = c.read_response(timeout=2.0 * slow)
    if r.status == 100:
        c.send(b"hello")
        r = c.read_response()
        assert (r.status, r.body) == (200, b"hello"), str(r)
    else:
        assert r.status >= 400, f"a final {r.status} without the body: {r}"


@pytest.mark.rfc(9112, "6.3", "MUST")
def test_post_echo_empty_body(connect):
    """POST /echo with Content-Length: 0, then a request on the same
    connection: an empty echo, and the 0 did not swallow the next request."""
    c = connect()
    c.send(
        request("POST", "/echo", headers=[("Content-Length", "0")])
        + request("POST", "/echo", body=b"second")
    )
    first, second = c.read_response(), c.read_response()
    assert (first.status, first.body, first.content_length) == (200, b"", 0), str(first)
    assert (second.status, second.body) == (200, b"second"), str(second)


# ---- methods ---------------------------------------------------------------------------

NOT_ALLOWED = [
    ("POST", "/hello", {"GET", "HEAD"}),
    ("DELETE", "/", {"GET", "HEAD"}),
    ("PUT", "/stats", {"GET", "HEAD"}),
    ("GET", "/echo", {"POST", "PUT"}),
    ("OPTIONS", "/bytes/5", {"GET", "HEAD"}),
]


@pytest.mark.rfc(9110, "15.5.6", "MUST")
@pytest.mark.parametrize(("method", "path", "allow"), NOT_ALLOWED)
def test_known_method_not_allowed_is_405_with_allow(curl, method, path, allow):
    """A method the server knows but the resource does not take: 405, and
    an Allow field listing exactly the methods it does take."""
    c = curl("-X", method, paths=[path])
    assert c.codes == [405], c.stderr
    head = c.heads[0]
    assert head.reason == "Method Not Allowed"
    assert tokens(head.header("Allow")) == allow, head


@pytest.mark.rfc(9110, "9.1", "SHOULD")
@pytest.mark.parametrize("method", ["BREW", "TRACE", "CONNECT", "get"])
def test_unknown_method_is_501(connect, method):
    """A method token the server does not implement (BREW; TRACE, CONNECT;
    "get", since methods are case-sensitive, RFC 9110 9.1): 501 Not
    Implemented, with Connection: close, then the server closes."""
    c = connect()
    target = "ringzero:80" if method == "CONNECT" else "/hello"
    r = c.request(request(method, target))
    assert (r.status, r.reason) == (501, "Not Implemented"), str(r)
    assert r.closes, str(r)
    assert c.closed_by_server(), "the connection stayed open after the 501"


@pytest.mark.rfc(9110, "9.1", "SHOULD")
def test_curl_brew_is_501(curl):
    """curl -X BREW /: 501."""
    c = curl("-X", "BREW", paths=["/"])
    assert c.codes == [501], c.stderr
    assert c.heads[0].header("Connection") == "close"


@pytest.mark.rfc(9112, "3.2.2", "MUST")
def test_absolute_form_target_is_accepted(connect):
    """A request target in absolute-form (http://host/path): a server MUST
    accept it; /hello answers as for origin-form."""
    c = connect()
    r = c.request(request("GET", "http://ringzero/hello"))
    assert (r.status, r.body) == (200, HELLO), str(r)


# ---- HTTP/1.0 --------------------------------------------------------------------------


@pytest.mark.rfc(9112, "9.3", "MUST")
def test_curl_http10_gets_a_connection_per_request(curl):
    """curl --http1.0 with two URLs: each response says Connection: close
    (HTTP/1.0 without keep-alive does not persist) and curl needs two
    connections."""
    c = curl("--http1.0", paths=["/hello", "/bytes/10"])
    assert c.returncode == 0, c.stderr
    assert c.codes == [200, 200]
    assert c.bodies == [HELLO, pattern(10)]
    assert [h.closes for h in c.heads] == [True, True]
    assert c.connects == 2


# ---- /stats ----------------------------------------------------------------------------


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


@pytest.mark.rfc(9110, "9.3.1", "MUST")
def test_stats_is_json_with_the_documented_fields(curl):
    """GET /stats: application/json with uptime_ms, heap{capacity, in_use,
    peak, live}, http{connections, connections_total, connections_refused,
    requests, responses{status: n}, bytes_in, bytes_out}, tcp{connections}
    and the stack's counters, all non-negative integers."""
    c = curl(paths=["/stats"])
    assert c.codes == [200], c.stderr
    assert (c.heads[0].header("Content-Type") or "").startswith("application/json")
    doc = json.loads(c.bodies[0])
    assert _is_count(doc["uptime_ms"])
    assert set(doc["heap"]) >= {"capacity", "in_use", "peak", "live"}
    assert all(_is_count(doc["heap"][k]) for k in ("capacity", "in_use", "peak", "live"))
    assert doc["heap"]["in_use"] <= doc["heap"]["peak"] <= doc["heap"]["capacity"]
    http = doc["http"]
    for key in ("connections", "connections_total", "connections_refused", "requests"):
        assert _is_count(http[key]), (key, http)
    assert _is_count(http["bytes_in"]) and _is_count(http["bytes_out"])
    assert http["connections"] >= 1  # this one
    assert http["requests"] >= 1  # this one
    assert isinstance(http["responses"], dict)
    assert all(re.fullmatch(r"[1-5]\d\d", k) and _is_count(v) for k, v in http["responses"].items())
    assert _is_count(doc["tcp"]["connections"]) and doc["tcp"]["connections"] >= 1
    assert isinstance(doc["counters"], dict) and doc["counters"]
    assert all(_is_count(v) for v in doc["counters"].values()), doc["counters"]


@pytest.mark.rfc(9110, "9.3.1", "MUST")
def test_stats_counters_move(wire, sut, curl):
    """Between two /stats: 3 more requests (a 200, a 404, and the second
    /stats), a 404 counted, connections_total, bytes in and out and the
    uptime grown."""
    before = stats(wire, sut.ip)
    c = curl(paths=["/hello", "/nowhere"])
    assert c.codes == [200, 404]
    after = stats(wire, sut.ip)
    b, a = before["http"], after["http"]
    assert a["requests"] - b["requests"] == 3, (b, a)
    assert a["responses"].get("404", 0) - b["responses"].get("404", 0) == 1
    assert a["responses"].get("200", 0) - b["responses"].get("200", 0) == 2
    assert a["connections_total"] - b["connections_total"] == 2
    assert a["bytes_in"] > b["bytes_in"] and a["bytes_out"] > b["bytes_out"]
    assert after["uptime_ms"] >= before["uptime_ms"]


@pytest.mark.rfc(9110, "9.3.1", "MUST")
def test_stats_counts_errors_by_status(wire, sut, connect):
    """A 400 (a request without Host) shows in responses["400"]."""
    before = stats(wire, sut.ip)["http"]["responses"].get("400", 0)
    c = connect()
    assert c.request(request("GET", "/hello", host=None)).status == 400
    after = stats(wire, sut.ip)["http"]["responses"].get("400", 0)
    assert after == before + 1
