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
  tcp_listen, tcp_unlisten, tcp_accept, tcp_connect, tcp_send, tcp_recv,
  tcp_shutdown, tcp_close, tcp_abort, tcp_set, tcp_state, tcp_list: TCP
                          connections on real non-blocking sockets (see _Tcp)
The same as the unikernel's agent (services/conformance/service.cpp), so that
the suites drive both alike. Unknown commands and failures reply
{"ok": false, "error": "..."}.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import fcntl
import hashlib
import itertools
import json
import os
import resource
import selectors
import socket
import struct
import subprocess
import sys
import termios
import threading
import traceback
from collections import deque
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
        self.tcp = _Tcp()
        for name in _Tcp.COMMANDS:
            self.commands[name] = getattr(self.tcp, name)

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
        except (CommandError, OSError, ValueError, KeyError, TypeError) as e:
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
        out: list[dict[str, Any]] = []
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
        out: list[dict[str, Any]] = []
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


# ---- TCP -------------------------------------------------------------------------

# RFC 9293 names of Linux's TCP states (include/net/tcp_states.h); 12,
# TCP_NEW_SYN_RECV, is a request socket, RFC 9293's SYN-RECEIVED.
TCP_STATES = {
    1: "ESTABLISHED",
    2: "SYN-SENT",
    3: "SYN-RECEIVED",
    4: "FIN-WAIT-1",
    5: "FIN-WAIT-2",
    6: "TIME-WAIT",
    7: "CLOSED",
    8: "CLOSE-WAIT",
    9: "LAST-ACK",
    10: "LISTEN",
    11: "CLOSING",
    12: "SYN-RECEIVED",
}
MODES = ("hold", "echo", "discard", "chargen")
# struct tcp_info (<linux/tcp.h>): (offset, format) of the fields used; the
# kernel returns as much of the struct as it has, and tcpi_snd_wnd (5.4) and
# tcpi_rcv_wnd (6.2) are read only when the returned length covers them.
TCP_INFO_FIELDS = {
    "state": (0, "B"),
    "rto": (8, "I"),  # microseconds, as rtt and rttvar
    "snd_mss": (16, "I"),
    "rtt": (68, "I"),
    "rttvar": (72, "I"),
    "snd_ssthresh": (76, "I"),  # segments, as snd_cwnd
    "snd_cwnd": (80, "I"),
    "total_retrans": (100, "I"),
    "notsent_bytes": (144, "I"),
    "snd_wnd": (228, "I"),
    "rcv_wnd": (232, "I"),
}
TCP_INFO_SIZE = 512
TCP_INFINITE_SSTHRESH = 0x7FFFFFFF
TCP_USER_TIMEOUT = getattr(socket, "TCP_USER_TIMEOUT", 18)
CHUNK = 256 * 1024  # the most one recv() or send() moves
# Hold mode: the agent stops reading when this much waits for tcp_recv, so
# that the kernel's receive buffer fills and its window closes (zero-window
# tests); tcp_recv reads on from the socket.
HOLD_LIMIT = 64 * 1024
# Echo mode: the agent stops reading while this much waits to be sent back.
ECHO_LIMIT = 1 << 20
ERROR_NAMES = {
    errno.ECONNRESET: "reset",
    errno.EPIPE: "reset",  # an RST in CLOSE-WAIT (tcp_reset())
    errno.ECONNREFUSED: "refused",
    errno.ETIMEDOUT: "timeout",
    errno.ECONNABORTED: "aborted",
    errno.EHOSTUNREACH: "unreachable",
    errno.ENETUNREACH: "unreachable",
}


def pattern_block(seed: int) -> bytes:
    """The suites' pattern (byte i = (i*7 + seed) & 0xff) from offset 0,
    CHUNK + 256 bytes long: 7 is odd, so the pattern repeats every 256 bytes
    and any CHUNK of it at offset o starts at o % 256 of this block."""
    period = bytes((i * 7 + seed) & 0xFF for i in range(256))
    return period * (CHUNK // 256 + 1)


class _Pattern:
    """size bytes of the pattern (None: endless), handed out without copies."""

    def __init__(self, size: int | None, seed: int) -> None:
        self.left = size
        self.offset = 0
        self.block = memoryview(pattern_block(seed & 0xFF))

    def peek(self, n: int) -> memoryview:
        n = min(n, CHUNK) if self.left is None else min(n, CHUNK, self.left)
        start = self.offset % 256
        return self.block[start : start + n]

    def consume(self, n: int) -> None:
        self.offset += n
        if self.left is not None:
            self.left -= n


class _Outgoing:
    """Data queued for a connection that the socket has not taken yet:
    buffers and pattern sources, in order."""

    def __init__(self) -> None:
        self.items: deque[memoryview | _Pattern] = deque()
        self.size = 0  # queued bytes, endless sources not counted

    def __bool__(self) -> bool:
        return bool(self.items)

    def add(self, item: bytes | _Pattern) -> None:
        if isinstance(item, _Pattern):
            if item.left == 0:
                return
            self.size += item.left or 0
            self.items.append(item)
        elif item:
            self.size += len(item)
            self.items.append(memoryview(item))

    def peek(self, n: int) -> memoryview:
        head = self.items[0]
        return head.peek(n) if isinstance(head, _Pattern) else head[:n]

    def consume(self, n: int) -> None:
        head = self.items[0]
        if isinstance(head, _Pattern):
            head.consume(n)
            if head.left is not None:
                self.size -= n
            if head.left == 0:
                self.items.popleft()
        else:
            self.size -= n
            if n == len(head):
                self.items.popleft()
            else:
                self.items[0] = head[n:]

    def stop_endless(self) -> None:
        self.items = deque(
            i for i in self.items if not (isinstance(i, _Pattern) and i.left is None)
        )

    def clear(self) -> None:
        self.items.clear()
        self.size = 0


class _Conn:
    """One TCP connection of the agent. While `sock` is set the agent owns
    the socket; after close (by tcp_close, tcp_abort, or a service mode
    finishing) only the record stays, and the kernel's state of the 4-tuple
    comes from /proc/net/tcp."""

    def __init__(
        self,
        ident: int,
        sock: socket.socket,
        remote: tuple[str, int],
        mode: str,
        *,
        connecting: bool = False,
    ) -> None:
        self.id = ident
        self.sock: socket.socket | None = sock
        self.mode = mode
        self.remote = remote
        self.local: tuple[str, int] = sock.getsockname()
        # Urgent data stays in the stream (RFC 9293 3.8.5; RFC 6093 5 asks
        # for SO_OOBINLINE), as on the unikernel.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_OOBINLINE, 1)
        self.connecting = connecting
        self.out = _Outgoing()
        self.inbuf = bytearray()
        self.eof = False  # the peer's FIN has been read
        self.shut_wr = False  # shutdown(SHUT_WR) done
        self.fin_pending = False  # shutdown once out is sent
        self.close_pending = False  # close() once out is sent
        self.error: str | None = None
        self.rx_bytes = 0
        self.tx_bytes = 0
        self.rx_sha = hashlib.sha256()
        self.tx_sha = hashlib.sha256()
        self.info: dict[str, int] = {}  # the last TCP_INFO, kept when the socket goes
        self.events = 0  # selector interest registered

    def wants_read(self) -> bool:
        if self.eof or self.error is not None:
            return False
        if self.mode == "hold":
            # The application holds its data in the kernel until tcp_recv
            # (as the unikernel's agent does): the window closes, a close()
            # with unread data resets, and the kernel's own rules show.
            return False
        if self.mode == "echo":
            return self.out.size < ECHO_LIMIT
        return True

    def closing(self) -> bool:
        """A FIN asked for (shutdown or close) and not yet handed to the kernel."""
        return self.fin_pending or self.close_pending


class _Listener:
    def __init__(
        self, sock: socket.socket, port: int, mode: str, size: int, seed: int, nodelay: bool
    ) -> None:
        self.sock = sock
        self.port = port
        self.mode = mode
        self.size = size
        self.seed = seed
        self.nodelay = nodelay
        self.accepted: list[dict[str, Any]] = []  # since the last tcp_accept


class _Tcp:
    """The TCP commands. Every connection is a non-blocking socket served by
    one thread's selector loop: it accepts on listeners, reads (into the
    hold buffer, back out for echo, away for discard and chargen), pushes
    queued data as the socket takes it, and sends FIN or closes when a
    mode says so. Commands and the loop share one lock; the loop waits in
    select() without it (epoll takes interest changes from any thread)."""

    COMMANDS = (
        "tcp_listen",
        "tcp_unlisten",
        "tcp_accept",
        "tcp_connect",
        "tcp_send",
        "tcp_recv",
        "tcp_shutdown",
        "tcp_close",
        "tcp_abort",
        "tcp_set",
        "tcp_state",
        "tcp_list",
    )

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.selector = selectors.DefaultSelector()
        self.conns: dict[int, _Conn] = {}
        self.listeners: dict[int, _Listener] = {}
        self._ids = itertools.count(1)
        self._thread: threading.Thread | None = None

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="tcp", daemon=True)
            self._thread.start()

    # ---- commands --------------------------------------------------------------------

    def tcp_listen(self, req: dict[str, Any]) -> dict[str, Any]:
        port = _port(req, "port")
        mode, size, seed = _mode(req)
        backlog = int(req.get("backlog", 16))
        with self.lock:
            if port and port in self.listeners:
                raise CommandError(f"port {port} is in use (a listener of this agent)")
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(("0.0.0.0", port))
                sock.listen(backlog)
            except OSError as e:
                sock.close()
                raise CommandError(f"port {port} is in use: {e}") from None
            sock.setblocking(False)
            bound = sock.getsockname()[1]
            listener = _Listener(sock, bound, mode, size, seed, bool(req.get("nodelay", False)))
            self.listeners[bound] = listener
            self.selector.register(sock, selectors.EVENT_READ, listener)
        self._start()
        return {"port": bound}

    def tcp_unlisten(self, req: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            listener = self._listener(req)
            del self.listeners[listener.port]
            self.selector.unregister(listener.sock)
            listener.sock.close()
        return {}

    def tcp_accept(self, req: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            listener = self._listener(req)
            self._accept(listener)  # what the loop has not taken yet
            conns, listener.accepted = listener.accepted, []
        return {"conns": conns}

    def tcp_connect(self, req: dict[str, Any]) -> dict[str, Any]:
        ip = str(req["ip"])
        port = _port(req, "port")
        local_port = _port(req, "local_port") if "local_port" in req else 0
        mode, size, seed = _mode(req)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            if local_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(("0.0.0.0", local_port))
            if req.get("nodelay"):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setblocking(False)
            err = sock.connect_ex((ip, port))
            if err not in (0, errno.EINPROGRESS):
                raise CommandError(f"connect to {ip}:{port}: {os_error_text(err)}")
        except OSError as e:
            sock.close()
            raise CommandError(f"connect to {ip}:{port}: {e}") from None
        except CommandError:
            sock.close()
            raise
        with self.lock:
            conn = _Conn(next(self._ids), sock, (ip, port), mode, connecting=True)
            self._serve_mode(conn, size, seed)
            self.conns[conn.id] = conn
            self._interest(conn)
        self._start()
        return {"conn": conn.id}

    def tcp_send(self, req: dict[str, Any]) -> dict[str, Any]:
        item: bytes | _Pattern
        if "hex" in req:
            data = bytes.fromhex(str(req["hex"]))
            item, n = data, len(data)
        else:
            n = int(req.get("size", 0))
            if n < 0:
                raise CommandError('bad request: "size" must be >= 0')
            item = _Pattern(n, int(req.get("seed", 0)))
        with self.lock:
            conn = self._conn(req)
            if conn.sock is None or conn.error is not None:
                raise CommandError(f"connection {conn.id} is closed ({conn.error or 'closed'})")
            if conn.shut_wr or conn.closing():
                raise CommandError(f"connection {conn.id} has been shut down for sending")
            if req.get("urgent"):
                # Urgent data goes at once or not at all (MSG_OOB: the
                # urgent pointer marks its end, RFC 9293 3.8.5).
                if conn.out or not isinstance(item, bytes):
                    raise CommandError("urgent data needs hex= and an empty queue")
                try:
                    sent = conn.sock.send(item, socket.MSG_OOB)
                except OSError as e:
                    raise CommandError(f"urgent send failed: {e}") from None
                conn.tx_bytes += sent
                conn.tx_sha.update(item[:sent])
                return {"queued": sent}
            conn.out.add(item)
            self._push(conn)
            self._interest(conn)
        return {"queued": n}

    def tcp_recv(self, req: dict[str, Any]) -> dict[str, Any]:
        limit = int(req.get("max", 65536))
        with self.lock:
            conn = self._conn(req)
            data = bytes(conn.inbuf[:limit])
            del conn.inbuf[:limit]
            if conn.mode == "hold":
                # What the kernel holds, straight from the socket.
                while (
                    len(data) < limit
                    and conn.sock is not None
                    and not conn.eof
                    and conn.error is None
                ):
                    more = self._recv(conn, limit - len(data))
                    if not more:
                        break
                    data += more
                if conn.eof:
                    self._peer_closed(conn)
            eof = conn.eof and not conn.inbuf
            self._interest(conn)
        return {"hex": data.hex(), "size": len(data), "eof": eof}

    def tcp_shutdown(self, req: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            conn = self._conn(req)
            if conn.sock is None:
                raise CommandError(f"connection {conn.id} is closed")
            if not conn.shut_wr:
                conn.fin_pending = True
                self._push(conn)
                self._interest(conn)
        return {}

    def tcp_close(self, req: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            conn = self._conn(req)
            if conn.sock is not None:
                if conn.out and conn.error is None and not conn.connecting:
                    # FIN after the queued data, as close() does for the kernel's own.
                    conn.close_pending = True
                    self._push(conn)
                    self._interest(conn)
                else:
                    self._close(conn)
        return {}

    def tcp_abort(self, req: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            conn = self._conn(req)
            if conn.sock is not None:
                # SO_LINGER {on, 0 s}: close() sends RST and drops the connection.
                conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.out.clear()
                self._close(conn)
                conn.error = conn.error or "aborted"
        return {}

    def tcp_set(self, req: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            conn = self._conn(req)
            sock = conn.sock
            if sock is None:
                raise CommandError(f"connection {conn.id} is closed")
            if "nodelay" in req:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, int(bool(req["nodelay"])))
            if "keepalive" in req:
                # Flat keys, as the unikernel's agent reads them (its JSON
                # requests do not nest): keepalive, keepalive_idle_ms,
                # keepalive_interval_ms, keepalive_count.
                if req["keepalive"]:
                    # Linux counts keep-alive times in whole seconds.
                    for key, opt in (
                        ("keepalive_idle_ms", socket.TCP_KEEPIDLE),
                        ("keepalive_interval_ms", socket.TCP_KEEPINTVL),
                    ):
                        if key in req:
                            seconds = max(1, -(-int(req[key]) // 1000))
                            sock.setsockopt(socket.IPPROTO_TCP, opt, seconds)
                    if "keepalive_count" in req:
                        count = int(req["keepalive_count"])
                        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, count)
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
                else:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 0)
            if "ttl" in req:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, int(req["ttl"]))
            if "tos" in req:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, int(req["tos"]))
            if "user_timeout_ms" in req:
                sock.setsockopt(socket.IPPROTO_TCP, TCP_USER_TIMEOUT, int(req["user_timeout_ms"]))
        return {}

    def tcp_state(self, req: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            return self._state(self._conn(req))

    def tcp_list(self, _req: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            return {
                "conns": [self._state(c) for c in self.conns.values()],
                "listeners": sorted(self.listeners),
            }

    # ---- state -----------------------------------------------------------------------

    def _conn(self, req: dict[str, Any]) -> _Conn:
        ident = req.get("conn")
        conn = self.conns.get(ident) if isinstance(ident, int) else None
        if conn is None:
            raise CommandError(f"no connection {ident!r}")
        return conn

    def _listener(self, req: dict[str, Any]) -> _Listener:
        port = _port(req, "port")
        listener = self.listeners.get(port)
        if listener is None:
            raise CommandError(f"no listener on port {port}")
        return listener

    def _state(self, conn: _Conn) -> dict[str, Any]:
        sock = conn.sock
        unread = len(conn.inbuf)
        if sock is not None:
            conn.info = tcp_info(sock)
            state = TCP_STATES.get(conn.info.get("state", 7), "CLOSED")
            if state == "CLOSED" and conn.error is None:
                err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    self._fail(conn, err)
                else:
                    # After an orderly close the kernel hands the 4-tuple to
                    # a TIME-WAIT entry and marks this socket CLOSED.
                    state = proc_tcp_state(conn.local, conn.remote) or "CLOSED"
            if conn.closing() and conn.error is None:
                # The FIN waits behind queued data, as in a kernel's send queue.
                state = {"ESTABLISHED": "FIN-WAIT-1", "CLOSE-WAIT": "LAST-ACK"}.get(state, state)
            if conn.sock is not None:
                unread += _ioctl_int(conn.sock, termios.FIONREAD)
        else:
            state = proc_tcp_state(conn.local, conn.remote) or "CLOSED"
        info = conn.info
        mss = info.get("snd_mss", 0)
        ssthresh = info.get("snd_ssthresh", 0)
        return {
            "conn": conn.id,
            "state": state,
            "local_ip": conn.local[0],
            "local_port": conn.local[1],
            "remote_ip": conn.remote[0],
            "remote_port": conn.remote[1],
            "error": conn.error,
            "rx_bytes": conn.rx_bytes,
            "tx_bytes": conn.tx_bytes,
            "rx_sha256": conn.rx_sha.hexdigest(),
            "tx_sha256": conn.tx_sha.hexdigest(),
            "unread": unread,
            # Queued in the agent, and written but not yet sent by the kernel.
            "unsent": conn.out.size + (info.get("notsent_bytes", 0) if sock else 0),
            "eof": conn.eof and not conn.inbuf,
            "stats": {
                "mss": mss,
                "cwnd": info.get("snd_cwnd", 0) * mss,
                # 2^31-1: not set yet (RFC 5681's "arbitrarily high")
                "ssthresh": min(ssthresh * mss, TCP_INFINITE_SSTHRESH),
                "srtt_ms": info.get("rtt", 0) / 1000,
                "rttvar_ms": info.get("rttvar", 0) / 1000,
                "rto_ms": info.get("rto", 0) / 1000,
                "retransmits": info.get("total_retrans", 0),
                "snd_wnd": info.get("snd_wnd"),
                "rcv_wnd": info.get("rcv_wnd"),
            },
        }

    # ---- the loop --------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            events = self.selector.select(timeout=1.0)
            with self.lock:
                for key, mask in events:
                    try:
                        if isinstance(key.data, _Listener):
                            if self.listeners.get(key.data.port) is key.data:
                                self._accept(key.data)
                        else:
                            self._serve(key.data, mask)
                    except Exception:
                        # A bug here must not stop every other connection;
                        # stderr is in the test's report. The connection
                        # stops being served (no busy loop on it).
                        traceback.print_exc(file=sys.stderr)
                        sys.stderr.flush()
                        self._quarantine(key)

    def _quarantine(self, key: selectors.SelectorKey) -> None:
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.selector.unregister(key.fileobj)
        if isinstance(key.data, _Conn):
            key.data.error = key.data.error or "agent-bug"
            key.data.events = 0

    def _accept(self, listener: _Listener) -> None:
        for _ in range(64):
            try:
                sock, (ip, port) = listener.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # ECONNABORTED and the like: that one is gone
            sock.setblocking(False)
            if listener.nodelay:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Conn(next(self._ids), sock, (ip, port), listener.mode)
            self._serve_mode(conn, listener.size, listener.seed)
            self.conns[conn.id] = conn
            listener.accepted.append({"conn": conn.id, "remote_ip": ip, "remote_port": port})
            self._push(conn)
            self._interest(conn)

    def _serve_mode(self, conn: _Conn, size: int, seed: int) -> None:
        if conn.mode == "chargen":
            conn.out.add(_Pattern(size or None, seed))
            conn.fin_pending = size > 0

    def _serve(self, conn: _Conn, mask: int) -> None:
        sock = conn.sock
        if sock is None or conn.error is not None:
            return
        if conn.connecting:
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                self._fail(conn, err)
                return
            if TCP_STATES.get(tcp_info(sock).get("state", 0)) == "SYN-SENT":
                return  # not yet
            conn.connecting = False
            conn.local = sock.getsockname()
        if mask & selectors.EVENT_READ:
            for _ in range(8):
                if not conn.wants_read() or not self._take(conn):
                    break
        self._push(conn)
        self._interest(conn)

    def _recv(self, conn: _Conn, n: int) -> bytes:
        """Up to n bytes from the socket, counted and hashed; b"" when there
        is nothing (now), the peer's FIN (eof set) or an error (error set)."""
        assert conn.sock is not None
        try:
            data = conn.sock.recv(n)
        except (BlockingIOError, InterruptedError):
            return b""
        except OSError as e:
            self._fail(conn, e.errno or 0)
            return b""
        if not data:
            conn.eof = True
            return b""
        conn.rx_bytes += len(data)
        conn.rx_sha.update(data)
        return data

    def _take(self, conn: _Conn) -> bool:
        """One read for the connection's mode; False when there is no more now."""
        room = HOLD_LIMIT - len(conn.inbuf) if conn.mode == "hold" else CHUNK
        data = self._recv(conn, max(1, min(room, CHUNK)))
        if conn.eof:
            self._peer_closed(conn)
        if not data:
            return False
        if conn.mode == "hold":
            conn.inbuf += data
        elif conn.mode == "echo":
            conn.out.add(data)
        return True

    def _peer_closed(self, conn: _Conn) -> None:
        if conn.mode == "echo" or conn.mode == "discard":
            conn.close_pending = True  # once everything is sent back
        elif conn.mode == "chargen":
            conn.out.stop_endless()  # size 0: until the peer closes
            conn.close_pending = True

    def _push(self, conn: _Conn) -> None:
        """Hands queued data to the socket until it takes no more, then the
        FIN or close that waits behind it."""
        sock = conn.sock
        if sock is None or conn.connecting or conn.error is not None:
            return
        while conn.out and not conn.shut_wr:
            chunk = conn.out.peek(CHUNK)
            try:
                n = sock.send(chunk)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                self._fail(conn, e.errno or 0)
                return
            conn.tx_sha.update(chunk[:n])
            conn.tx_bytes += n
            conn.out.consume(n)
            if n < len(chunk):
                return
        if conn.close_pending:
            self._close(conn)
        elif conn.fin_pending:
            conn.fin_pending = False
            conn.shut_wr = True
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError as e:
                self._fail(conn, e.errno or 0)

    def _fail(self, conn: _Conn, err: int) -> None:
        conn.error = ERROR_NAMES.get(err, errno.errorcode.get(err, str(err)).lower())
        conn.out.clear()
        conn.fin_pending = conn.close_pending = False
        if conn.mode != "hold":
            self._close(conn)  # a service closes a failed connection
        else:
            self._interest(conn)

    def _close(self, conn: _Conn) -> None:
        sock = conn.sock
        if sock is None:
            return
        conn.info = tcp_info(sock)
        conn.local = sock.getsockname()
        conn.close_pending = conn.fin_pending = False
        if conn.events:
            self.selector.unregister(sock)
            conn.events = 0
        conn.sock = None
        sock.close()

    def _interest(self, conn: _Conn) -> None:
        """Registers what the loop should wait for on the connection's socket."""
        sock = conn.sock
        if sock is None:
            return
        events = 0
        if conn.connecting:
            events = selectors.EVENT_WRITE
        elif conn.error is None:
            if conn.wants_read():
                events |= selectors.EVENT_READ
            if (conn.out or conn.closing()) and not conn.shut_wr:
                events |= selectors.EVENT_WRITE
        if events == conn.events:
            return
        if not conn.events:
            self.selector.register(sock, events, conn)
        elif not events:
            self.selector.unregister(sock)
        else:
            self.selector.modify(sock, events, conn)
        conn.events = events


def tcp_info(sock: socket.socket) -> dict[str, int]:
    """The fields of TCP_INFO_FIELDS the kernel returned."""
    raw = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, TCP_INFO_SIZE)
    info = {}
    for name, (offset, fmt) in TCP_INFO_FIELDS.items():
        if offset + struct.calcsize(fmt) <= len(raw):
            info[name] = struct.unpack_from(fmt, raw, offset)[0]
    return info


def proc_tcp_state(
    local: tuple[str, int], remote: tuple[str, int], path: Path = Path("/proc/net/tcp")
) -> str | None:
    """The kernel's state of a 4-tuple (sockets no process holds: FIN-WAIT-2,
    TIME-WAIT, ...), None when it has none."""
    want = (_proc_addr(*local), _proc_addr(*remote))
    for line in path.read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) > 3 and (fields[1], fields[2]) == want:
            return TCP_STATES.get(int(fields[3], 16))
    return None


def _proc_addr(ip: str, port: int) -> str:
    """An address as /proc/net/tcp prints it: the address as a native-endian
    32-bit number, then the port, in hex."""
    (n,) = struct.unpack("=I", socket.inet_aton(ip))
    return f"{n:08X}:{port:04X}"


def _ioctl_int(sock: socket.socket, request: int) -> int:
    try:
        raw = fcntl.ioctl(sock.fileno(), request, b"\0\0\0\0")
    except OSError:
        return 0
    return int(struct.unpack("i", raw)[0])


def _mode(req: dict[str, Any]) -> tuple[str, int, int]:
    mode = str(req.get("mode", "hold"))
    if mode not in MODES:
        raise CommandError(f'bad request: "mode" is one of {", ".join(MODES)}')
    size = int(req.get("size", 0) or 0)
    if size < 0:
        raise CommandError('bad request: "size" must be >= 0')
    return mode, size, int(req.get("seed", 0) or 0)


def os_error_text(err: int) -> str:
    return f"{errno.errorcode.get(err, err)} ({os.strerror(err)})"


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
    # A socket per connection: floods and many-connection tests need more
    # than the usual 1,024 descriptors.
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    LinuxAgent(args.dev).serve(sys.stdin, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
