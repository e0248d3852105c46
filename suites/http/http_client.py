"""A small HTTP/1.1 client for the HTTP suite: requests written octet by
octet (so that they can be malformed in any way), responses read and
parsed strictly (status line, header fields, a body framed by
Content-Length; the server under test always sends one), several of them
from one connection for pipelining. Sockets live in the wire's namespace.
No logic of the server here: what a response must say is the tests'."""

from __future__ import annotations

import json
import re
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from ringzero.net.tcp import Seg

PORT = 80
STATUS_LINE = re.compile(rb"HTTP/(\d)\.(\d) (\d{3}) ([^\r\n]*)")
FIELD_LINE = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*")


def pattern(n: int) -> bytes:
    """The octets of /bytes/n: octet i is i % 251."""
    block = bytes(range(251))
    return (block * (n // 251 + 1))[:n]


def request(
    method: str,
    target: str,
    *,
    version: str = "HTTP/1.1",
    host: str | None = "ringzero",
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    length: bool = True,
) -> bytes:
    """A well-formed request: the request line, Host (unless host is None),
    the given fields, Content-Length when there is a body (unless
    length=False), the empty line, the body."""
    lines = [f"{method} {target} {version}"]
    if host is not None:
        lines.append(f"Host: {host}")
    lines += [f"{name}: {value}" for name, value in headers or []]
    if body and length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def chunked(body: bytes, size: int = 7, trailer: str = "") -> bytes:
    """body in the chunked transfer coding (RFC 9112 7.1), `size` octets
    per chunk, then the last chunk and an optional trailer section."""
    out = b""
    for off in range(0, len(body), size):
        piece = body[off : off + size]
        out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    return out + b"0\r\n" + trailer.encode("latin-1") + b"\r\n"


@dataclass
class Response:
    version: str
    status: int
    reason: str
    fields: list[tuple[str, str]]  # (name as sent, value) in order
    body: bytes
    raw_head: bytes = field(repr=False, default=b"")

    def headers(self, name: str) -> list[str]:
        """The values of every field with this name (case-insensitive)."""
        low = name.lower()
        return [v for n, v in self.fields if n.lower() == low]

    def header(self, name: str) -> str | None:
        """The field's value; AssertionError if the field came more than once."""
        values = self.headers(name)
        assert len(values) <= 1, f"{name} came {len(values)} times: {self.fields}"
        return values[0] if values else None

    @property
    def content_length(self) -> int | None:
        value = self.header("Content-Length")
        return int(value) if value is not None else None

    @property
    def closes(self) -> bool:
        """The response carries the "close" connection option (RFC 9110 7.6.1)."""
        value = self.header("Connection") or ""
        return "close" in [t.strip().lower() for t in value.split(",")]

    def json(self) -> Any:
        return json.loads(self.body)

    def __str__(self) -> str:
        head = self.raw_head.decode("latin-1").replace("\r\n", "\n  ")
        return f"{self.status} {self.reason!r}, {len(self.body)}-octet body:\n  {head}"


class ResponseError(AssertionError):
    """The octets from the server are not a well-formed response."""


def parse_head(head: bytes) -> tuple[str, int, str, list[tuple[str, str]]]:
    """The status line and fields of a header section (without the final
    CRLF CRLF). Strict: lines end in CRLF, fields are name ":" value."""
    lines = head.split(b"\r\n")
    for i, line in enumerate(lines):
        if b"\n" in line or b"\r" in line:
            raise ResponseError(f"a bare CR or LF in line {i} of the response: {line!r}")
    m = STATUS_LINE.fullmatch(lines[0])
    if not m:
        raise ResponseError(f"not a status line: {lines[0]!r}")
    fields = []
    for line in lines[1:]:
        f = FIELD_LINE.fullmatch(line)
        if not f:
            raise ResponseError(f"not a field line: {line!r} in\n{head!r}")
        fields.append((f[1].decode("latin-1"), f[2].decode("latin-1")))
    version = f"HTTP/{m[1].decode()}.{m[2].decode()}"
    return version, int(m[3]), m[4].decode("latin-1"), fields


def parse_response(buf: bytes, head_only: bool = False) -> tuple[Response, int] | None:
    """The first response in buf and the octets it took, or None when buf
    does not hold all of it yet. head_only: the response to a HEAD request
    (no body whatever its Content-Length says, RFC 9110 9.3.2)."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    version, status, reason, fields = parse_head(buf[:end])
    lengths = [v for n, v in fields if n.lower() == "content-length"]
    if any(n.lower() == "transfer-encoding" for n, _ in fields):
        raise ResponseError(f"a response with Transfer-Encoding: {buf[:end]!r}")
    if 100 <= status < 200:  # interim: no content (RFC 9110 15.2)
        length = 0
    elif len(lengths) != 1 or not lengths[0].isdigit():
        raise ResponseError(f"not exactly one valid Content-Length: {buf[:end]!r}")
    else:
        length = 0 if head_only else int(lengths[0])
    start = end + 4
    if len(buf) < start + length:
        return None
    body = bytes(buf[start : start + length])
    return Response(version, status, reason, fields, body, bytes(buf[:end])), start + length


class Conn:
    """One TCP connection from the wire's namespace to the server."""

    def __init__(self, sock: socket.socket, timeout: float) -> None:
        self.sock = sock
        self.timeout = timeout
        self.buf = bytearray()
        self.eof = False

    @classmethod
    def open(cls, wire: Any, ip: str, port: int = PORT, timeout: float = 10.0) -> Conn:
        s = wire.socket_in_ns(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect((ip, port))
        except OSError:
            s.close()
            raise
        return cls(s, timeout)

    def __enter__(self) -> Conn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self, deadline: float) -> bool:
        """Reads what comes (until the deadline); False at the end of stream."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError as e:
            raise AssertionError(
                f"the server reset the connection ({len(self.buf)} octets unread: "
                f"{bytes(self.buf[:200])!r})"
            ) from e
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def read_response(self, head_only: bool = False, timeout: float | None = None) -> Response:
        """The next response (waiting up to timeout seconds for all of it)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            got = parse_response(bytes(self.buf), head_only)
            if got is not None:
                response, used = got
                del self.buf[:used]
                return response
            try:
                more = self._fill(deadline)
            except TimeoutError:
                raise AssertionError(
                    f"no whole response within {timeout or self.timeout:g} s; "
                    f"got {bytes(self.buf[:300])!r}"
                ) from None
            if not more:
                raise AssertionError(
                    f"the server closed the connection before a whole response; "
                    f"got {bytes(self.buf[:300])!r}"
                )

    def request(self, data: bytes, head_only: bool = False) -> Response:
        self.send(data)
        return self.read_response(head_only)

    def closed_by_server(self, timeout: float | None = None) -> bool:
        """True when the server ends the stream (FIN) within timeout with
        nothing more sent; AssertionError if it sends octets instead; False
        if the stream stays open."""
        deadline = time.monotonic() + (timeout or self.timeout)
        try:
            more = self._fill(deadline)
        except TimeoutError:
            return False
        if more:
            raise AssertionError(
                f"octets after the response instead of the end of the stream: "
                f"{bytes(self.buf[:300])!r}"
            )
        return True

    def read_until_eof(self, timeout: float | None = None) -> bytes:
        """Everything up to the server's FIN (AssertionError if none comes)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while not self.eof:
            try:
                self._fill(deadline)
            except TimeoutError:
                raise AssertionError(
                    f"the server did not close the connection within {timeout or self.timeout:g} "
                    f"s; got {bytes(self.buf[:300])!r}"
                ) from None
        data = bytes(self.buf)
        self.buf.clear()
        return data


def responses_in(data: bytes, heads: list[bool] | None = None) -> list[Response]:
    """All the responses in data, which must hold whole responses only.
    heads[i]: response i answers a HEAD request."""
    out = []
    while data:
        head_only = heads[len(out)] if heads and len(out) < len(heads) else False
        got = parse_response(data, head_only)
        if got is None:
            raise ResponseError(f"{len(data)} octets after {len(out)} responses: {data[:200]!r}")
        response, used = got
        out.append(response)
        data = data[used:]
    return out


def get(wire: Any, ip: str, target: str, timeout: float = 10.0) -> Response:
    """GET target on a connection of its own ("Connection: close")."""
    with Conn.open(wire, ip, timeout=timeout) as c:
        return c.request(request("GET", target, headers=[("Connection", "close")]))


def stats(wire: Any, ip: str, timeout: float = 10.0) -> dict[str, Any]:
    """The server's /stats document (on a connection of its own)."""
    r = get(wire, ip, "/stats", timeout)
    assert r.status == 200, str(r)
    doc: dict[str, Any] = r.json()
    return doc


# ---- the capture ---------------------------------------------------------------------


def segments(peer: Any) -> list[Seg]:
    """Every TCP segment the capture saw so far, both directions, in order
    (after a moment for the capture thread, which drains every 20 ms)."""
    time.sleep(0.2)
    out = []
    for frame in peer.frames():
        seg = Seg.parse(frame.data, frame.time)
        if seg is not None:
            out.append(seg)
    return out


def client_syns(peer: Any, sut: Any) -> list[Seg]:
    """The SYNs (without ACK) sent to the server's port, retransmissions
    of one SYN counted once."""
    seen: dict[tuple[str, int, int], Seg] = {}
    for s in segments(peer):
        if s.dst == sut.ip and s.dport == PORT and s.syn and not s.is_ack:
            seen.setdefault((s.src, s.sport, s.seq), s)
    return list(seen.values())


def server_payloads(peer: Any, sut: Any) -> list[Seg]:
    """The server's data segments from port 80, each sequence number once."""
    seen: dict[tuple[int, int], Seg] = {}
    for s in segments(peer):
        if s.src == sut.ip and s.sport == PORT and s.payload:
            seen.setdefault((s.dport, s.seq), s)
    return list(seen.values())
