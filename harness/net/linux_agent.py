"""The Linux reference target's agent: the control-channel protocol of
harness/agent.py on stdin/stdout, answered with real Linux facilities from
inside the target's namespace.

    ip netns exec NS python -m ringzero.net.linux_agent [--dev eth0]

Commands (a table, so later issues add socket commands beside these):
  ping    -> {"pong": true}
  config  -> {"mac", "ip", "prefix", "gateway", "mtu"} of the interface
  stats   -> {"counters": {"Ip.InHdrErrors": n, ...}} from /proc/net/snmp, netstat
  arp     -> {"entries": [{"ip", "mac", "resolved", "state", "queued"}]} (ip neigh)
  udp_bind {port, echo}  -> {"port"}: a UDP socket (port 0: the kernel picks); with
                            echo, a thread sends every datagram back (RFC 862)
  udp_send {port, ip, dst_port, hex | size+seed, count} -> {"result", "results"}
  udp_recv {port}        -> {"datagrams": [{"src", "src_port", "dst", "size", "hex",
                            "broadcast"}], "dropped", "errors", "stats"}
  udp_close {port}
The same as the unikernel's agent (services/conformance/service.cpp), so that
the suites drive both alike. Unknown commands and failures reply
{"ok": false, "error": "..."}.
"""

from __future__ import annotations

import argparse
import errno
import json
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

Handler = Callable[[dict[str, Any]], dict[str, Any]]

# <linux/in.h>, <linux/errqueue.h>; Python's socket module lacks some.
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
IP_RECVERR = getattr(socket, "IP_RECVERR", 11)
MSG_ERRQUEUE = getattr(socket, "MSG_ERRQUEUE", 0x2000)
SO_EE_ORIGIN_ICMP = 2
SOCK_EXTENDED_ERR = struct.Struct("=IBBBBII")


class CommandError(Exception):
    pass


class LinuxAgent:
    def __init__(self, dev: str = "eth0") -> None:
        self.dev = dev
        self.commands: dict[str, Handler] = {
            "ping": self.ping,
            "config": self.config,
            "stats": self.stats,
            "arp": self.arp,
            "udp_bind": self.udp_bind,
            "udp_send": self.udp_send,
            "udp_recv": self.udp_recv,
            "udp_close": self.udp_close,
        }
        self.sockets: dict[int, _UdpSocket] = {}

    # ---- the loop ----------------------------------------------------------------

    def serve(self, lines: Any, out: Any) -> None:
        for line in lines:
            if not line.strip():
                continue
            out.write(json.dumps(self.handle(line), separators=(",", ":")) + "\n")
            out.flush()

    def handle(self, line: str) -> dict[str, Any]:
        try:
            request = json.loads(line)
        except json.JSONDecodeError as e:
            return {"id": None, "ok": False, "error": f"not JSON: {e}"}
        if not isinstance(request, dict):
            return {"id": None, "ok": False, "error": "a request is a JSON object"}
        ident = request.get("id")
        cmd = request.get("cmd")
        handler = self.commands.get(str(cmd))
        if handler is None:
            known = ", ".join(sorted(self.commands))
            return {"id": ident, "ok": False, "error": f"unknown command {cmd!r} (known: {known})"}
        try:
            reply = handler(request)
        except (CommandError, OSError, ValueError, KeyError) as e:
            return {"id": ident, "ok": False, "error": str(e)}
        return {"id": ident, "ok": True, **reply}

    # ---- commands ------------------------------------------------------------------

    def ping(self, _req: dict[str, Any]) -> dict[str, Any]:
        return {"pong": True}

    def config(self, _req: dict[str, Any]) -> dict[str, Any]:
        link = _ip_json("link", "show", "dev", self.dev)[0]
        addrs = _ip_json("-4", "addr", "show", "dev", self.dev)[0].get("addr_info", [])
        inet = next((a for a in addrs if a.get("family") == "inet"), None)
        routes = _ip_json("-4", "route", "show", "default")
        return {
            "mac": link.get("address"),
            "ip": inet["local"] if inet else None,
            "prefix": inet["prefixlen"] if inet else None,
            "gateway": routes[0].get("gateway") if routes else None,
            "mtu": link.get("mtu"),
        }

    def stats(self, _req: dict[str, Any]) -> dict[str, Any]:
        counters: dict[str, int] = {}
        for name in ("snmp", "netstat"):
            counters.update(proc_net_counters(Path("/proc/net") / name))
        return {"counters": counters}

    def arp(self, _req: dict[str, Any]) -> dict[str, Any]:
        entries = []
        for n in _ip_json("-4", "neigh", "show", "dev", self.dev):
            states = n.get("state", [])
            state = "|".join(states) if isinstance(states, list) else str(states)
            mac = n.get("lladdr")
            entries.append(
                {
                    "ip": n.get("dst"),
                    "mac": mac,
                    "resolved": bool(mac) and not {"INCOMPLETE", "FAILED"} & set(states),
                    "state": state,
                    "queued": 0,  # Linux does not report its per-neighbour queue
                }
            )
        return {"entries": entries}

    # ---- UDP ---------------------------------------------------------------------

    def udp_bind(self, req: dict[str, Any]) -> dict[str, Any]:
        port = _port(req, "port")
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            sock.bind(("0.0.0.0", port))
        except OSError as e:
            sock.close()
            raise CommandError(f"port {port} is taken: {e}") from None
        bound = sock.getsockname()[1]
        broadcasts = {"255.255.255.255"}
        for a in _ip_json("-4", "addr", "show", "dev", self.dev)[0].get("addr_info", []):
            if a.get("broadcast"):
                broadcasts.add(a["broadcast"])
        self.sockets[bound] = _UdpSocket(
            sock, echo=bool(req.get("echo", False)), broadcasts=broadcasts
        )
        return {"port": bound}

    def _socket(self, req: dict[str, Any]) -> _UdpSocket:
        port = _port(req, "port")
        s = self.sockets.get(port)
        if s is None:
            raise CommandError(f"no socket on port {port} (udp_bind first)")
        return s

    def udp_send(self, req: dict[str, Any]) -> dict[str, Any]:
        s = self._socket(req)
        dst = (str(req["ip"]), _port(req, "dst_port"))
        if "hex" in req:
            data = bytes.fromhex(str(req["hex"]))
        else:
            seed = int(req.get("seed", 0))
            data = bytes((i * 7 + seed) & 0xFF for i in range(int(req.get("size", 0))))
        results: dict[str, int] = {}
        first = ""
        for _ in range(int(req.get("count", 1))):
            try:
                s.sock.sendto(data, dst)
                result = "sent"
            except OSError as e:
                result = _send_error(e)
            first = first or result
            results[result] = results.get(result, 0) + 1
        return {"result": first, "results": results}

    def udp_recv(self, req: dict[str, Any]) -> dict[str, Any]:
        s = self._socket(req)
        return {
            "datagrams": s.drain(),
            "dropped": 0,
            # ICMP errors (IP_RECVERR); Linux tells nothing of ARP failures.
            "errors": s.errors(),
            "stats": {"rx_datagrams": s.rx, "tx_datagrams": 0, "tx_failed": 0},
        }

    def udp_close(self, req: dict[str, Any]) -> dict[str, Any]:
        s = self._socket(req)
        del self.sockets[_port(req, "port")]
        s.close()
        return {}


class _UdpSocket:
    """A socket of udp_bind: datagrams kept for udp_recv, or echoed by a thread."""

    def __init__(self, sock: socket.socket, *, echo: bool, broadcasts: set[str]) -> None:
        self.sock = sock
        self.rx = 0
        self.broadcasts = broadcasts
        # The destination of each datagram (struct in_pktinfo's ipi_addr).
        sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
        if not echo:
            # ICMP errors about what it sent, on the error queue (ip(7)).
            sock.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
        self._thread: threading.Thread | None = None
        if echo:
            self._thread = threading.Thread(target=self._echo, daemon=True)
            self._thread.start()
        else:
            sock.setblocking(False)

    def _echo(self) -> None:
        while True:
            try:
                data, src = self.sock.recvfrom(65535)
                self.rx += 1
                self.sock.sendto(data, src)
            except ConnectionError:
                continue  # an ICMP error about an echo: not ours to stop for
            except OSError:
                return  # closed

    def drain(self) -> list[dict[str, Any]]:
        out = []
        while True:
            try:
                data, ancdata, _flags, (ip, port) = self.sock.recvmsg(65535, socket.CMSG_SPACE(12))
            except BlockingIOError:
                return out
            except ConnectionError:
                continue  # a pending ICMP error, said once; errors() reads the details
            self.rx += 1
            dst = "0.0.0.0"
            for level, kind, value in ancdata:
                if level == socket.IPPROTO_IP and kind == IP_PKTINFO and len(value) >= 12:
                    dst = socket.inet_ntoa(value[8:12])
            out.append(
                {
                    "src": ip,
                    "src_port": port,
                    "dst": dst,
                    "size": len(data),
                    "hex": data.hex(),
                    "broadcast": dst in self.broadcasts,
                }
            )

    def errors(self) -> list[dict[str, Any]]:
        """The ICMP errors queued for this socket, as the unikernel's agent
        names them."""
        out = []
        while True:
            try:
                _data, ancdata, _flags, addr = self.sock.recvmsg(1, 512, MSG_ERRQUEUE)
            except (BlockingIOError, InterruptedError):
                return out
            for level, kind, value in ancdata:
                if level != socket.IPPROTO_IP or kind != IP_RECVERR:
                    continue
                if len(value) < SOCK_EXTENDED_ERR.size:
                    continue
                _errno, origin, icmp_type, code, *_ = SOCK_EXTENDED_ERR.unpack_from(value)
                if origin == SO_EE_ORIGIN_ICMP:
                    why = _icmp_why(icmp_type, code)
                    out.append({"dst": addr[0], "dst_port": addr[1], "why": why})

    def close(self) -> None:
        self.sock.close()


def _icmp_why(icmp_type: int, code: int) -> str:
    if icmp_type == 3:
        return "port_unreachable" if code == 3 else "unreachable"
    return {4: "source_quench", 11: "time_exceeded", 12: "parameter_problem"}.get(
        icmp_type, f"icmp_{icmp_type}_{code}"
    )


def _port(req: dict[str, Any], key: str) -> int:
    value = req.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 65535:
        raise CommandError(f'bad request: "{key}" must be a port number')
    return value


def _send_error(e: OSError) -> str:
    """The unikernel agent's name for a failed send."""
    return {
        errno.ENETUNREACH: "no_route",
        errno.EHOSTUNREACH: "no_route",
        errno.ENOBUFS: "no_buffer",
        errno.EMSGSIZE: "too_big",
        errno.EAGAIN: "device_full",
        errno.EINVAL: "bad_address",
        errno.EDESTADDRREQ: "bad_address",
    }.get(e.errno or 0, errno.errorcode.get(e.errno or 0, str(e)))


def proc_net_counters(path: Path) -> dict[str, int]:
    """/proc/net/snmp-style pairs of lines ("Ip: Forwarding ..." then
    "Ip: 1 ...") as {"Ip.Forwarding": 1, ...}."""
    counters: dict[str, int] = {}
    lines = path.read_text().splitlines()
    for header, values in zip(lines[::2], lines[1::2], strict=False):
        proto, _, names = header.partition(":")
        vproto, _, numbers = values.partition(":")
        if proto != vproto:
            continue
        for name, number in zip(names.split(), numbers.split(), strict=False):
            try:
                counters[f"{proto}.{name}"] = int(number)
            except ValueError:
                continue
    return counters


def _ip_json(*args: str) -> list[dict[str, Any]]:
    result = subprocess.run(["ip", "-j", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise CommandError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    data = json.loads(result.stdout or "[]")
    if not isinstance(data, list):
        raise CommandError(f"ip {' '.join(args)}: unexpected output")
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dev", default="eth0", help="the target's interface (default eth0)")
    args = parser.parse_args(argv)
    LinuxAgent(args.dev).serve(sys.stdin, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
