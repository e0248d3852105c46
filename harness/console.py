"""The VM's serial console as the harness sees it.

The harness listens on a unix socket before the VM starts and QEMU connects
to it as a client, so no output is ever lost to a race. A reader thread
appends every byte to ``serial.log``, splits lines (each stamped with the
host's monotonic clock when it completed), recognizes crash reports and the
exit-status line, and wakes anyone waiting for a pattern.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

CRASH_START = "*** ringzero crash: "
CRASH_END = "*** end of crash report"
EXIT_RE = re.compile(r"^ringzero: exit status (\d+)$")
FRAME_RE = re.compile(r"^\s*#(\d+) 0x([0-9a-fA-F]+)")


@dataclass(frozen=True)
class Line:
    index: int
    time: float  # time.monotonic() when the line's newline arrived
    text: str


@dataclass(frozen=True)
class LineMatch:
    line: Line
    match: re.Match[str]

    def __getitem__(self, key: int | str) -> str:
        return self.match[key]


@dataclass
class CrashReport:
    what: str
    lines: list[str] = field(default_factory=list)
    addresses: list[int] = field(default_factory=list)
    complete: bool = False


class ConsoleError(AssertionError):
    """A wait on the console failed; the message carries the console's tail."""


class Console:
    def __init__(
        self,
        socket_path: Path,
        log_path: Path,
        echo: Callable[[bytes], None] | None = None,
    ) -> None:
        self.socket_path = socket_path
        self.log_path = log_path
        self._echo = echo
        self._lines: list[Line] = []
        self._partial = b""
        self._cond = threading.Condition()
        self._closed = False
        self._conn: socket.socket | None = None
        self.crash: CrashReport | None = None
        self.exit_status: int | None = None
        socket_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        socket_path.unlink(missing_ok=True)
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(socket_path))
        self._server.listen(1)
        self._log = log_path.open("wb")
        self._thread = threading.Thread(target=self._run, name=f"console {log_path}", daemon=True)
        self._thread.start()

    # ---- reading ------------------------------------------------------------------

    def _run(self) -> None:
        try:
            conn, _ = self._server.accept()
        except OSError:
            self._finish()
            return
        with self._cond:
            self._conn = conn
        with conn:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    break
                if not data:
                    break
                self._feed(data)
        self._finish()

    def _feed(self, data: bytes) -> None:
        now = time.monotonic()
        self._log.write(data)
        self._log.flush()
        if self._echo:
            self._echo(data)
        self._partial += data
        *complete, self._partial = self._partial.split(b"\n")
        if complete:
            with self._cond:
                for raw in complete:
                    self._add_line(now, raw)
                self._cond.notify_all()

    def _add_line(self, now: float, raw: bytes, complete: bool = True) -> None:
        text = raw.decode("utf-8", errors="replace").rstrip("\r")
        line = Line(len(self._lines), now, text)
        self._lines.append(line)
        if text.startswith(CRASH_START) and self.crash is None:
            self.crash = CrashReport(what=text[len(CRASH_START) :])
        elif self.crash is not None and not self.crash.complete:
            if text == CRASH_END:
                self.crash.complete = True
            else:
                self.crash.lines.append(text)
                frame = FRAME_RE.match(text)
                if frame:
                    self.crash.addresses.append(int(frame.group(2), 16))
        # Only a whole line counts: "exit status 1" may be "... 123" cut short.
        m = EXIT_RE.match(text) if complete else None
        if m:
            self.exit_status = int(m.group(1))

    def _finish(self) -> None:
        with self._cond:
            if self._partial:
                self._add_line(time.monotonic(), self._partial, complete=False)
                self._partial = b""
            self._closed = True
            self._cond.notify_all()
        with contextlib.suppress(OSError):
            self._log.close()

    # ---- waiting ------------------------------------------------------------------

    @property
    def lines(self) -> list[Line]:
        with self._cond:
            return list(self._lines)

    @property
    def closed(self) -> bool:
        with self._cond:
            return self._closed

    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    def tail(self, n: int = 30) -> str:
        lines = self.lines[-n:]
        return "\n".join(f"  | {line.text}" for line in lines) or "  | (no output)"

    def wait_for(self, pattern: str | re.Pattern[str], timeout: float, since: int = 0) -> LineMatch:
        """The first line at index >= since that matches (re.search). Fails
        with the console's tail when the timeout passes or the VM ends first."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        index = since
        with self._cond:
            while True:
                while index < len(self._lines):
                    line = self._lines[index]
                    m = regex.search(line.text)
                    if m:
                        return LineMatch(line, m)
                    index += 1
                if self._closed:
                    raise ConsoleError(
                        f"the VM's console closed before a line matched {regex.pattern!r}"
                        f"\nconsole tail ({self.log_path}):\n{self.tail()}"
                    )
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ConsoleError(
                        f"no console line matched {regex.pattern!r} within {timeout:g} s"
                        f"\nconsole tail ({self.log_path}):\n{self.tail()}"
                    )
                self._cond.wait(left)

    def wait_closed(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._closed, timeout)

    def close(self) -> None:
        """Stops reading (the VM should be gone by now) and removes the socket."""
        with self._cond:
            conn = self._conn
        # shutdown() wakes a reader blocked in accept() or recv(); close() would not.
        for sock in (self._server, conn):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)
        with contextlib.suppress(OSError):
            self._server.close()
        self.socket_path.unlink(missing_ok=True)
