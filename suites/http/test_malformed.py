"""Malformed and oversized requests (RFC 9112, RFC 9110), written octet by
octet on a socket in the wire's namespace, since curl will not send them.
Every one gets its error status with "Connection: close", then the server
ends the connection (FIN: the next recv() is empty), and it answers a
fresh good request afterwards (the sut fixture also fails a test whose
target crashed). The limits: a request line of 8192 octets, 64 header
fields, a field line of 8192 octets, a header section of 16384 octets, a
body of http_max_body octets."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .http_client import Conn, Response, chunked, request

pytestmark = [pytest.mark.requires("http-server"), pytest.mark.boot_args("http=80")]

HELLO = b"Hello from ringzero\n"
HOST = b"Host: ringzero\r\n"
GET = b"GET /hello HTTP/1.1\r\n"
POST = b"POST /echo HTTP/1.1\r\n"


def rfc(number: int, section: str, level: str) -> pytest.MarkDecorator:
    return pytest.mark.rfc(number, section, level)


def case(name: str, data: bytes, status: int, mark: pytest.MarkDecorator) -> object:
    return pytest.param(data, status, id=name, marks=mark)


def fields(n: int, size: int = 10) -> bytes:
    """n field lines "X-Fnnn: vvv" of `size` octets each, CRLF included."""
    out = b""
    for i in range(n):
        name = f"X-F{i:03d}: ".encode()
        out += name + b"v" * (size - len(name) - 2) + b"\r\n"
    return out


MALFORMED = [
    # Line ends (RFC 9112 2.2): CRLF only.
    case("bare_lf_after_request_line", b"GET /hello HTTP/1.1\n" + HOST + b"\r\n", 400,
         rfc(9112, "2.2", "MAY")),
    case("bare_lf_after_field", GET + b"Host: ringzero\nX-A: 1\r\n\r\n", 400,
         rfc(9112, "2.2", "MAY")),
    case("bare_lf_empty_line", GET + HOST + b"\n", 400, rfc(9112, "2.2", "MAY")),
    case("bare_lf_only", b"GET /hello HTTP/1.1\nHost: ringzero\n\n", 400,
         rfc(9112, "2.2", "MAY")),
    case("bare_cr_in_field_section", GET + b"Host: ringzero\rX-A: 1\r\n\r\n", 400,
         rfc(9112, "2.2", "MUST")),
    case("bare_cr_in_request_line", b"GET /hello\rHTTP/1.1\r\n" + HOST + b"\r\n", 400,
         rfc(9112, "2.2", "MUST")),
    case("whitespace_before_first_field", GET + b" X-A: 1\r\n" + HOST + b"\r\n", 400,
         rfc(9112, "2.2", "MUST")),
    # Host (RFC 9112 3.2).
    case("missing_host", GET + b"Accept: */*\r\n\r\n", 400, rfc(9112, "3.2", "MUST")),
    case("two_hosts", GET + HOST + b"Host: other\r\n\r\n", 400, rfc(9112, "3.2", "MUST")),
    case("two_equal_hosts", GET + HOST + HOST + b"\r\n", 400, rfc(9112, "3.2", "MUST")),
    case("host_with_space", GET + b"Host: ring zero\r\n\r\n", 400, rfc(9112, "3.2", "MUST")),
    case("host_with_slash", GET + b"Host: ringzero/x\r\n\r\n", 400, rfc(9112, "3.2", "MUST")),
    case("host_with_userinfo", GET + b"Host: user@ringzero\r\n\r\n", 400,
         rfc(9112, "3.2", "MUST")),
    case("host_port_not_digits", GET + b"Host: ringzero:http\r\n\r\n", 400,
         rfc(9112, "3.2", "MUST")),
    # Field lines (RFC 9112 5.1, 5.2; RFC 9110 5.5).
    case("space_before_colon", GET + HOST + b"X-A : 1\r\n\r\n", 400, rfc(9112, "5.1", "MUST")),
    case("tab_before_colon", GET + HOST + b"X-A\t: 1\r\n\r\n", 400, rfc(9112, "5.1", "MUST")),
    case("space_before_colon_of_host", GET + b"Host : ringzero\r\n\r\n", 400,
         rfc(9112, "5.1", "MUST")),
    case("obs_fold_space", GET + HOST + b"X-A: 1\r\n  2\r\n\r\n", 400, rfc(9112, "5.2", "MUST")),
    case("obs_fold_tab", GET + HOST + b"X-A: 1\r\n\t2\r\n\r\n", 400, rfc(9112, "5.2", "MUST")),
    case("nul_in_field_value", GET + HOST + b"X-A: a\x00b\r\n\r\n", 400,
         rfc(9110, "5.5", "MUST")),
    # The request line (RFC 9112 3, 2.3).
    case("two_spaces", b"GET  /hello HTTP/1.1\r\n" + HOST + b"\r\n", 400,
         rfc(9112, "3", "SHOULD")),
    case("trailing_space", b"GET /hello HTTP/1.1 \r\n" + HOST + b"\r\n", 400,
         rfc(9112, "3", "SHOULD")),
    case("no_version", b"GET /hello\r\n" + HOST + b"\r\n", 400, rfc(9112, "3", "SHOULD")),
    case("tab_separator", b"GET\t/hello HTTP/1.1\r\n" + HOST + b"\r\n", 400,
         rfc(9112, "3", "SHOULD")),
    case("control_in_target", b"GET /he\x01llo HTTP/1.1\r\n" + HOST + b"\r\n", 400,
         rfc(9112, "3", "SHOULD")),
    case("lowercase_http", b"GET /hello http/1.1\r\n" + HOST + b"\r\n", 400,
         rfc(9112, "2.3", "SHOULD")),
    case("version_without_minor", b"GET /hello HTTP/1\r\n" + HOST + b"\r\n", 400,
         rfc(9112, "2.3", "SHOULD")),
    case("version_two_digit_minor", b"GET /hello HTTP/1.10\r\n" + HOST + b"\r\n", 400,
         rfc(9112, "2.3", "SHOULD")),
    case("http_2_0", b"GET /hello HTTP/2.0\r\n" + HOST + b"\r\n", 505, rfc(9110, "2.5", "MAY")),
    case("http_3_0", b"GET /hello HTTP/3.0\r\n" + HOST + b"\r\n", 505, rfc(9110, "2.5", "MAY")),
    case("http_0_9", b"GET /hello HTTP/0.9\r\n" + HOST + b"\r\n", 505, rfc(9110, "2.5", "MAY")),
    # Content-Length (RFC 9112 6.3 item 5).
    case("content_length_letters", POST + HOST + b"Content-Length: abc\r\n\r\nhello", 400,
         rfc(9112, "6.3", "MUST")),
    case("content_length_negative", POST + HOST + b"Content-Length: -5\r\n\r\nhello", 400,
         rfc(9112, "6.3", "MUST")),
    case("content_length_plus", POST + HOST + b"Content-Length: +5\r\n\r\nhello", 400,
         rfc(9112, "6.3", "MUST")),
    case("content_length_hex", POST + HOST + b"Content-Length: 0x5\r\n\r\nhello", 400,
         rfc(9112, "6.3", "MUST")),
    case("content_length_empty", POST + HOST + b"Content-Length: \r\n\r\nhello", 400,
         rfc(9112, "6.3", "MUST")),
    case("content_length_two_differing",
         POST + HOST + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400,
         rfc(9112, "6.3", "MUST")),
    case("content_length_list_differing", POST + HOST + b"Content-Length: 5, 6\r\n\r\nhello!",
         400, rfc(9112, "6.3", "MUST")),
    # Transfer-Encoding (RFC 9112 6.1, 6.3).
    case("content_length_and_chunked",
         POST + HOST + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
         + chunked(b"hello"), 400, rfc(9112, "6.3", "MUST")),
    case("chunked_and_content_length",
         POST + HOST + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
         + chunked(b"hello"), 400, rfc(9112, "6.3", "MUST")),
    case("te_gzip_not_chunked_last", POST + HOST + b"Transfer-Encoding: gzip\r\n\r\nhello", 400,
         rfc(9112, "6.3", "MUST")),
    case("te_chunked_then_gzip",
         POST + HOST + b"Transfer-Encoding: chunked, gzip\r\n\r\n" + chunked(b"hello"), 400,
         rfc(9112, "6.3", "MUST")),
    case("te_gzip_then_chunked",
         POST + HOST + b"Transfer-Encoding: gzip, chunked\r\n\r\n" + chunked(b"hello"), 501,
         rfc(9112, "6.1", "SHOULD")),
    case("te_in_http_1_0",
         b"POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(b"hello"), 400,
         rfc(9112, "6.1", "MUST")),
    # The chunked coding (RFC 9112 7.1).
    case("chunk_size_not_hex",
         POST + HOST + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", 400,
         rfc(9112, "7.1", "MUST")),
    case("chunk_size_negative",
         POST + HOST + b"Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n", 400,
         rfc(9112, "7.1", "MUST")),
    case("chunk_size_missing",
         POST + HOST + b"Transfer-Encoding: chunked\r\n\r\n\r\nhello\r\n0\r\n\r\n", 400,
         rfc(9112, "7.1", "MUST")),
    case("chunk_data_without_crlf",
         POST + HOST + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n", 400,
         rfc(9112, "7.1", "MUST")),
    case("trailer_space_before_colon",
         POST + HOST + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T : 1\r\n\r\n",
         400, rfc(9112, "5.1", "MUST")),
    case("trailer_fields_65",
         POST + HOST + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n" + fields(65)
         + b"\r\n", 431, rfc(9110, "5.4", "MUST")),
    case("chunk_bare_lf",
         POST + HOST + b"Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", 400,
         rfc(9112, "7.1", "MUST")),
    # Sizes (RFC 9112 3: 414; RFC 9110 5.4: a 4xx, 431 being RFC 6585's).
    case("request_line_8193", b"GET /hello?" + b"q" * (8193 - 20) + b" HTTP/1.1\r\n" + HOST
         + b"\r\n", 414, rfc(9112, "3", "MUST")),
    case("field_line_8193", GET + HOST + b"X-A: " + b"v" * (8193 - 5) + b"\r\n\r\n", 431,
         rfc(9110, "5.4", "MUST")),
    case("method_of_100_octets", b"A" * 100 + b" /hello HTTP/1.1\r\n" + HOST + b"\r\n", 501,
         rfc(9112, "3", "SHOULD")),
    case("request_line_over_8192", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n" + HOST + b"\r\n",
         414, rfc(9112, "3", "MUST")),
    case("fields_65", GET + HOST + fields(64) + b"\r\n", 431, rfc(9110, "5.4", "MUST")),
    case("field_line_9000", GET + HOST + fields(1, 9000) + b"\r\n", 431,
         rfc(9110, "5.4", "MUST")),
    case("header_section_over_16384", GET + HOST + fields(30, 600) + b"\r\n", 431,
         rfc(9110, "5.4", "MUST")),
]  # fmt: skip


def assert_still_serves(connect: Callable[..., Conn]) -> None:
    """A fresh connection gets GET /hello answered."""
    c = connect()
    r = c.request(request("GET", "/hello"))
    assert (r.status, r.body) == (200, HELLO), f"after the bad request: {r}"


def assert_error_and_close(c: Conn, status: int) -> Response:
    """The next response has this status and Connection: close, and the
    server then ends the connection (FIN, nothing more)."""
    r = c.read_response()
    assert r.status == status, f"expected {status}, got {r}"
    assert r.closes, f"no Connection: close in {r}"
    assert r.header("Server") == "ringzero"
    assert c.closed_by_server(), f"the connection stayed open after the {status}"
    return r


@pytest.mark.parametrize(("data", "status"), MALFORMED)
def test_malformed_request_is_refused_and_closed(connect, data, status):
    """The request gets its status with Connection: close; the server then
    closes; a new connection is served."""
    c = connect()
    c.send(data)
    assert_error_and_close(c, status)
    assert_still_serves(connect)


@pytest.mark.rfc(9112, "3", "SHOULD")
def test_request_line_of_8192_octets_is_served(connect):
    """A request line of exactly 8192 octets (more than the 8000 RFC 9112 3
    recommends supporting; the query does not change the resource): 200."""
    target = "/hello?q=" + "x" * (8192 - len("GET /hello?q= HTTP/1.1"))
    data = request("GET", target)
    assert data.index(b"\r\n") == 8192
    r = connect().request(data)
    assert (r.status, r.body) == (200, HELLO), str(r)


@pytest.mark.rfc(9110, "5.4", "MUST")
def test_field_line_of_8192_octets_is_served(connect):
    """A field line of exactly 8192 octets (CRLF not counted): within the
    limit, 200."""
    line = b"X-A: " + b"v" * (8192 - 5)
    r = connect().request(GET + HOST + line + b"\r\n\r\n")
    assert (r.status, r.body) == (200, HELLO), str(r)


@pytest.mark.rfc(9110, "5.4", "MUST")
def test_64_fields_are_served(connect):
    """64 header fields (Host and 63 more): within the limit, 200."""
    r = connect().request(GET + HOST + fields(63) + b"\r\n")
    assert (r.status, r.body) == (200, HELLO), str(r)


@pytest.mark.rfc(9112, "2.2", "SHOULD")
def test_empty_lines_before_the_request_line_are_ignored(connect):
    """CRLFs before the request line (a client's leftover from a previous
    body): ignored, the request served (a server SHOULD ignore at least
    one)."""
    r = connect().request(b"\r\n\r\n" + request("GET", "/hello"))
    assert (r.status, r.body) == (200, HELLO), str(r)


@pytest.mark.rfc(9112, "7.1.1", "MUST")
def test_chunk_extensions_and_trailer_are_ignored(connect):
    """Chunk extensions (unknown ones MUST be ignored, 7.1.1), upper-case
    hex sizes, and a trailer section (7.1.2): the body decoded exactly."""
    body = b"0123456789ABCDEFghij"
    data = (
        POST + HOST + b"Transfer-Encoding: chunked\r\n\r\n"
        b"A;name=value;flag\r\n" + body[:10] + b"\r\n"
        b"a ; quoted=\"x y\"\r\n" + body[10:] + b"\r\n"
        b"0\r\nX-Trailer: done\r\n\r\n"
    )  # fmt: skip
    c = connect()
    r = c.request(data)
    assert (r.status, r.body) == (200, body), str(r)
    r = c.request(request("GET", "/hello"))
    assert (r.status, r.body) == (200, HELLO), "the next request on the connection: " + str(r)


@pytest.mark.rfc(9112, "7", "MUST")
def test_transfer_coding_names_are_case_insensitive(connect):
    """Transfer-Encoding: Chunked, then CHUNKED (transfer-coding names are
    case-insensitive, RFC 9112 7): both bodies decoded."""
    c = connect()
    for name in (b"Chunked", b"CHUNKED"):
        r = c.request(POST + HOST + b"Transfer-Encoding: " + name + b"\r\n\r\n" + chunked(b"abc"))
        assert (r.status, r.body) == (200, b"abc"), f"{name!r}: {r}"


@pytest.mark.rfc(9110, "5.1", "MUST")
def test_field_names_are_case_insensitive(connect):
    """host, content-length, CONTENT-TYPE in any case: the same fields."""
    c = connect()
    r = c.request(
        b"POST /echo HTTP/1.1\r\nhost: ringzero\r\ncontent-LENGTH: 5\r\n"
        b"CONTENT-TYPE: text/x-case\r\n\r\nhello"
    )
    assert (r.status, r.body) == (200, b"hello"), str(r)
    assert r.header("Content-Type") == "text/x-case"


@pytest.mark.rfc(9112, "6.3", "MUST")
def test_get_with_a_body_is_framed_by_its_length(connect):
    """GET /hello with Content-Length: 5 and 5 octets, then GET /bytes/3 in
    the same send(): the body is skipped (not taken for the next request),
    both answered."""
    c = connect()
    c.send(GET + HOST + b"Content-Length: 5\r\n\r\nhello" + request("GET", "/bytes/3"))
    r = c.read_response()
    assert (r.status, r.body) == (200, HELLO), str(r)
    r = c.read_response()
    assert (r.status, r.body) == (200, b"\x00\x01\x02"), str(r)


@pytest.mark.rfc(9112, "6.3", "MUST")
def test_equal_content_lengths_are_one(connect):
    """Content-Length: 5, 5 (a list of one value repeated): processed as 5;
    the octets after them are the next request."""
    c = connect()
    c.send(POST + HOST + b"Content-Length: 5, 5\r\n\r\nhello" + request("GET", "/hello"))
    r = c.read_response()
    assert (r.status, r.body) == (200, b"hello"), str(r)
    r = c.read_response()
    assert (r.status, r.body) == (200, HELLO), str(r)


@pytest.mark.rfc(9110, "8.6", "MUST")
def test_huge_content_length_does_not_overflow(connect):
    """A Content-Length of 2**64 + 5 (23 digits): refused (413 for a body
    too large, or 400), never read as 5 after an overflow; then closed."""
    c = connect()
    c.send(POST + HOST + b"Content-Length: 18446744073709551621\r\n\r\nhello")
    r = c.read_response()
    assert r.status in (400, 413), f"a wrapped-around length? {r}"
    assert r.closes and c.closed_by_server()
    assert_still_serves(connect)


@pytest.mark.rfc(9112, "7.1", "MUST")
def test_huge_chunk_size_does_not_overflow(connect):
    """A chunk size of 2**64 + 5 in hex (17 digits): refused (400 or 413),
    not read as 5; then closed."""
    c = connect()
    c.send(
        POST + HOST + b"Transfer-Encoding: chunked\r\n\r\n10000000000000005\r\nhello\r\n0\r\n\r\n"
    )
    r = c.read_response()
    assert r.status in (400, 413), f"a wrapped-around chunk size? {r}"
    assert r.closes and c.closed_by_server()
    assert_still_serves(connect)


# ---- the body limit (http_max_body) -----------------------------------------------------

MAX_BODY = 1024


@pytest.mark.boot_args(f"http_max_body={MAX_BODY}")
@pytest.mark.rfc(9110, "15.5.14", "MAY")
def test_body_over_the_limit_is_413_and_closed(connect):
    """http_max_body=1024, POST /echo with 1025 octets: 413 Content Too
    Large, Connection: close, the connection ended."""
    c = connect()
    c.send(request("POST", "/echo", body=b"x" * (MAX_BODY + 1)))
    r = assert_error_and_close(c, 413)
    assert r.reason == "Content Too Large"
    assert_still_serves(connect)


@pytest.mark.boot_args(f"http_max_body={MAX_BODY}")
@pytest.mark.rfc(9110, "15.5.14", "MAY")
def test_declared_length_over_the_limit_is_413_before_the_body(connect):
    """Only the header section, declaring 100 000 octets: the 413 comes
    without waiting for a body the server will not take."""
    c = connect()
    c.send(POST + HOST + b"Content-Length: 100000\r\n\r\n")
    assert_error_and_close(c, 413)


@pytest.mark.boot_args(f"http_max_body={MAX_BODY}")
@pytest.mark.rfc(9110, "15.5.14", "MAY")
def test_chunked_body_over_the_limit_is_413_and_closed(connect):
    """Chunks of 100 octets adding up to 1100: 413 and closed, however the
    body was framed."""
    c = connect()
    c.send(POST + HOST + b"Transfer-Encoding: chunked\r\n\r\n" + chunked(b"y" * 1100, 100))
    assert_error_and_close(c, 413)
    assert_still_serves(connect)


@pytest.mark.boot_args(f"http_max_body={MAX_BODY}")
@pytest.mark.rfc(9110, "15.5.14", "MAY")
def test_body_at_the_limit_is_served(connect):
    """Exactly http_max_body octets, by Content-Length and chunked: echoed."""
    body = bytes(i % 256 for i in range(MAX_BODY))
    c = connect()
    r = c.request(request("POST", "/echo", body=body))
    assert (r.status, r.body) == (200, body), str(r)
    r = c.request(POST + HOST + b"Transfer-Encoding: chunked\r\n\r\n" + chunked(body, 300))
    assert (r.status, r.body) == (200, body), str(r)
