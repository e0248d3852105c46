"""Network namespaces: create, delete, and run code or commands inside one.

Namespaces are made with ``ip netns add`` (so they show in ``ip netns list``
and tools find them by name). Python code enters one in a short-lived thread
(``setns`` changes only the calling thread), which is enough for what needs
it: a socket keeps the namespace it was created in, and /proc/sys/net shows
the namespace of the thread that opens it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

CLONE_NEWNET = 0x40000000
NETNS_DIR = Path("/run/netns")
PR_SET_PDEATHSIG = 1

# The Debian package to install for each tool the harness or a suite runs.
PACKAGES = {
    "ip": "iproute2",
    "ping": "iputils-ping",
    "arping": "arping",
    "tcpdump": "tcpdump",
    "tshark": "tshark",
    "socat": "socat",
    "hping3": "hping3",
    "nmap": "nmap",
    "curl": "curl",
    "dig": "bind9-dnsutils",
    "iperf3": "iperf3",
    "ethtool": "ethtool",
    "dnsmasq": "dnsmasq-base",
}

_libc = ctypes.CDLL(None, use_errno=True)


class NetnsError(RuntimeError):
    pass


def require_tool(name: str) -> str:
    """The tool's path, or an error naming the Debian package that has it."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        package = PACKAGES.get(name, name)
        raise NetnsError(f"{name} is not installed: apt-get install {package} (or `make setup`)")
    return path


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Runs ``ip ARGS``; a failure raises with ip's own message."""
    argv = [require_tool("ip"), *args]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise NetnsError(f"`ip {' '.join(args)}` failed: {result.stderr.strip()}")
    return result


def ip_batch(commands: Sequence[str], netns: str | None = None) -> None:
    """Several ``ip`` commands in one process (``ip -batch``)."""
    argv = [require_tool("ip"), *(["-n", netns] if netns else []), "-batch", "-"]
    result = subprocess.run(
        argv, input="\n".join(commands) + "\n", capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise NetnsError(f"ip -batch failed: {result.stderr.strip()}\ncommands: {commands}")


def run(argv: Sequence[str], netns: str) -> None:
    """Runs a tool inside the namespace; a failure raises with its output."""
    result = subprocess.run(exec_argv(netns, argv), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        out = (result.stderr or result.stdout).strip()
        raise NetnsError(f"`{' '.join(argv)}` in {netns} failed: {out}")


def exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


def names() -> list[str]:
    try:
        return sorted(p.name for p in NETNS_DIR.iterdir())
    except FileNotFoundError:
        return []


def create(name: str, *, ipv6: bool = False) -> None:
    """A new namespace with loopback up and (by default) IPv6 off."""
    ip("netns", "add", name)
    try:

        def setup() -> None:
            if not ipv6:
                for key in ("all", "default"):
                    write_sysctl(f"net.ipv6.conf.{key}.disable_ipv6", "1")

        run_in(name, setup)
        ip("-n", name, "link", "set", "lo", "up")
    except Exception:
        delete(name)
        raise


def delete(name: str) -> None:
    """Removes the namespace (a no-op when it is gone). Its virtual devices
    go with it once nothing holds it (processes, sockets)."""
    if exists(name):
        ip("netns", "delete", name, check=False)


def run_in(name: str, fn: Callable[[], T]) -> T:
    """Calls fn in a thread that has entered the namespace; returns its result."""
    result: list[T] = []
    error: list[BaseException] = []

    def body() -> None:
        try:
            fd = os.open(NETNS_DIR / name, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            error.append(NetnsError(f"no network namespace {name!r}"))
            return
        try:
            if _libc.setns(fd, CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                error.append(NetnsError(f"setns({name}): {os.strerror(err)}"))
                return
        finally:
            os.close(fd)
        try:
            result.append(fn())
        except BaseException as e:
            error.append(e)

    thread = threading.Thread(target=body, name=f"netns {name}")
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


def socket_in(name: str, family: int, type: int, proto: int = 0) -> socket.socket:
    """A socket that belongs to the namespace (it keeps it for its lifetime)."""
    return run_in(name, lambda: socket.socket(family, type, proto))


def write_sysctl(key: str, value: str) -> None:
    """Writes a sysctl of the calling thread's namespace (use inside run_in)."""
    Path("/proc/sys", *key.split(".")).write_text(f"{value}\n")


def read_sysctl(key: str) -> str:
    return Path("/proc/sys", *key.split(".")).read_text().strip()


def sysctls(name: str, values: dict[str, str]) -> None:
    """Sets net.* sysctls inside the namespace, in order."""

    def apply() -> None:
        for key, value in values.items():
            write_sysctl(key, value)

    run_in(name, apply)


def prepare_child() -> None:
    """In a child before exec: SIGKILL when the harness dies, however it
    dies; and SIGINT back to its default action. A harness started in the
    background of a script inherits SIGINT ignored, and so would every tool
    it starts, yet the floods end tools without a limit of their own (ping
    -f, hping3, httperf) with SIGINT, for them to print their statistics."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def exec_argv(name: str, argv: Sequence[str]) -> list[str]:
    """argv run inside the namespace with ``ip netns exec`` (which execs it:
    the PID is the tool's own). Fails with the package to install when the
    tool is missing."""
    if not argv:
        raise ValueError("empty command")
    tool = argv[0] if "/" in argv[0] else require_tool(argv[0])
    return [require_tool("ip"), "netns", "exec", name, tool, *argv[1:]]


def pids_in(name: str) -> list[int]:
    """Processes inside the namespace (``ip netns pids``)."""
    with contextlib.suppress(NetnsError):
        out = ip("netns", "pids", name).stdout
        return [int(p) for p in out.split()]
    return []
