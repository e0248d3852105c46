"""The agent client over a socketpair, against a fake agent."""

import json
import socket
import threading
import time

import pytest
from ringzero.agent import Agent, AgentError, AgentTimeout, SocketTransport


def serve(sock, script):
    """A fake agent: for each request, script(request) gives the lines to
    send back (or None for silence)."""

    def run():
        buf = b""
        with sock:
            while True:
                data = sock.recv(65536)
                if not data:
                    return
                buf += data
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    for out in script(json.loads(line)) or []:
                        sock.sendall(out.encode() + b"\n")

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def agent_with():
    agents = []

    def make(script, timeout=1.0):
        ours, theirs = socket.socketpair()
        serve(theirs, script)
        agent = Agent(SocketTransport(ours, "fake"), timeout=timeout, hint="look at the fake")
        agents.append(agent)
        return agent

    yield make
    for agent in agents:
        agent.close()


def reply(req, **fields):
    return json.dumps({"id": req["id"], **fields})


def test_a_request_carries_id_cmd_and_args_and_returns_the_reply(agent_with):
    seen = []

    def script(req):
        seen.append(req)
        return [reply(req, ok=True, echo=req.get("x"))]

    agent = agent_with(script)
    assert agent.request("ping") == {"id": 1, "ok": True, "echo": None}
    assert agent.request("send", x=[1, 2]) == {"id": 2, "ok": True, "echo": [1, 2]}
    assert seen == [{"id": 1, "cmd": "ping"}, {"id": 2, "cmd": "send", "x": [1, 2]}]


def test_ok_false_raises_the_agents_error(agent_with):
    agent = agent_with(lambda req: [reply(req, ok=False, error="no such socket 9")])
    with pytest.raises(AgentError, match="agent: close: no such socket 9"):
        agent.request("close", sock=9)


def test_no_reply_raises_agent_timeout_with_a_hint(agent_with):
    agent = agent_with(lambda req: None, timeout=0.2)
    start = time.monotonic()
    with pytest.raises(
        AgentTimeout, match=r"no reply to 'stats' \(id 1\).*0.2 s; look at the fake"
    ):
        agent.request("stats")
    assert time.monotonic() - start < 1.0


def test_late_replies_and_noise_are_skipped(agent_with):
    def script(req):
        if req["cmd"] == "slow":
            return None
        # a late reply to the request that timed out, a log line, then ours
        return [reply({"id": 1}, ok=True, late=True), "booting...", reply(req, ok=True)]

    agent = agent_with(script, timeout=0.2)
    with pytest.raises(AgentTimeout):
        agent.request("slow")
    assert agent.request("ping") == {"id": 2, "ok": True}


def test_a_closed_channel_is_an_agent_error(agent_with):
    ours, theirs = socket.socketpair()
    theirs.close()
    agent = Agent(SocketTransport(ours, "fake"), timeout=1.0)
    with pytest.raises(AgentError, match=r"^fake: "):
        agent.request("ping")
