"""Fixtures of the HTTP suite: the server listening, connections to it from
the wire's namespace, curl there, and what the capture saw of TCP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ringzero.net.tcp import timing_for

from .http_client import PORT, Conn, Response, parse_head

LISTENING = r"^http: listening on port 80\b"


@pytest.fixture(autouse=True)
def http_server(sut: Any) -> Any:
    """The target, once its HTTP server listens (the console says so)."""
    vm = getattr(sut, "vm", None)
    if vm is not None:
        vm.wait_for(LISTENING, timeout=5.0)
    return sut


@pytest.fixture
def slow(sut: Any) -> float:
    """How much longer waits must be on this target (3 under TCG)."""
    return timing_for(sut).slow


@pytest.fixture
def connect(wire: Any, sut: Any, slow: float) -> Iterator[Callable[..., Conn]]:
    """connect(): a new connection to the server's port 80 (closed after the test)."""
    conns: list[Conn] = []

    def open_one(timeout: float = 10.0) -> Conn:
        c = Conn.open(wire, sut.ip, PORT, timeout=timeout * slow)
        conns.append(c)
        return c

    yield open_one
    for c in conns:
        c.close()


@dataclass
class Curl:
    """What one curl run fetched: its exit status, per URL the -w line
    ("<code> <num_connects> <size_download>"), the header section (parsed)
    and the body; and curl's stderr."""

    returncode: int
    written: list[str]
    heads: list[Response]  # bodies left empty: they are in `bodies`
    bodies: list[bytes]
    stderr: str

    @property
    def codes(self) -> list[int]:
        return [int(w.split()[0]) for w in self.written]

    @property
    def connects(self) -> int:
        """New connections curl made for the whole run."""
        return sum(int(w.split()[1]) for w in self.written)


@pytest.fixture
def curl(wire: Any, sut: Any, tmp_path: Path, slow: float) -> Callable[..., Curl]:
    """curl(*args, paths=[...]): curl in the wire's namespace against the
    server, one transfer per path (in one invocation: curl keeps its
    connection between them when it can)."""
    count = [0]

    def run(*args: str, paths: list[str] | None = None, timeout: float = 60.0) -> Curl:
        count[0] += 1
        base = tmp_path / f"curl{count[0]}"
        head = base.with_suffix(".head")
        argv = ["curl", "-sS", "--max-time", f"{timeout * slow:g}", "-D", str(head)]
        argv += ["-w", "%{http_code} %{num_connects} %{size_download}\\n", *args]
        paths = paths or ["/"]
        outs = [base.with_suffix(f".body{i}") for i in range(len(paths))]
        for p, out in zip(paths, outs, strict=True):
            argv += ["-o", str(out), f"http://{sut.ip}:{PORT}{p}"]
        result = wire.run(argv, timeout=timeout * slow + 10)
        text = head.read_bytes() if head.exists() else b""
        heads = []
        for section in text.split(b"\r\n\r\n"):
            if section.strip():
                version, status, reason, fields = parse_head(section)
                heads.append(Response(version, status, reason, fields, b"", section))
        return Curl(
            result.returncode,
            result.stdout.splitlines(),
            heads,
            [out.read_bytes() if out.exists() else b"" for out in outs],
            result.stderr,
        )

    return run
