"""The test network: one namespace per pytest-xdist worker (the "wire"),
and a fresh link per test between it and the target.

    10.33.0.0/24
    .1        tools_ip: the wire namespace's own address (ping, arping, tcpdump
              and the Linux stack run there); the target's gateway
    .2        target_ip, 52:54:00:33:00:02
    .10+i     virtual host i, 02:00:00:33:00:(10+i): played by the Scapy peer,
              owned by no kernel, so no kernel answers in its place
    .99       unused_ip: nobody's
    .255      broadcast

A link is an interface in the wire namespace facing one target instance: a
tap for a VM (created in the root namespace so the hypervisor can open it
by name, moved into the wire once it is attached), or one end of a veth pair
whose other end is "eth0" in the target's own namespace. The wire gives it
tools_ip/24 and brings it up; the peer captures on it.

Everything is named after the run (see runs.py) and swept by the next run
when the run that made it died: namespaces by name, taps by their alias
(interface names are too short for a run id).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..runs import Run, register_sweeper, run_of
from . import netns
from .netns import NetnsError

MAX_HOSTS = 64  # virtual hosts 0..63: .10 to .73


@dataclass(frozen=True)
class Addresses:
    network: str = "10.33.0.0"
    prefix: int = 24
    target_ip: str = "10.33.0.2"
    target_mac: str = "52:54:00:33:00:02"
    tools_ip: str = "10.33.0.1"
    broadcast: str = "10.33.0.255"
    unused_ip: str = "10.33.0.99"

    def host_ip(self, i: int) -> str:
        _check_host(i)
        base = self.network.rsplit(".", 1)[0]
        return f"{base}.{10 + i}"

    def host_mac(self, i: int) -> str:
        _check_host(i)
        return "02:00:00:33:00:%02x" % (10 + i)

    def host_index(self, ip: str) -> int | None:
        """Which virtual host owns ip, if any."""
        base, _, last = ip.rpartition(".")
        if base != self.network.rsplit(".", 1)[0] or not last.isdigit():
            return None
        i = int(last) - 10
        return i if 0 <= i < MAX_HOSTS else None


def _check_host(i: int) -> None:
    if not 0 <= i < MAX_HOSTS:
        raise ValueError(f"virtual host {i}: there are {MAX_HOSTS} (0..{MAX_HOSTS - 1})")


def _worker_tag() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "")


class Wire:
    """The worker's namespace. Create it with ``Wire(run).create()``;
    ``close()`` (also registered with the run) removes it and its links."""

    def __init__(self, run: Run, addr: Addresses | None = None) -> None:
        self.run_ = run
        self.addr = addr or Addresses()
        worker = _worker_tag()
        self.ns = run.name(f"{worker}-wire" if worker else "wire")
        self._worker_tag = worker.removeprefix("gw") if worker else "m"
        self._links = 0
        self._undo: Callable[[], None] | None = None

    # ---- life cycle --------------------------------------------------------------

    def create(self) -> Wire:
        netns.delete(self.ns)  # a leftover of this very run (a restarted worker)
        netns.create(self.ns)
        self._undo = self.run_.on_close(f"namespace {self.ns}", lambda: netns.delete(self.ns))
        return self

    def close(self) -> None:
        if self._undo is not None:
            self._undo()
            self._undo = None

    def __enter__(self) -> Wire:
        return self.create() if self._undo is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- tools inside the namespace ------------------------------------------------

    def run(
        self,
        argv: Sequence[str],
        timeout: float = 30.0,
        check: bool = False,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Runs a command in the wire namespace, output captured as text."""
        full = netns.exec_argv(self.ns, argv)
        try:
            result = subprocess.run(
                full,
                input=input,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                preexec_fn=netns.prepare_child,
            )
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else e.stdout
            raise NetnsError(
                f"`{' '.join(argv)}` in {self.ns} did not end within {timeout:g} s; "
                f"output so far:\n{out or ''}"
            ) from None
        if check and result.returncode != 0:
            raise NetnsError(
                f"`{' '.join(argv)}` in {self.ns} failed ({result.returncode}):\n"
                f"{result.stdout}{result.stderr}"
            )
        return result

    def popen(self, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[str]:
        """Starts a command in the wire namespace (text mode; pass stdout=... to
        capture). It is killed when the harness dies, and SIGINT stops it even
        when the harness ignores SIGINT; stop it yourself by PID."""
        kwargs.setdefault("text", True)
        kwargs.setdefault("preexec_fn", netns.prepare_child)
        return subprocess.Popen(netns.exec_argv(self.ns, argv), **kwargs)

    def socket_in_ns(self, family: int, type: int, proto: int = 0) -> socket.socket:
        """A socket in the wire namespace (it stays there for its lifetime)."""
        return netns.socket_in(self.ns, family, type, proto)

    def call(self, fn: Callable[[], Any]) -> Any:
        """Calls fn in a thread inside the wire namespace."""
        return netns.run_in(self.ns, fn)

    # ---- links ---------------------------------------------------------------------

    def _next(self) -> int:
        self._links += 1
        return self._links

    def new_tap(self) -> str:
        """A persistent tap in the ROOT namespace, for a hypervisor to open by
        name; ``adopt(name)`` moves it into the wire once it is attached.
        Interface names are 15 bytes at most, so the run's full name goes
        into the tap's alias, where the sweeper reads it."""
        n = self._next()
        token = self.run_.id.rsplit("-", 1)[-1]
        name = f"rz{token}{self._worker_tag}t{n}"
        if len(name) > 15:
            raise NetnsError(f"tap name {name!r} is longer than 15 bytes")
        alias = self.run_.name(f"{_worker_tag() or 'main'}-tap-{n}")
        netns.ip("tuntap", "add", "dev", name, "mode", "tap")
        try:
            netns.ip("link", "set", "dev", name, "alias", alias)
        except NetnsError:
            netns.ip("link", "delete", name, check=False)
            raise
        return name

    def adopt(self, name: str) -> None:
        """Moves a root-namespace interface into the wire, gives it tools_ip
        and brings it up."""
        netns.ip("link", "set", "dev", name, "netns", self.ns)
        self.configure(name)

    def configure(self, name: str) -> None:
        a = self.addr
        netns.ip_batch(
            [
                f"addr add {a.tools_ip}/{a.prefix} broadcast {a.broadcast} dev {name}",
                f"link set dev {name} up",
            ],
            netns=self.ns,
        )

    def new_veth(self, target_ns: str, mac: str | None = None) -> str:
        """A veth pair: "eth0" (down, unaddressed, with mac) in target_ns, and
        its peer in the wire, configured. Returns the wire end's name."""
        name = f"rzv{self._next()}"
        cmd = ["-n", self.ns, "link", "add", name, "type", "veth", "peer", "name", "eth0"]
        if mac:
            cmd += ["address", mac]
        netns.ip(*cmd, "netns", target_ns)
        self.configure(name)
        return name

    def wait_carrier(self, name: str, timeout: float = 2.0) -> None:
        """Waits until the link has carrier (its other end is up), so that
        frames sent on it are not dropped."""
        deadline = time.monotonic() + timeout
        while True:
            out = netns.ip("-n", self.ns, "-j", "link", "show", "dev", name).stdout
            data = json.loads(out or "[]")
            if data and "LOWER_UP" in data[0].get("flags", []):
                return
            if time.monotonic() >= deadline:
                raise NetnsError(f"{name} in {self.ns} has no carrier after {timeout:g} s")
            time.sleep(0.005)

    def remove_link(self, name: str) -> None:
        """Deletes the link (a tap in the wire or still in the root namespace,
        or a veth end, which takes its peer with it); a no-op when gone."""
        if netns.exists(self.ns):
            netns.ip("-n", self.ns, "link", "delete", name, check=False)
        with contextlib.suppress(NetnsError):
            if _root_link_alias(name) is not None:
                netns.ip("link", "delete", name, check=False)

    def links(self) -> list[str]:
        out = netns.ip("-n", self.ns, "-j", "link", "show").stdout
        return [link["ifname"] for link in json.loads(out or "[]") if link["ifname"] != "lo"]


def _root_link_alias(name: str) -> str | None:
    """The alias of a root-namespace interface ("" if none), None if absent."""
    result = netns.ip("-j", "link", "show", "dev", name, check=False)
    if result.returncode != 0:
        return None
    data = json.loads(result.stdout or "[]")
    return str(data[0].get("ifalias", "")) if data else None


# ---- sweeping ------------------------------------------------------------------


def sweep_namespaces(dead: Callable[[str], bool]) -> list[str]:
    removed = []
    for name in netns.names():
        run_id = run_of(name)
        if run_id and dead(run_id):
            netns.delete(name)
            removed.append(name)
    return removed


def sweep_taps(dead: Callable[[str], bool]) -> list[str]:
    """Taps in the root namespace whose alias names a dead run."""
    result = netns.ip("-j", "link", "show", check=False)
    removed = []
    for link in json.loads(result.stdout or "[]"):
        run_id = run_of(str(link.get("ifalias", "")))
        if run_id and dead(run_id):
            netns.ip("link", "delete", link["ifname"], check=False)
            removed.append(f"{link['ifname']} ({link['ifalias']})")
    return removed


register_sweeper("network namespaces", sweep_namespaces)
register_sweeper("tap devices", sweep_taps)
