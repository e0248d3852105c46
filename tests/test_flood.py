"""ringzero.flood without a network: the parsers on output the tools
printed here (iputils ping 20221126, arping 2.23, hping3 3.0.0-alpha-2,
httperf 0.9.0, wrk 4.1.0 against the Linux target and the unikernel), the
BPF programs of the frame counters on frames Scapy builds, and the
watchdog that bounds a tool's run."""

import signal
import subprocess
import time

import pytest
from ringzero import flood
from ringzero.flood import FloodError, FloodResult
from ringzero.net import netns
from scapy.layers.inet import ICMP, IP, TCP
from scapy.layers.l2 import ARP, Ether

# ---- recorded output ----------------------------------------------------------------

PING_Q = """\
PING 10.33.0.2 (10.33.0.2) 56(84) bytes of data.

--- 10.33.0.2 ping statistics ---
54140 packets transmitted, 54140 received, 0% packet loss, time 2992ms
rtt min/avg/max/mdev = 0.004/0.008/1.079/0.008 ms, pipe 2, ipg/ewma 0.055/0.017 ms
"""

# ping -f with a deadline against the unikernel under TCG: the last request
# was in flight when the deadline came.
PING_TCG = """\
PING 10.33.0.2 (10.33.0.2) 56(84) bytes of data.

--- 10.33.0.2 ping statistics ---
24237 packets transmitted, 24236 received, 0.00412592% packet loss, time 10002ms
rtt min/avg/max/mdev = 0.055/1.145/1046.753/21.906 ms, pipe 26, ipg/ewma 0.412/0.247 ms
"""

# ping -f of an address nobody has: errors (ARP failed), no rtt line.
PING_ERRORS = """\
PING 10.33.0.99 (10.33.0.99) 56(84) bytes of data.

--- 10.33.0.99 ping statistics ---
12 packets transmitted, 0 received, +12 errors, 100% packet loss, time 3056ms
pipe 12
"""

ARPING_LINUX = """\
42 bytes from 52:54:00:33:00:02 (10.33.0.2): index=1998 time=3.957 usec
42 bytes from 52:54:00:33:00:02 (10.33.0.2): index=1999 time=4.017 usec

--- 10.33.0.2 statistics ---
2000 packets transmitted, 2000 packets received,   0% unanswered (0 extra)
rtt min/avg/max/std-dev = 0.002/0.003/0.023/0.002 ms
"""

ARPING_TCG = """\
60 bytes from 52:54:00:33:00:02 (10.33.0.2): index=2865 time=253.352 usec
Timeout
Timeout

--- 10.33.0.2 statistics ---
3000 packets transmitted, 2866 packets received,   4% unanswered (0 extra)
rtt min/avg/max/std-dev = 0.003/0.836/2.959/0.725 ms
"""

ARPING_NONE = """\
ARPING 10.33.0.2

--- 10.33.0.2 statistics ---
1 packets transmitted, 0 packets received, 100% unanswered (0 extra)

"""

HPING3_FLOOD = """\
HPING 10.33.0.2 (rzv1 10.33.0.2): S set, 40 headers + 0 data bytes
hping in flood mode, no replies will be shown

--- 10.33.0.2 hping statistic ---
51293 packets transmitted, 0 packets received, 100% packet loss
round-trip min/avg/max = 0.0/0.0/0.0 ms
"""

HPING3_PACED = """\
len=44 ip=10.33.0.2 ttl=64 DF id=0 sport=7 flags=SA seq=4999 win=64240 rtt=1.0 ms

--- 10.33.0.2 hping statistic ---
5000 packets transmitted, 5000 packets received, 0% packet loss
round-trip min/avg/max = 0.1/1.8/1009.0 ms
"""

HTTPERF_OK = """\
httperf --timeout=5 --client=0/1 --server=10.33.0.2 --port=80 --uri=/hello --rate=100 \
--send-buffer=4096 --recv-buffer=16384 --num-conns=300 --num-calls=1
httperf: warning: open file limit > FD_SETSIZE; limiting max. # of open files to FD_SETSIZE
Maximum connect burst length: 7

Total: connections 300 requests 300 replies 300 test-duration 3.092 s

Connection rate: 97.0 conn/s (10.3 ms/conn, <=19 concurrent connections)
Connection time [ms]: min 0.7 avg 13.2 max 184.2 median 2.5 stddev 30.5
Connection time [ms]: connect 8.8
Connection length [replies/conn]: 1.000

Request rate: 97.0 req/s (10.3 ms/req)
Request size [B]: 67.0

Reply rate [replies/s]: min 0.0 avg 0.0 max 0.0 stddev 0.0 (0 samples)
Reply time [ms]: response 4.4 transfer 0.0
Reply size [B]: header 98.0 content 20.0 footer 0.0 (total 118.0)
Reply status: 1xx=0 2xx=300 3xx=0 4xx=0 5xx=0

CPU time [s]: user 0.30 system 1.61 (user 9.8% system 52.0% total 61.8%)
Net I/O: 17.5 KB/s (0.1*10^6 bps)

Errors: total 0 client-timo 0 socket-timo 0 connrefused 0 connreset 0
Errors: fd-unavail 0 addrunavail 0 ftab-full 0 other 0
"""

HTTPERF_REFUSED = """\
httperf --timeout=1 --client=0/1 --server=10.33.0.2 --port=9 --uri=/ --rate=100 \
--send-buffer=4096 --recv-buffer=16384 --num-conns=100 --num-calls=1
Maximum connect burst length: 1

Total: connections 100 requests 0 replies 0 test-duration 0.991 s

Connection rate: 100.9 conn/s (9.9 ms/conn, <=2 concurrent connections)
Connection time [ms]: min 0.0 avg 0.0 max 0.0 median 0.0 stddev 0.0
Connection time [ms]: connect 0.0
Connection length [replies/conn]: 0.000

Request rate: 0.0 req/s (0.0 ms/req)
Request size [B]: 0.0

Reply rate [replies/s]: min 0.0 avg 0.0 max 0.0 stddev 0.0 (0 samples)
Reply time [ms]: response 0.0 transfer 0.0
Reply size [B]: header 0.0 content 0.0 footer 0.0 (total 0.0)
Reply status: 1xx=0 2xx=0 3xx=0 4xx=0 5xx=0

CPU time [s]: user 0.08 system 0.74 (user 7.8% system 74.9% total 82.7%)
Net I/O: 0.0 KB/s (0.0*10^6 bps)

Errors: total 100 client-timo 0 socket-timo 0 connrefused 100 connreset 0
Errors: fd-unavail 0 addrunavail 0 ftab-full 0 other 0
"""

# The unikernel under TCG on a busy host: connections piled up past the
# server's limit (503) and some were reset.
HTTPERF_OVERLOAD = """\
Total: connections 1000 requests 1000 replies 813 test-duration 14.512 s

Connection rate: 68.9 conn/s (14.5 ms/conn, <=492 concurrent connections)
Connection time [ms]: min 1.2 avg 3567.8 max 6853.2 median 3203.5 stddev 1800.2
Connection time [ms]: connect 2107.1
Reply time [ms]: response 1663.1 transfer 0.0
Reply status: 1xx=0 2xx=165 3xx=0 4xx=0 5xx=648

Errors: total 187 client-timo 0 socket-timo 0 connrefused 0 connreset 187
Errors: fd-unavail 0 addrunavail 0 ftab-full 0 other 0
"""

# httperf interrupted (SIGINT) 1.5 s into a run of 500 connections at 50/s
# (against Python's http.server in the wire's namespace).
HTTPERF_INTERRUPTED = """\
httperf: warning: open file limit > FD_SETSIZE; limiting max. # of open files to FD_SETSIZE
httperf --timeout=5 --client=0/1 --server=127.0.0.1 --port=8080 --uri=/ --rate=50 \
--send-buffer=4096 --recv-buffer=16384 --num-conns=500 --num-calls=1
Maximum connect burst length: 21

Total: connections 73 requests 60 replies 60 test-duration 1.447 s

Connection rate: 50.5 conn/s (19.8 ms/conn, <=22 concurrent connections)
Connection time [ms]: min 1.3 avg 19.6 max 126.4 median 8.5 stddev 28.3
Connection time [ms]: connect 0.3
Connection length [replies/conn]: 1.000

Request rate: 41.5 req/s (24.1 ms/req)
Request size [B]: 62.0

Reply rate [replies/s]: min 0.0 avg 0.0 max 0.0 stddev 0.0 (0 samples)
Reply time [ms]: response 19.4 transfer 0.0
Reply size [B]: header 156.0 content 1059.0 footer 0.0 (total 1215.0)
Reply status: 1xx=0 2xx=60 3xx=0 4xx=0 5xx=0

CPU time [s]: user 0.03 system 0.37 (user 2.2% system 25.4% total 27.5%)
Net I/O: 51.7 KB/s (0.4*10^6 bps)

Errors: total 0 client-timo 0 socket-timo 0 connrefused 0 connreset 0
Errors: fd-unavail 0 addrunavail 0 ftab-full 0 other 0
"""

# wrk against a path that is not there (404s), the same server.
WRK_404 = """\
Running 1s test @ http://127.0.0.1:8080/nope
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    79.55ms  127.58ms 472.58ms   83.81%
    Req/Sec   172.17    223.43   620.00     83.33%
  Latency Distribution
     50%    9.41ms
     75%  100.95ms
     90%  312.72ms
     99%  456.59ms
  129 requests in 1.02s, 65.87KB read
  Non-2xx or 3xx responses: 129
Requests/sec:    126.08
Transfer/sec:     64.38KB
"""

WRK_OK = """\
Running 3s test @ http://10.33.0.2:80/hello
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.51ms    3.49ms  44.28ms   91.90%
    Req/Sec     4.34k     1.57k    6.59k    50.00%
  Latency Distribution
     50%    1.52ms
     75%    2.38ms
     90%    5.23ms
     99%   16.64ms
  13048 requests in 3.04s, 1.47MB read
Requests/sec:   4290.67
Transfer/sec:    494.43KB
"""


# ---- parsers ------------------------------------------------------------------------


def test_ping_flood_figures():
    r = flood.parse_ping(PING_Q, 3.0)
    assert (r.kind, r.tool, r.sent, r.answered, r.errors) == ("icmp", "ping -f", 54140, 54140, 0)
    assert r.duration_s == pytest.approx(2.992)
    assert r.detail["rtt_avg_ms"] == 0.008 and r.detail["rtt_max_ms"] == 1.079
    assert r.detail["pipe"] == 2
    assert r.loss_pct == 0.0 and r.rate == pytest.approx(54140 / 2.992)


def test_ping_with_a_fractional_loss_and_a_long_tail():
    r = flood.parse_ping(PING_TCG, 10.0)
    assert (r.sent, r.answered) == (24237, 24236)
    assert r.loss_pct == pytest.approx(100 / 24237)
    assert r.detail["rtt_max_ms"] == 1046.753 and r.detail["pipe"] == 26


def test_ping_errors_are_counted():
    r = flood.parse_ping(PING_ERRORS, 4.0)
    assert (r.sent, r.answered, r.errors) == (12, 0, 12)
    assert r.loss_pct == 100.0 and "rtt_avg_ms" not in r.detail


def test_arping_figures():
    r = flood.parse_arping(ARPING_LINUX, 1.4)
    assert (r.kind, r.tool, r.sent, r.answered) == ("arp", "arping", 2000, 2000)
    assert r.duration_s == 1.4 and r.detail["rtt_avg_ms"] == 0.003 and r.detail["extra"] == 0
    r = flood.parse_arping(ARPING_TCG, 3.0)
    assert (r.sent, r.answered) == (3000, 2866)
    assert r.loss_pct == pytest.approx(134 / 30)
    r = flood.parse_arping(ARPING_NONE, 0.1)
    assert (r.sent, r.answered) == (1, 0) and "rtt_avg_ms" not in r.detail


def test_hping3_figures():
    r = flood.parse_hping3(HPING3_FLOOD, 3.0)
    assert (r.kind, r.tool, r.sent, r.answered) == ("syn", "hping3", 51293, 0)
    assert "rtt_avg_ms" not in r.detail  # no replies: the zeros mean nothing
    r = flood.parse_hping3(HPING3_PACED, 2.6)
    assert (r.sent, r.answered) == (5000, 5000) and r.detail["rtt_max_ms"] == 1009.0


def test_httperf_figures():
    r = flood.parse_httperf(HTTPERF_OK, 3.0)
    assert (r.kind, r.tool, r.sent, r.answered, r.errors) == ("http-conn", "httperf", 300, 300, 0)
    assert r.duration_s == pytest.approx(3.092)
    d = r.detail
    assert d["conn_rate"] == 97.0 and d["concurrent_max"] == 19
    assert d["conn_time_median_ms"] == 2.5 and d["connect_ms"] == 8.8 and d["response_ms"] == 4.4


def test_httperf_errors_and_other_statuses_are_errors():
    r = flood.parse_httperf(HTTPERF_REFUSED, 1.0)
    assert (r.sent, r.answered, r.errors) == (100, 0, 100)
    assert r.detail["conn_refused"] == 100
    r = flood.parse_httperf(HTTPERF_OVERLOAD, 10.0)
    assert (r.sent, r.answered) == (1000, 165)
    assert r.errors == 187 + 648  # resets and 503s
    assert r.detail["status_5xx"] == 648 and r.detail["concurrent_max"] == 492


def test_interrupted_httperf_counts_what_it_started():
    r = flood.parse_httperf(HTTPERF_INTERRUPTED, 1.5)
    assert (r.sent, r.answered, r.errors) == (73, 60, 0)
    assert r.detail["requests"] == 60 and r.duration_s == pytest.approx(1.447)


def test_wrk_figures():
    r = flood.parse_wrk(WRK_OK, 3.0)
    assert (r.kind, r.tool, r.sent, r.answered, r.errors) == (
        "http-keepalive",
        "wrk",
        13048,
        13048,
        0,
    )
    assert r.duration_s == pytest.approx(3.04)
    d = r.detail
    assert d["latency_avg_ms"] == 2.51 and d["latency_max_ms"] == 44.28
    assert (d["latency_p50_ms"], d["latency_p99_ms"]) == (1.52, 16.64)
    assert d["requests_per_s"] == 4290.67


def test_wrk_other_statuses_are_errors():
    r = flood.parse_wrk(WRK_404, 1.0)
    assert (r.sent, r.answered, r.errors) == (129, 0, 129)
    assert r.detail["non_2xx_3xx"] == 129 and r.detail["latency_p99_ms"] == 456.59


def test_wrk_socket_errors_and_other_statuses_are_errors():
    text = WRK_OK.replace(
        "Requests/sec:",
        "  Socket errors: connect 0, read 3, write 0, timeout 2\n"
        "  Non-2xx or 3xx responses: 40\nRequests/sec:",
    ).replace("16.64ms", "1.20s")
    r = flood.parse_wrk(text, 3.0)
    assert (r.sent, r.answered, r.errors) == (13048, 13008, 45)
    assert r.detail["socket_timeout_errors"] == 2 and r.detail["latency_p99_ms"] == 1200.0


@pytest.mark.parametrize(
    "parse", [flood.parse_ping, flood.parse_arping, flood.parse_hping3, flood.parse_wrk]
)
def test_output_without_figures_is_an_error(parse):
    with pytest.raises(FloodError, match="printed no"):
        parse("connect: Network is unreachable\n", 1.0)


def test_httperf_without_figures_is_an_error():
    with pytest.raises(FloodError, match="httperf printed no totals"):
        flood.parse_httperf("httperf: connection failed\n", 1.0)


def test_result_figures():
    r = FloodResult("icmp", "ping -f", 10.0, 1000, 990, 2, {"rtt_avg_ms": 0.5})
    assert r.loss_pct == pytest.approx(1.0) and r.rate == 100.0
    line = r.summary()
    assert line.startswith("icmp flood (ping -f): 1,000 sent in 10.0 s (100/s), 990 answered")
    assert "2 errors" in line and "rtt_avg_ms 0.5" in line
    empty = FloodResult("syn", "hping3", 0.0, 0, 0, 0, {})
    assert empty.loss_pct == 0.0 and empty.rate == 0.0


# ---- the counters' BPF programs ----------------------------------------------------------

TARGET, TARGET_MAC, WIRE_IP = "10.33.0.2", "52:54:00:33:00:02", "10.33.0.1"


def frame(p):
    return bytes(Ether(src=TARGET_MAC, dst="ff:ff:ff:ff:ff:ff") / p)


def test_arp_replies_from_the_target_are_counted():
    prog = flood.arp_replies_from(TARGET)
    assert flood.run_bpf(prog, frame(ARP(op=2, psrc=TARGET, pdst="10.33.0.10")))
    assert not flood.run_bpf(prog, frame(ARP(op=1, psrc=TARGET, pdst="10.33.0.10")))
    assert not flood.run_bpf(prog, frame(ARP(op=2, psrc="10.33.0.3", pdst="10.33.0.10")))
    assert not flood.run_bpf(prog, frame(IP(src=TARGET) / ICMP()))
    assert not flood.run_bpf(prog, b"\x00" * 10)  # too short: rejected, not an error


def test_syn_acks_from_the_target_port_are_counted():
    prog = flood.syn_acks_from(TARGET, 80, not_to=WIRE_IP)
    synack = TCP(sport=80, dport=4242, flags="SA")
    assert flood.run_bpf(prog, frame(IP(src=TARGET, dst="203.0.113.7") / synack))
    # Options in the IP header: the TCP header is found by the IHL.
    with_options = IP(src=TARGET, dst="203.0.113.7", options=b"\x01\x01\x01\x00")
    assert flood.run_bpf(prog, frame(with_options / synack))
    assert not flood.run_bpf(prog, frame(IP(src=TARGET, dst=WIRE_IP) / synack))
    assert not flood.run_bpf(prog, frame(IP(src=TARGET) / TCP(sport=7, flags="SA")))
    assert not flood.run_bpf(prog, frame(IP(src=TARGET) / TCP(sport=80, flags="S")))
    assert not flood.run_bpf(prog, frame(IP(src=TARGET) / TCP(sport=80, flags="A")))
    assert not flood.run_bpf(prog, frame(IP(src="10.33.0.3") / synack))
    later_fragment = IP(src=TARGET, frag=100) / synack
    assert not flood.run_bpf(prog, frame(later_fragment))
    anywhere = flood.syn_acks_from(TARGET, 80)
    assert flood.run_bpf(anywhere, frame(IP(src=TARGET, dst=WIRE_IP) / synack))


def test_echo_replies_from_the_target_are_counted():
    prog = flood.echo_replies_from(TARGET)
    assert flood.run_bpf(prog, frame(IP(src=TARGET) / ICMP(type=0)))
    assert not flood.run_bpf(prog, frame(IP(src=TARGET) / ICMP(type=8)))
    assert not flood.run_bpf(prog, frame(IP(src=TARGET) / ICMP(type=3, code=1)))
    assert not flood.run_bpf(prog, frame(IP(src=WIRE_IP) / ICMP(type=0)))


def test_assemble_resolves_keep_and_drop():
    prog = flood.assemble((flood.LD_H_ABS, 0, 0, 12), (flood.JEQ_K, "keep", "drop", 0x0806))
    assert prog[1][1:3] == (0, 1)  # keep is next, drop the one after
    assert prog[-2][0] == prog[-1][0] == flood.RET_K and prog[-1][3] == 0


# ---- tools and their bounds -------------------------------------------------------------


def test_a_missing_tool_says_what_to_install(monkeypatch):
    monkeypatch.setattr(flood.shutil, "which", lambda *_a, **_k: None)
    with pytest.raises(FloodError) as e:
        flood.require("hping3")
    assert str(e.value) == (
        "hping3 is not installed: apt-get install hping3 "
        "(scripts/apt-packages.txt lists it; `make setup` installs it)"
    )


class LocalWire:
    """A stand-in for the wire whose popen runs commands here, prepared as
    Wire.popen prepares them."""

    def popen(self, argv, **kwargs):
        kwargs.setdefault("preexec_fn", netns.prepare_child)
        return subprocess.Popen(argv, **kwargs)


# A "tool" that prints its statistics when interrupted, as ping does.
STATS = "7 packets transmitted, 7 received, 0% packet loss, time 700ms"
INTERRUPTIBLE = f"trap 'kill $!; echo {STATS}; exit 0' INT; sleep 60 & wait"


def tool_flood(script, **kw):
    return flood.ToolFlood(
        LocalWire(),
        ["sh", "-c", script],
        kind="icmp",
        tool="test",
        duration_s=0.2,
        parse=flood.parse_ping,
        **kw,
    )


def test_a_tool_without_a_limit_gets_sigint_at_its_end():
    start = time.monotonic()
    f = tool_flood(INTERRUPTIBLE, interrupt_at=0.5, own_limit=False)
    r = f.wait()
    assert 0.4 < time.monotonic() - start < 5
    assert (r.sent, r.answered) == (7, 7) and not r.stopped
    assert f.wait() is r  # the same result again


def test_sigint_reaches_a_tool_even_when_the_harness_ignores_it():
    """A harness started in the background of a script has SIGINT ignored;
    the tools it starts must not inherit that, or no flood could end them."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        r = tool_flood(INTERRUPTIBLE, interrupt_at=0.5, own_limit=False).wait()
    finally:
        signal.signal(signal.SIGINT, previous)
    assert (r.sent, r.answered) == (7, 7)


def test_stop_ends_a_flood_early():
    f = tool_flood(INTERRUPTIBLE, interrupt_at=30)
    time.sleep(0.3)
    assert f.running()
    start = time.monotonic()
    r = f.stop()
    assert time.monotonic() - start < 3 and not f.running()
    assert r.sent == 7 and r.stopped


def test_a_tool_that_ignores_sigint_is_killed(monkeypatch):
    monkeypatch.setattr(flood, "GRACE_S", 0.3)
    stubborn = "trap '' INT; exec sleep 60"  # SIGINT ignored, in sleep too
    f = tool_flood(stubborn, interrupt_at=0.3)
    start = time.monotonic()
    with pytest.raises(FloodError, match="printed no statistics"):
        f.wait()
    assert time.monotonic() - start < 5
    assert f.proc.returncode == -9
