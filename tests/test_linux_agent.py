"""The Linux reference agent: its protocol handling, and end to end inside
a real namespace (root only)."""

import json
import os
import subprocess
import sys

import pytest
from ringzero.agent import Agent, AgentError, ProcessTransport
from ringzero.net import netns
from ringzero.net.linux_agent import LinuxAgent, proc_net_counters
from ringzero.runs import new_run_id, resource_name

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="namespaces need root")


def test_unknown_commands_and_bad_lines_are_errors():
    agent = LinuxAgent()
    unknown = agent.handle(json.dumps({"id": 4, "cmd": "fly"}))
    assert unknown["id"] == 4 and unknown["ok"] is False
    assert "unknown command 'fly'" in unknown["error"] and "ping" in unknown["error"]
    assert agent.handle("{nope")["ok"] is False
    assert agent.handle("[1]")["ok"] is False
    assert agent.handle('{"id": 1, "cmd": "ping"}') == {"id": 1, "ok": True, "pong": True}


def test_proc_net_counters_are_named_proto_dot_name(tmp_path):
    snmp = tmp_path / "snmp"
    snmp.write_text(
        "Ip: Forwarding DefaultTTL InHdrErrors\nIp: 2 64 7\nIcmp: InMsgs OutMsgs\nIcmp: 3 4\n"
    )
    assert proc_net_counters(snmp) == {
        "Ip.Forwarding": 2,
        "Ip.DefaultTTL": 64,
        "Ip.InHdrErrors": 7,
        "Icmp.InMsgs": 3,
        "Icmp.OutMsgs": 4,
    }


@pytest.fixture
def target_ns():
    name = resource_name(new_run_id(), "test-agent")
    netns.create(name)
    try:
        netns.ip_batch(
            [
                "link add eth0 address 52:54:00:33:00:02 type veth peer name other",
                "link set other up",
                "addr add 10.33.0.2/24 dev eth0",
                "link set eth0 up",
                "route add default via 10.33.0.1",
                "neigh add 10.33.0.10 lladdr 02:00:00:33:00:0a dev eth0 nud reachable",
            ],
            netns=name,
        )
        yield name
    finally:
        netns.delete(name)


@needs_root
def test_the_agent_answers_from_inside_the_namespace(target_ns):
    argv = [sys.executable, "-m", "ringzero.net.linux_agent"]
    proc = subprocess.Popen(
        netns.exec_argv(target_ns, argv),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        bufsize=0,
    )
    agent = Agent(ProcessTransport(proc), timeout=5.0)
    try:
        assert agent.request("ping")["pong"] is True
        config = agent.request("config")
        assert {k: config[k] for k in ("mac", "ip", "prefix", "gateway", "mtu")} == {
            "mac": "52:54:00:33:00:02",
            "ip": "10.33.0.2",
            "prefix": 24,
            "gateway": "10.33.0.1",
            "mtu": 1500,
        }
        counters = agent.request("stats")["counters"]
        assert "Ip.InHdrErrors" in counters and "Icmp.InMsgs" in counters
        entries = agent.request("arp")["entries"]
        mine = [e for e in entries if e["ip"] == "10.33.0.10"]
        assert mine and mine[0]["mac"] == "02:00:00:33:00:0a" and mine[0]["resolved"]
        assert mine[0]["state"] == "REACHABLE" and mine[0]["queued"] == 0
        with pytest.raises(AgentError, match="unknown command"):
            agent.request("listen", port=80)
    finally:
        agent.close()
        assert proc.wait(timeout=5) == 0  # EOF on stdin ends it


def _call(agent: LinuxAgent, cmd: str, **args: object) -> dict:
    reply = agent.handle(json.dumps({"id": 1, "cmd": cmd, **args}))
    assert reply["ok"], reply
    return reply


def test_udp_commands_on_loopback():
    """udp_bind/udp_send/udp_recv/udp_close, as the suites use them, over lo."""
    agent = LinuxAgent("lo")
    a = _call(agent, "udp_bind", port=0)["port"]
    b = _call(agent, "udp_bind", port=0)["port"]
    sent = _call(agent, "udp_send", port=a, ip="127.0.0.1", dst_port=b, size=20, seed=3, count=2)
    assert sent["result"] == "sent" and sent["results"] == {"sent": 2}
    _call(agent, "udp_send", port=a, ip="127.0.0.1", dst_port=b, hex="00ff10")
    got = []
    for _ in range(50):
        got += _call(agent, "udp_recv", port=b)["datagrams"]
        if len(got) == 3:
            break
    assert [d["hex"] for d in got] == [
        bytes((i * 7 + 3) & 0xFF for i in range(20)).hex(),
        bytes((i * 7 + 3) & 0xFF for i in range(20)).hex(),
        "00ff10",
    ]
    assert got[0]["src"] == "127.0.0.1" and got[0]["src_port"] == a
    assert got[0]["dst"] == "127.0.0.1" and got[0]["broadcast"] is False
    taken = agent.handle(json.dumps({"id": 2, "cmd": "udp_bind", "port": a}))
    assert taken["ok"] is False and "taken" in taken["error"]
    _call(agent, "udp_close", port=a)
    _call(agent, "udp_close", port=b)
    gone = agent.handle(json.dumps({"id": 3, "cmd": "udp_recv", "port": a}))
    assert gone["ok"] is False and "udp_bind first" in gone["error"]
    bad = agent.handle(json.dumps({"id": 4, "cmd": "udp_bind", "port": 70000}))
    assert bad["ok"] is False and "port number" in bad["error"]


def test_udp_icmp_errors_are_reported_on_loopback():
    """A datagram to a closed port on lo draws a port unreachable, which
    udp_recv reports as the unikernel's agent does (RFC 1122 4.1.3.3)."""
    import socket as s

    agent = LinuxAgent("lo")
    closed = s.socket(s.AF_INET, s.SOCK_DGRAM)
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    a = _call(agent, "udp_bind", port=0)["port"]
    _call(agent, "udp_send", port=a, ip="127.0.0.1", dst_port=port, size=4)
    errors = []
    for _ in range(50):
        errors += _call(agent, "udp_recv", port=a)["errors"]
        if errors:
            break
    assert errors == [{"dst": "127.0.0.1", "dst_port": port, "why": "port_unreachable"}]
    _call(agent, "udp_close", port=a)
