"""ringzero bench: options, numbers, parsers, the probes against loopback
servers, the memory bisection, the table, markdown, JSON and plots of a
whole run on fake VMs; the Linux VM's discard service on the host; and one
real `ringzero bench --quick`."""

import contextlib
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from ringzero import bench
from ringzero.bench import (
    FIGURES,
    GROUPS,
    DnsLoad,
    PingResult,
    Results,
    Settings,
    Stat,
    Transfer,
)
from ringzero.plot import Bar, bar_chart, grid

SVG = "{http://www.w3.org/2000/svg}"
MiB = 1 << 20


# ---- options -------------------------------------------------------------------------


def test_only_takes_a_subset_of_the_groups_in_their_order():
    assert bench.parse_only(None) == GROUPS
    assert bench.parse_only("all") == GROUPS
    assert bench.parse_only("dns, boot") == ("boot", "dns")
    for bad in ("udp", "boot,,x", ","):
        with pytest.raises(ValueError, match="boot, size, memory"):
            bench.parse_only(bad)


def test_quick_settings_are_short_and_skip_nothing_but_the_bisection():
    quick = bench.make_settings(quick=True)
    full = bench.make_settings()
    assert quick.quick and quick.runs == 1 and quick.groups == GROUPS
    assert quick.load_s <= 3 and quick.idle_s <= 5 and quick.bulk_bytes <= 8 * MiB
    assert not full.quick and full.runs == 5 and full.load_s == 10 and full.idle_s == 10
    assert full.bulk_bytes == 16 * MiB  # ringzero's /bytes/N limit
    assert bench.make_settings(quick=True, runs=3).runs == 3
    with pytest.raises(ValueError, match="--runs"):
        bench.make_settings(runs=0)


def test_the_cli_runs_the_comparison_or_the_old_boot_benchmark(monkeypatch):
    from ringzero import cli

    seen = {}
    monkeypatch.setattr(bench, "run_bench", lambda st: seen.setdefault("st", st) and 0)
    monkeypatch.setattr(bench, "boot_benchmark", lambda **kw: seen.setdefault("boot", kw) and 0)
    assert cli.main(["bench", "--quick", "--only", "http,dns", "--out", "/tmp/x"]) == 0
    st = seen["st"]
    assert st.quick and st.groups == ("http", "dns") and st.out == Path("/tmp/x")
    assert st.backend == "qemu" and st.runs == 1 and st.ringzero_memory_mib == 64
    assert cli.main(["bench", "boot", "--backend", "qemu"]) == 0
    assert seen["boot"]["runs"] == 10 and seen["boot"]["backend"] == "qemu"
    assert cli.main(["bench", "--only", "nope"]) == 2


# ---- numbers ---------------------------------------------------------------------------


def test_percentiles_interpolate_between_ranks():
    values = [5.0, 1.0, 3.0, 2.0, 4.0]
    assert bench.percentile(values, 50) == 3.0
    assert bench.percentile(values, 0) == 1.0 and bench.percentile(values, 100) == 5.0
    assert bench.percentile(values, 90) == pytest.approx(4.6)
    assert bench.percentile([7.0], 99) == 7.0
    with pytest.raises(ValueError):
        bench.percentile([], 50)


def test_summaries_and_their_text():
    s = bench.summarize([812.3, 790.0, 840.9])
    assert s == Stat(812.3, 790.0, 840.9, 3)
    assert bench.fmt_stat(s, "ms") == "812 ms (790-841)"
    assert bench.fmt_stat(bench.summarize([12.34]), "MiB/s") == "12.3 MiB/s"
    assert bench.fmt_stat(bench.summarize([2.0, 2.0]), "MiB") == "2.00 MiB"
    assert [bench.fmt_number(v) for v in (13012.4, 81.25, 8.125, 0.08125, 0)] == [
        "13,012",
        "81.2",
        "8.12",
        "0.0813",
        "0",
    ]


@pytest.mark.parametrize(
    ("rz", "lx", "better", "text"),
    [
        (100.0, 13000.0, "lower", "0.00769 (lower is better: ringzero 130x)"),
        (2000.0, 1000.0, "higher", "2 (higher is better: ringzero 2x)"),
        (500.0, 1000.0, "higher", "0.5 (higher is better: Linux VM 2x)"),
        (3.0, 2.0, "lower", "1.5 (lower is better: Linux VM 1.5x)"),
        (5.0, 5.0, "lower", "1.00 (even)"),
        (0.0, 1.2, "lower", "0 (lower is better: ringzero)"),
        (1.2, 0.0, "lower", "inf (lower is better: Linux VM)"),
        (None, 1.0, "lower", "-"),
        (1.0, None, "higher", "-"),
    ],
)
def test_ratio_says_which_way_is_better_and_by_how_much(rz, lx, better, text):
    assert bench.ratio_text(rz, lx, better) == text


def test_results_keep_samples_reasons_and_notes():
    r = Results()
    r.fail(["dns_qps"], "linux", "no dnsmasq\nsecond line")
    assert r.reasons["dns_qps"]["linux"] == "no dnsmasq second line"
    r.add("dns_qps", "linux", 1000)
    assert "linux" not in r.reasons["dns_qps"]  # measured after all
    r.fail(["dns_qps"], "linux", "timeout")  # a later run failed: a note, the figure stays
    assert r.stat("dns_qps", "linux") == Stat(1000, 1000, 1000, 1)
    assert r.notes["dns_qps"]["linux"] == ["a run failed: timeout"]
    with pytest.raises(ValueError):
        r.add("dns_qps", "ringzero", float("nan"))
    assert r.measured() == 1


# ---- parsers ---------------------------------------------------------------------------

PING = """\
PING 10.33.0.2 (10.33.0.2) 56(84) bytes of data.
64 bytes from 10.33.0.2: icmp_seq=1 ttl=64 time=0.412 ms
64 bytes from 10.33.0.2: icmp_seq=2 ttl=64 time=1.05 ms
64 bytes from 10.33.0.2: icmp_seq=2 ttl=64 time=1.10 ms (DUP!)
64 bytes from 10.33.0.2: icmp_seq=4 ttl=64 time=12.3 ms
64 bytes from 10.33.0.2: icmp_seq=5 ttl=64 time=103 ms

--- 10.33.0.2 ping statistics ---
5 packets transmitted, 4 received, +1 duplicates, 20% packet loss, time 84ms
rtt min/avg/max/mdev = 0.412/29.190/103.000/42.441 ms, pipe 2
"""


def test_ping_rtts_are_parsed_without_duplicates():
    r = bench.parse_ping_rtts(PING)
    assert r == PingResult(5, 4, [0.412, 1.05, 12.3, 103.0])
    assert r.loss_pct == 20.0
    with pytest.raises(ValueError, match="no statistics"):
        bench.parse_ping_rtts("ping: connect: Network is unreachable\n")


def test_dns_queries_are_rfc_1035_and_replies_are_recognised():
    q = bench.dns_query("www.example.test", 0x1234)
    assert q == (
        bytes.fromhex("1234 0100 0001 0000 0000 0000")
        + b"\x03www\x07example\x04test\x00"
        + b"\x00\x01\x00\x01"
    )
    assert bench.dns_reply(q) is None  # a query, not a response
    reply = bytes.fromhex("1234 8580 0001 0002 0000 0000") + q[12:]
    assert bench.dns_reply(reply) == (0x1234, 0, 2)
    nx = bytes.fromhex("beef 8583 0001 0000 0000 0000")
    assert bench.dns_reply(nx) == (0xBEEF, 3, 0)
    assert bench.dns_reply(b"\x00" * 5) is None
    with pytest.raises(ValueError):
        bench.dns_query("a..b", 1)


# ---- probes against loopback servers ----------------------------------------------------


@contextlib.contextmanager
def tcp_server(handle, delay_listen=0.0):
    """A server on 127.0.0.1 that starts listening after delay_listen and
    runs handle(conn) per connection in a thread; yields (port, times) where
    times["listening"] is when it began to listen."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    stop = threading.Event()
    times = {}

    def serve():
        if stop.wait(delay_listen):
            return
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", port))
        srv.listen(64)
        srv.settimeout(0.05)
        times["listening"] = time.monotonic()
        with srv:
            while not stop.is_set():
                try:
                    conn, _ = srv.accept()
                except TimeoutError:
                    continue
                threading.Thread(target=handle, args=(conn,), daemon=True).start()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    while delay_listen == 0 and "listening" not in times:
        time.sleep(0.001)
    try:
        yield port, times
    finally:
        stop.set()
        t.join(5)


def read_request(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def test_poll_finds_the_first_200_after_refusals_and_other_statuses():
    answers = iter([b"503 Service Unavailable", b"503 Service Unavailable"])

    def handle(conn):
        with conn:
            read_request(conn)
            status = next(answers, b"200 OK")
            conn.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Length: 2\r\n\r\nok")

    with tcp_server(handle, delay_listen=0.3) as (port, times):
        t0 = time.monotonic()
        got = bench.poll_first_200("127.0.0.1", port, deadline_s=10)
    assert got is not None and got > times["listening"] > t0
    # Refused for 0.3 s, two 503s, then the 200: each try 10 ms after the last.
    assert got - times["listening"] < 0.5


def test_poll_gives_up_when_stopped_when_the_vm_ends_or_at_its_deadline():
    with tcp_server(lambda conn: conn.close(), delay_listen=60) as (port, _):
        t0 = time.monotonic()
        assert bench.poll_first_200("127.0.0.1", port, deadline_s=0.3) is None
        assert 0.25 < time.monotonic() - t0 < 2
        assert bench.poll_first_200("127.0.0.1", port, alive=lambda: False) is None
        stop = threading.Event()
        threading.Timer(0.2, stop.set).start()
        t0 = time.monotonic()
        assert bench.poll_first_200("127.0.0.1", port, stop=stop) is None
        assert time.monotonic() - t0 < 2


def test_download_reads_the_whole_body_by_its_length():
    body = bytes(range(251)) * 4000  # ~1 MB, like /bytes/N

    def handle(conn):
        with conn:
            req = read_request(conn)
            assert req.startswith(b"GET /bytes/1004000 HTTP/1.1\r\n")
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)

    with tcp_server(handle) as (port, _):
        t = bench.http_download("127.0.0.1", "/bytes/1004000", port=port, timeout=10)
    assert t.octets == len(body) and t.seconds > 0 and t.mib_per_s > 0


def test_download_refuses_an_error_status_and_a_short_body():
    def handle(conn):
        with conn:
            path = read_request(conn).split()[1]
            if path == b"/missing":
                conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            else:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")

    with tcp_server(handle) as (port, _):
        with pytest.raises(ValueError, match="status 404"):
            bench.http_download("127.0.0.1", "/missing", port=port, timeout=5)
        with pytest.raises(ValueError, match="closed after 5 of 100"):
            bench.http_download("127.0.0.1", "/short", port=port, timeout=5)


def test_upload_ends_with_the_services_fin_after_all_was_read():
    got = {}

    def handle(conn):
        with conn:
            n = 0
            while chunk := conn.recv(65536):
                n += len(chunk)
            got["n"] = n

    with tcp_server(handle) as (port, _):
        t = bench.tcp_upload("127.0.0.1", 3 * MiB + 7, port=port, timeout=10)
    assert t == Transfer(3 * MiB + 7, t.seconds) and got["n"] == 3 * MiB + 7


@pytest.mark.skipif(not Path("/bin/busybox").exists(), reason="busybox-static is not installed")
def test_the_linux_vms_discard_service_works_with_this_busybox(tmp_path):
    """What /init runs for rz.serve=discard (`nc -ll -p 9 -e
    /etc/linuxvm/discard`), here on a loopback port with the host's busybox
    (the one the initramfs copies): each upload ends with its FIN, and nc
    keeps listening for the next."""
    from ringzero.linuxvm import DISCARD, INIT

    assert "nc -ll -p 9 -e /etc/linuxvm/discard" in INIT
    script = tmp_path / "discard"
    script.write_text(DISCARD)
    script.chmod(0o755)
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    nc = subprocess.Popen(
        ["/bin/busybox", "nc", "-ll", "-p", str(port), "-e", str(script)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 5
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert time.monotonic() < deadline, "busybox nc did not listen"
            time.sleep(0.05)
        for size in (2 * MiB, 1):
            t = bench.tcp_upload("127.0.0.1", size, port=port, timeout=10)
            assert t.octets == size
    finally:
        nc.kill()
        nc.wait(5)


def test_linux_init_is_valid_shell_and_makes_the_bytes_files():
    from ringzero.linuxvm import INIT, linuxvm_cmdline, parse_serve

    if shutil.which("busybox") or Path("/bin/busybox").exists():
        sh = "/bin/busybox" if Path("/bin/busybox").exists() else "busybox"
        subprocess.run([sh, "sh", "-n"], input=INIT, text=True, check=True)
    assert "sizes=$(arg rz.bytes)" in INIT
    assert 'head -c "$n" /dev/zero > "/www/bytes/$n"' in INIT
    assert parse_serve("nginx,dns,discard") == ("nginx", "dns", "discard")
    line = linuxvm_cmdline(
        "10.33.0.2/24", "10.33.0.1", ["nginx", "discard"], extra="rz.bytes=16777216"
    )
    assert line.endswith("rz.serve=nginx,discard rz.bytes=16777216")


def test_the_dns_generator_keeps_a_window_and_counts_lost_and_bad_answers():
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind(("127.0.0.1", 0))
    srv.settimeout(0.05)
    port = srv.getsockname()[1]
    stop = threading.Event()
    seen = {"n": 0, "max_outstanding": 0}

    def serve():
        while not stop.is_set():
            try:
                data, peer = srv.recvfrom(512)
            except TimeoutError:
                continue
            seen["n"] += 1
            qid = struct.unpack("!H", data[:2])[0]
            if seen["n"] % 50 == 0:
                continue  # lost
            rcode, ancount = (3, 0) if seen["n"] % 50 == 25 else (0, 1)
            head = struct.pack("!HHHHHH", qid, 0x8500 | rcode, 1, ancount, 0, 0)
            srv.sendto(head + data[12:], peer)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        d = bench.dns_load("127.0.0.1", 0.4, port=port, window=8, timeout=0.2)
    finally:
        stop.set()
        t.join(2)
        srv.close()
    assert d.sent == seen["n"] > 50
    assert d.answered + d.bad + d.lost == d.sent
    assert d.lost >= 1 and d.bad >= 1 and d.answered > d.sent * 0.9
    assert 0.35 < d.seconds < 1.0 and d.qps == pytest.approx(d.answered / d.seconds)


def test_the_dns_generator_survives_a_closed_port():
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    d = bench.dns_load("127.0.0.1", 0.2, port=port, window=4, timeout=0.1)
    assert d.answered == 0 and d.bad >= 1


# ---- the memory bisection ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("lo", "hi", "step", "threshold", "found"),
    [
        (2, 64, 1, 5, 5),
        (2, 64, 1, 2, 2),
        (2, 64, 1, 64, 64),
        (2, 64, 1, 65, None),
        (64, 256, 4, 113, 116),
        (64, 256, 4, 1, 64),
        (64, 250, 4, 249, 250),
    ],
)
def test_memory_bisection_finds_the_smallest_that_works(lo, hi, step, threshold, found):
    got, tried = bench.bisect_memory(lo, hi, step, lambda m: m >= threshold)
    assert got == found
    assert tried[0] == (hi, hi >= threshold)  # the top first
    assert len(tried) <= 1 + ((hi - lo) // step + 1).bit_length()
    assert all(ok == (m >= threshold) for m, ok in tried)


# ---- a whole run on fake VMs -------------------------------------------------------------


class FakeGuest:
    def __init__(self, side, cpu_per_call):
        self.ip = "10.33.0.2"
        self.start_to_http_s = 0.09 if side == "ringzero" else 12.6
        self.guest_ready_s = 0.012 if side == "ringzero" else 6.1
        self.cpu = 0.0
        self.cpu_per_call = cpu_per_call
        self.destroyed = False

    def cpu_seconds(self):
        self.cpu += self.cpu_per_call
        return self.cpu

    def destroy(self):
        self.destroyed = True


class FakeDriver:
    def __init__(self, side, *, fail_boot=False, fail_service=(), memory_threshold=None):
        self.side = side
        self.separate_vms = side == "ringzero"
        self.guest_clock = "the TSC" if side == "ringzero" else "uptime"
        self.fail_boot = fail_boot
        self.fail_service = fail_service
        self.memory_threshold = memory_threshold or (3 if side == "ringzero" else 118)
        self.vms = []
        self.boots = []

    def image_size(self):
        if self.side == "ringzero":
            return 812.5, "http.img, stripped"
        return 31_000.0, "kernel 7,900 KiB + initramfs 23,100 KiB"

    def _vm(self, cpu):
        vm = FakeGuest(self.side, cpu)
        self.vms.append(vm)
        return vm

    def boot_http(self, memory_mib=None, timeout=None):
        self.boots.append(("http", memory_mib))
        if self.fail_boot:
            raise RuntimeError("qemu-system-x86_64: could not open /dev/kvm")
        return self._vm(0.01 if self.side == "ringzero" else 0.2)

    def boot_bare(self, memory_mib, timeout):
        self.boots.append(("bare", memory_mib))
        if memory_mib < self.memory_threshold:
            raise RuntimeError(f"no HTTP 200 within {timeout:g} s: the VM ended")
        return self._vm(0.0)

    def boot_service(self, kind):
        self.boots.append((kind, None))
        if kind in self.fail_service:
            raise RuntimeError(f"{kind} crashed")
        return self._vm(0.5)


WRK = {
    "kind": "http-keepalive",
    "tool": "wrk",
    "duration_s": 3.0,
    "sent": 30000,
    "answered": 30000,
    "errors": 0,
    "detail": {
        "requests_per_s": 10000.0,
        "latency_p50_ms": 0.7,
        "latency_p75_ms": 0.8,
        "latency_p90_ms": 0.9,
        "latency_p99_ms": 2.5,
    },
}


class FakeProbes:
    def __init__(self, speed=1.0, fail_upload=False):
        self.speed = speed
        self.fail_upload = fail_upload
        self.calls = []

    def sleep(self, seconds):
        self.calls.append(("sleep", seconds))
        return seconds

    def http_conn(self, ip, seconds, clients):
        self.calls.append(("http_conn", clients))
        return [
            {"answered": 1500 * self.speed, "duration_s": seconds, "errors": 0}
            for _ in range(clients)
        ]

    def keepalive(self, ip, seconds, connections, ping):
        self.calls.append(("keepalive", ping))
        wrk = json.loads(json.dumps(WRK))
        wrk["detail"]["requests_per_s"] *= self.speed
        rtts = [0.2 / self.speed * (1 + i % 10) for i in range(100)]
        return wrk, PingResult(100, 100, rtts) if ping else None

    def download(self, ip, nbytes):
        self.calls.append(("download", nbytes))
        return Transfer(nbytes, nbytes / MiB / (50 * self.speed))

    def upload(self, ip, nbytes):
        self.calls.append(("upload", nbytes))
        if self.fail_upload:
            raise ConnectionResetError("[Errno 104] Connection reset by peer")
        return Transfer(nbytes, nbytes / MiB / (40 * self.speed))

    def dns(self, ip, seconds, window):
        self.calls.append(("dns", window))
        n = int(20000 * self.speed * seconds)
        return DnsLoad(n, n, 0, 0, seconds, 0.3 * seconds)


def meta_for(st):
    return {
        "run_id": "20260101-000000-abcd",
        "started": "2026-01-01 00:00:00 +0000",
        "elapsed_s": 95.0,
        "quick": st.quick,
        "runs": st.runs,
        "groups": list(st.groups),
        "accel": "tcg",
        "backend": "qemu",
        "host": {"cpus": 2, "loadavg_start": [0.5, 0.4, 0.3], "loadavg_end": [1.5, 0.9, 0.5]},
    }


def run_fake(st, rz=None, lx=None, rz_probes=None, lx_probes=None):
    results = Results()
    log_lines = []
    rz = rz or FakeDriver("ringzero")
    lx = lx or FakeDriver("linux")
    rz_probes = rz_probes or FakeProbes(speed=3.0)
    lx_probes = lx_probes or FakeProbes(speed=1.0)
    log = lambda side, text: log_lines.append(f"{side}: {text}")  # noqa: E731
    bench.measure_side(rz, rz_probes, st, results, log)
    bench.measure_side(lx, lx_probes, st, results, log)
    return results, log_lines, rz, lx


def test_a_full_run_measures_every_figure_on_both_sides(tmp_path):
    st = Settings(runs=3)
    results, log, rz, lx = run_fake(st)
    for f in FIGURES:
        for side in bench.SIDES:
            assert results.stat(f.key, side) is not None, (f.key, side, results.reasons[f.key])
    assert results.stat("boot_to_http_ms", "ringzero") == Stat(90.0, 90.0, 90.0, 3)
    assert results.stat("min_memory_mib", "ringzero").median == 3
    assert results.stat("min_memory_mib", "linux").median == 120  # 118 rounded up to 4 MiB
    # idle: 0.01 CPU s per cpu_seconds() call over 10 s
    assert results.stat("idle_cpu_pct", "ringzero").median == pytest.approx(0.1)
    assert results.stat("http_conn_rate", "linux").median == pytest.approx(4 * 1500 / 10)
    assert results.stat("dns_cpu_100k_s", "linux").median == pytest.approx(0.2 / 200000 * 1e5)
    # ringzero: 3 boots (the last one measures), a discard VM and a DNS VM, the bisection;
    # every VM destroyed; Linux: one VM for all of it.
    assert [k for k, _ in rz.boots[:5]] == ["http", "http", "http", "discard", "dns"]
    assert [k for k, _ in lx.boots[:3]] == ["http"] * 3 and lx.boots[3][0] == "bare"
    assert all(vm.destroyed for vm in rz.vms + lx.vms)
    assert any("boot 3/3: first HTTP 200 90 ms after QEMU started" in line for line in log)

    st_meta = meta_for(st)
    data = bench.write_report(tmp_path, st_meta, results)
    saved = json.loads((tmp_path / "bench.json").read_text())
    assert saved["figures"] == json.loads(json.dumps(data["figures"]))
    row = {r["key"]: r for r in saved["figures"]}["boot_to_http_ms"]
    assert row["ringzero"]["samples"] == [90.0, 90.0, 90.0] and row["linux"]["median"] == 12600
    assert row["ratio_text"] == "0.00714 (lower is better: ringzero 140x)"
    assert saved["raw"]["linux"]["memory_probes"][0] == [256, True]
    md = (tmp_path / "bench.md").read_text()
    assert md.startswith("# ringzero bench 20260101-000000-abcd")
    assert "| figure | ringzero | Linux VM | ratio ringzero/Linux |" in md
    assert "| boot: QEMU start to first HTTP 200 | 90.0 ms | 12,600 ms |" in md
    assert "![every figure, min-max whiskers](figures.svg)" in md
    assert "bisected 64..256 MiB to 4 MiB; nginx alone" in md
    assert "- idle: host CPU of QEMU: over 10 s\n" in md  # a note both sides share
    assert "- boot: the guest's own time to ready, ringzero: the TSC\n" in md
    for name in ("figures.svg", "latency.svg"):
        root = ET.fromstring((tmp_path / name).read_text())
        assert root.tag == f"{SVG}svg"
    figures = ET.fromstring((tmp_path / "figures.svg").read_text())
    titles = [t.text for t in figures.iter(f"{SVG}title")]
    assert len(titles) == len(FIGURES)
    bars = [g for g in figures.iter(f"{SVG}g") if g.get("class") == "bar"]
    assert len(bars) == 2 * len(FIGURES)
    latency = ET.fromstring((tmp_path / "latency.svg").read_text())
    series = [g.get("data-name") for g in latency.iter(f"{SVG}g") if g.get("class") == "series"]
    assert series == ["ringzero", "Linux VM", "ringzero", "Linux VM"]


def test_quick_skips_the_bisection_and_says_so_and_reuses_the_boot_vm():
    st = bench.make_settings(quick=True)
    results, _, rz, lx = run_fake(st)
    assert results.reasons["min_memory_mib"] == {
        "ringzero": "skipped with --quick (a bisection takes many boots)",
        "linux": "skipped with --quick (a bisection takes many boots)",
    }
    assert [k for k, _ in lx.boots] == ["http"]  # one Linux boot for everything
    assert [k for k, _ in rz.boots] == ["http", "discard", "dns"]
    assert results.stat("bulk_download_mibps", "linux").median == pytest.approx(50.0)
    cells, footnotes = bench.table_cells(bench.figure_rows(results), st.groups)
    memory = next(c for c in cells if c[0].startswith("smallest -m"))
    assert memory[1:] == ["- [1]", "- [1]", "-"]  # the same reason: one footnote
    assert footnotes == [
        "smallest -m that boots and serves: skipped with --quick (a bisection takes many boots)"
    ]


def test_a_vm_that_does_not_boot_leaves_its_figures_with_the_reason(tmp_path):
    st = bench.make_settings(quick=True)
    results, log, _, _ = run_fake(
        st,
        lx=FakeDriver("linux", fail_boot=True),
        rz=FakeDriver("ringzero", fail_service=("dns",)),
        rz_probes=FakeProbes(speed=3.0, fail_upload=True),
    )
    why = results.reasons["http_keepalive_rps"]["linux"]
    assert why == "the VM did not boot: qemu-system-x86_64: could not open /dev/kvm"
    assert results.reasons["boot_to_http_ms"]["linux"].startswith("qemu-system-x86_64")
    assert results.stat("image_kib", "linux") is not None  # needs no VM
    assert results.reasons["bulk_upload_mibps"]["ringzero"] == (
        "[Errno 104] Connection reset by peer"
    )
    assert results.reasons["dns_qps"]["ringzero"] == "the dns VM did not boot: dns crashed"
    assert results.stat("http_conn_rate", "ringzero") is not None
    text = bench.text_table(bench.figure_rows(results), st.groups)
    lines = text.splitlines()
    assert lines[0].split() == ["figure", "ringzero", "Linux", "VM", "ratio", "ringzero/Linux"]
    boot_line = next(line for line in lines if line.startswith("boot: QEMU start"))
    assert "90.0 ms" in boot_line and "- [" in boot_line and boot_line.rstrip().endswith("-")
    assert any("could not open /dev/kvm" in line for line in lines if line.startswith("["))
    bench.write_report(tmp_path, meta_for(st), results)  # still writes its report
    md = (tmp_path / "bench.md").read_text()
    assert "could not open /dev/kvm" in md
    assert any("failed" in line for line in log)


def test_only_some_groups_measure_only_their_figures():
    st = bench.make_settings(quick=True, only="ping,size")
    results, _, rz, lx = run_fake(st)
    measured = {k for k, per in results.samples.items() if per}
    assert measured == {"image_kib", "ping_p50_ms", "ping_p99_ms"}
    assert [k for k, _ in rz.boots] == ["http"] and [k for k, _ in lx.boots] == ["http"]
    cells, _ = bench.table_cells(bench.figure_rows(results), st.groups)
    assert [c[0] for c in cells[1:]] == [
        "image size",
        "ping RTT under wrk load, median",
        "ping RTT under wrk load, p99",
    ]
    assert bench.http_vm_parts(st, separate_vms=True) == ["keepalive"]
    full = bench.make_settings()
    assert bench.http_vm_parts(full, True) == ["idle", "http", "keepalive", "download"]
    assert bench.http_vm_parts(full, False) == [
        "idle",
        "http",
        "keepalive",
        "download",
        "upload",
        "dns",
    ]


def test_nothing_measured_still_writes_a_report(tmp_path):
    st = bench.make_settings(quick=True)
    results = Results()
    for f in FIGURES:
        for side in bench.SIDES:
            results.fail([f.key], side, "the bench could not start: no root")
    bench.write_report(tmp_path, meta_for(st), results)
    assert results.measured() == 0
    data = json.loads((tmp_path / "bench.json").read_text())
    assert all(r["ratio"] is None and r["ratio_text"] == "-" for r in data["figures"])
    ET.fromstring((tmp_path / "figures.svg").read_text())
    ET.fromstring((tmp_path / "latency.svg").read_text())


# ---- plots --------------------------------------------------------------------------------


def test_bar_charts_draw_a_bar_per_value_with_whiskers_and_a_note_for_none():
    svg = bar_chart(
        [Bar("ringzero", 90.0, 85.0, 97.0), Bar("Linux VM", None, note="not measured")],
        "boot <ms> & more",
        "ms",
    )
    root = ET.fromstring(svg)
    bars = {g.get("data-label"): g for g in root.iter(f"{SVG}g") if g.get("class") == "bar"}
    assert list(bars) == ["ringzero", "Linux VM"]
    assert len(bars["ringzero"].findall(f"{SVG}rect")) == 1
    assert len(bars["ringzero"].findall(f"{SVG}line")) == 3  # the whisker and its caps
    assert "90.0" in [t.text for t in bars["ringzero"].iter(f"{SVG}text")]
    assert not bars["Linux VM"].findall(f"{SVG}rect")
    assert "not measured" in [t.text for t in bars["Linux VM"].iter(f"{SVG}text")]
    assert root.find(f"{SVG}title").text == "boot <ms> & more"


def test_grid_lays_charts_out_in_rows():
    a = bar_chart([Bar("a", 1.0)], "a", "x", width=300, height=200)
    b = bar_chart([Bar("b", 2.0)], "b", "x", width=300, height=250)
    root = ET.fromstring(grid([a, b, a], columns=2, gap=10))
    assert root.get("width") == "610" and root.get("height") == "460"
    inner = root.findall(f"{SVG}svg")
    assert [(s.get("x"), s.get("y")) for s in inner] == [("0", "0"), ("310", "0"), ("0", "260")]
    with pytest.raises(ValueError):
        grid(["<g/>"])


# ---- the real thing -------------------------------------------------------------------------


def _real_bench_skip_reason():
    if os.geteuid() != 0:
        return "the bench needs root (namespaces, taps)"
    for tool in ("qemu-system-x86_64", "httperf", "wrk", "ping"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


@pytest.mark.timeout(900)
@pytest.mark.skipif(_real_bench_skip_reason() is not None, reason=str(_real_bench_skip_reason()))
def test_real_bench_quick_runs_and_writes_its_report(tmp_path):
    """`ringzero bench --quick`: both sides booted and measured in one run,
    the table printed, bench.json/.md and the plots written. Only that it
    runs and reports is checked, and that both sides were measured: the
    figures themselves are never asserted."""
    from ringzero.build import build
    from ringzero.linuxvm import build_linuxvm

    # The images first (cached when they are built already): the budget is the bench's own.
    build(list(bench.RINGZERO_SERVICES))
    build_linuxvm()
    out = tmp_path / "bench"
    cmd = [sys.executable, "-m", "ringzero.cli", "bench", "--quick", "--out", str(out)]
    started = time.monotonic()
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    took = time.monotonic() - started
    print(result.stdout)
    print(result.stderr[-5000:], file=sys.stderr)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ratio ringzero/Linux" in result.stdout
    for name in ("bench.json", "bench.md", "figures.svg", "latency.svg"):
        assert (out / name).is_file(), name
    data = json.loads((out / "bench.json").read_text())
    assert data["quick"] and [f["key"] for f in data["figures"]] == [f.key for f in FIGURES]
    rows = {f["key"]: f for f in data["figures"]}
    missing = {
        (key, side): row[side]["reason"]
        for key, row in rows.items()
        for side in bench.SIDES
        if "median" not in row[side] and key != "min_memory_mib"
    }
    # Each figure but the bisection measured on both sides: a figure
    # missing means a tool or a VM failed, and the bench is broken.
    assert not missing, f"figures not measured: {missing}"
    assert "skipped with --quick" in rows["min_memory_mib"]["ringzero"]["reason"]
    md = (out / "bench.md").read_text()
    assert "| figure | ringzero | Linux VM | ratio ringzero/Linux |" in md
    ET.fromstring((out / "figures.svg").read_text())
    ET.fromstring((out / "latency.svg").read_text())
    # The budget is 2 minutes; a loaded host gets some slack.
    assert took < 240, f"--quick took {took:.0f} s"
