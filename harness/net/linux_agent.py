"""The Linux reference target's agent: the control-channel protocol of
harness/agent.py on stdin/stdout, answered with real Linux facilities from
inside the target's namespace.

    ip netns exec NS python -m ringzero.net.linux_agent [--dev eth0]

Commands (a table, so later issues add socket commands beside these):
  ping    -> {"pong": true}
  config  -> {"mac", "ip", "prefix", "gateway", "mtu"} of the interface
  stats   -> {"counters": {"Ip.InHdrErrors": n, ...}} from /proc/net/snmp, netstat
  arp     -> {"entries": [{"ip", "mac", "resolved", "state", "queued"}]} (ip neigh)
Unknown commands and failures reply {"ok": false, "error": "..."}.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

Handler = Callable[[dict[str, Any]], dict[str, Any]]


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
        }

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
