"""dnsmasq as a real DHCP and DNS server in the wire namespace.

    with Dnsmasq(wire, log=artifacts / "dnsmasq.log", args=[...]) as d:
        ...            # d.log_text()

It runs in the foreground as a child of the harness (killed with it), with
no configuration file, no /etc/hosts and no upstream servers: only what
``args`` say. It is stopped by its PID on exit.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from .wire import Wire

START_TIMEOUT = 3.0


class DnsmasqError(RuntimeError):
    pass


class Dnsmasq:
    def __init__(self, wire: Wire, log: Path, args: Sequence[str]) -> None:
        self.wire = wire
        self.log = log
        self.args = list(args)
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> Dnsmasq:
        argv = [
            "dnsmasq",
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--no-hosts",
            "--no-resolv",
            "--pid-file=",
            "--user=root",
            f"--log-facility={self.log}",
            *self.args,
        ]
        self.proc = self.wire.popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # Ready once it has logged its start line (or failed).
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read() if self.proc.stderr else ""
                raise DnsmasqError(
                    f"dnsmasq exited at once (status {self.proc.returncode}): {err.strip()}"
                )
            if self.log.exists() and "started" in self.log.read_text(errors="replace"):
                return self
            time.sleep(0.05)
        self.stop()
        raise DnsmasqError(f"dnsmasq did not start in {START_TIMEOUT} s (its log: {self.log})")

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        if self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None

    def __enter__(self) -> Dnsmasq:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
