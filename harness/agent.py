"""The client of a target's control channel (its *agent*): JSON lines, one
request and one reply per line.

    agent.request("ping")                  -> {"id": 1, "ok": True, "pong": True}
    agent.request("arp")["entries"]

A request is ``{"id": n, "cmd": cmd, **args}``; the reply carries the same
id and ``"ok"``. ``ok: false`` raises AgentError with the agent's "error";
no reply in time raises AgentTimeout. Replies to earlier requests that
timed out, and lines that are not JSON, are skipped (and logged).

Transports: the unikernel's COM2 as a unix socket the harness listens on
and QEMU connects to (like the console on COM1), a child process's
stdin/stdout (the Linux agent), or any connected socket (tests).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import select
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol


class AgentError(RuntimeError):
    """The agent answered ok: false (or the channel broke)."""


class AgentTimeout(AgentError, TimeoutError):
    """No reply within the timeout."""


class Transport(Protocol):
    def send(self, data: bytes, timeout: float) -> None: ...

    def read_line(self, timeout: float) -> bytes | None:
        """One line without its newline; None on timeout; EOFError when closed."""
        ...

    def close(self) -> None: ...

    def describe(self) -> str: ...


class _LineBuffer:
    """Lines from a readable file descriptor (socket or pipe), with timeouts."""

    def __init__(self) -> None:
        self._buf = b""

    def read_line(self, fd: int, timeout: float) -> bytes | None:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                return None
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                continue
            if not chunk:
                raise EOFError("the agent's channel closed")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line.rstrip(b"\r")


class SocketTransport:
    """A connected stream socket (a socketpair in tests, a unix socket...)."""

    def __init__(self, sock: socket.socket, name: str = "socket") -> None:
        self.sock = sock
        self.name = name
        self._lines = _LineBuffer()

    def send(self, data: bytes, timeout: float) -> None:
        self.sock.settimeout(timeout)
        self.sock.sendall(data)

    def read_line(self, timeout: float) -> bytes | None:
        return self._lines.read_line(self.sock.fileno(), timeout)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()

    def describe(self) -> str:
        return self.name


class SerialTransport:
    """A VM's serial port (COM2) as a unix socket: the harness listens
    before the VM starts, QEMU connects; the first use waits for it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(path))
        self._server.listen(1)
        self._conn: socket.socket | None = None
        self._lines = _LineBuffer()
        self._lock = threading.Lock()

    def _connection(self, timeout: float) -> socket.socket:
        with self._lock:
            if self._conn is None:
                self._server.settimeout(timeout)
                try:
                    self._conn, _ = self._server.accept()
                except TimeoutError:
                    raise AgentTimeout(
                        f"the hypervisor did not connect to {self.path} within {timeout:g} s"
                    ) from None
            return self._conn

    def send(self, data: bytes, timeout: float) -> None:
        conn = self._connection(timeout)
        conn.settimeout(timeout)
        conn.sendall(data)

    def read_line(self, timeout: float) -> bytes | None:
        conn = self._connection(timeout)
        return self._lines.read_line(conn.fileno(), timeout)

    def close(self) -> None:
        for sock in (self._conn, self._server):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
        self.path.unlink(missing_ok=True)

    def describe(self) -> str:
        return f"serial port {self.path}"


class ProcessTransport:
    """A child process's stdin (requests) and stdout (replies), both binary."""

    def __init__(self, proc: subprocess.Popen[bytes], name: str = "agent process") -> None:
        if proc.stdin is None or proc.stdout is None:
            raise ValueError("the agent process needs stdin=PIPE and stdout=PIPE")
        self.proc = proc
        self.name = name
        self._lines = _LineBuffer()

    def send(self, data: bytes, timeout: float) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError) as e:
            raise EOFError(f"the agent process is gone ({e})") from None

    def read_line(self, timeout: float) -> bytes | None:
        assert self.proc.stdout is not None
        return self._lines.read_line(self.proc.stdout.fileno(), timeout)

    def close(self) -> None:
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    def describe(self) -> str:
        return f"{self.name} (pid {self.proc.pid})"


class Agent:
    """Requests to one agent; thread-safe (one request at a time)."""

    def __init__(
        self,
        transport: Transport,
        timeout: float = 5.0,
        log: Callable[[str], None] | None = None,
        hint: str = "",
    ) -> None:
        self.transport = transport
        self.timeout = timeout
        self._log = log
        self._hint = hint
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def request(self, cmd: str, **args: Any) -> dict[str, Any]:
        """Sends {"id", "cmd", **args}; returns the reply (ok is true)."""
        return self.call(cmd, args)

    def call(
        self, cmd: str, args: dict[str, Any] | None = None, timeout: float | None = None
    ) -> dict[str, Any]:
        """request() with an explicit timeout (args may then include "timeout")."""
        wait = self.timeout if timeout is None else timeout
        with self._lock:
            ident = next(self._ids)
            line = json.dumps({"id": ident, "cmd": cmd, **(args or {})}, separators=(",", ":"))
            self._note(f"> {line}")
            deadline = time.monotonic() + wait
            try:
                self.transport.send(line.encode() + b"\n", wait)
                while True:
                    raw = self.transport.read_line(max(0.0, deadline - time.monotonic()))
                    if raw is None:
                        raise AgentTimeout(self._timeout_message(cmd, ident, wait))
                    reply = self._parse(raw)
                    if reply is not None and reply.get("id") == ident:
                        break
            except AgentTimeout:
                raise
            except EOFError as e:
                raise AgentError(
                    f"{self.transport.describe()}: {e} while waiting for the reply to {cmd!r}"
                    f"{self._hint_text()}"
                ) from None
            except OSError as e:
                raise AgentError(f"{self.transport.describe()}: {e}{self._hint_text()}") from None
        if reply.get("ok") is not True:
            raise AgentError(f"agent: {cmd}: {reply.get('error', f'failed: {reply}')}")
        return reply

    def _parse(self, raw: bytes) -> dict[str, Any] | None:
        text = raw.decode("utf-8", errors="replace")
        self._note(f"< {text}")
        try:
            reply = json.loads(text)
        except json.JSONDecodeError:
            return None  # noise on the channel (logged)
        return reply if isinstance(reply, dict) else None

    def _note(self, text: str) -> None:
        if self._log is not None:
            self._log(text)

    def _hint_text(self) -> str:
        return f"; {self._hint}" if self._hint else ""

    def _timeout_message(self, cmd: str, ident: int, wait: float) -> str:
        return (
            f"no reply to {cmd!r} (id {ident}) from {self.transport.describe()} within {wait:g} s"
            f"{self._hint_text()}"
        )

    def close(self) -> None:
        self.transport.close()
