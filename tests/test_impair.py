"""The impairment forwarder (ringzero.net.impair): the rules decide the same
way for the same seed, the forwarding engine drops, delays, duplicates and
reorders as told (over a socketpair, no root), and (root only) a Linux
stack in the impaired namespace reaches a Linux target through it: UDP
echo, counters, and a TCP bulk transfer under loss and reordering whose
bytes arrive intact."""

import hashlib
import os
import socket
import subprocess
import threading
import time

import pytest
from ringzero.net import impair, netns
from ringzero.net.impair import Decision, ImpairedPath, Impairment, Pump, Rules
from ringzero.net.wire import Wire
from ringzero.runs import Run
from scapy.layers.inet import IP, TCP, UDP, fragment
from scapy.layers.l2 import ARP, Ether

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="namespaces need root")


def tcp_frame(flags="A", payload=b"", sport=40000, dport=7):
    return bytes(
        Ether(src="02:00:00:33:00:03", dst="52:54:00:33:00:02")
        / IP(src="10.33.0.3", dst="10.33.0.2")
        / TCP(sport=sport, dport=dport, flags=flags)
        / payload
    )


UDP_FRAME = bytes(Ether() / IP(src="10.33.0.3", dst="10.33.0.2") / UDP(sport=1, dport=2) / b"x")
ARP_FRAME = bytes(Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(pdst="10.33.0.2"))


# ---- rules and decisions ------------------------------------------------------------


def run_rules(rules, n=2000, seed=1, frame=UDP_FRAME, direction="to_target"):
    imp = Impairment(rules, seed, direction)
    return imp.decisions([frame] * n)


def test_the_same_seed_gives_the_same_decisions_and_another_seed_others():
    rules = Rules(drop=0.1, duplicate=0.05, reorder=0.05, delay_ms=5, jitter_ms=4)
    assert run_rules(rules, seed=7) == run_rules(rules, seed=7)
    assert run_rules(rules, seed=7) != run_rules(rules, seed=8)
    # The two directions of one path draw from different sequences.
    assert run_rules(rules, seed=7) != run_rules(rules, seed=7, direction="from_target")


def test_each_frame_draws_the_same_randomness_whatever_the_rules():
    """Turning loss up or down does not shift the other decisions: the
    duplicates of the frames that survive are the same frames."""
    few = run_rules(Rules(drop=0.01, duplicate=0.1))
    many = run_rules(Rules(drop=0.2, duplicate=0.1))
    for a, b in zip(few, many, strict=True):
        if not a.drop and not b.drop:
            assert a.copies == b.copies


def test_drop_probability_is_about_right():
    dropped = sum(d.drop for d in run_rules(Rules(drop=0.1), n=10000))
    assert 900 <= dropped <= 1100


def test_drop_every_nth_and_numbered_frames():
    every = run_rules(Rules(drop_every=3), n=10)
    assert [i + 1 for i, d in enumerate(every) if d.drop] == [3, 6, 9]
    numbered = run_rules(Rules(drop_nth=[1, 4]), n=5)
    assert [i + 1 for i, d in enumerate(numbered) if d.drop] == [1, 4]


def test_drop_if_sees_every_matching_frame_and_nth_counts_them():
    seen = []

    def pred(f):
        seen.append(bytes(f))
        return False

    frames = [tcp_frame("S"), tcp_frame("A", b"one"), tcp_frame("A"), tcp_frame("PA", b"two")]
    imp = Impairment(Rules(drop_if=pred, drop=1.0))
    assert all(d.drop for d in imp.decisions(frames))
    assert len(seen) == 4  # called even for frames dropped anyway
    second_data = Impairment(Rules(drop_if=impair.nth(impair.tcp_data, 2)))
    assert [d.drop for d in second_data.decisions(frames)] == [False, False, False, True]


def test_by_default_only_ipv4_is_impaired_and_inert_rules_decide_nothing():
    imp = Impairment(Rules(drop=1.0))
    assert imp.decide(ARP_FRAME) is None
    assert imp.decide(UDP_FRAME) == impair.DROP
    assert imp.index == 1  # only matching frames are numbered
    assert Impairment(Rules(drop=1.0, match=None)).decide(ARP_FRAME) == impair.DROP
    assert Impairment(Rules()).decide(UDP_FRAME) is None
    assert Impairment(Rules(match=impair.tcp, drop=1.0)).decide(UDP_FRAME) is None


def test_delay_jitter_duplicate_and_reorder():
    decisions = run_rules(Rules(delay_ms=10, jitter_ms=5, duplicate=0.5, reorder_nth={2}), n=400)
    delays = [t for d in decisions for t in d.delays]
    assert all(0.005 <= t <= 0.015 for t in delays)
    assert max(delays) - min(delays) > 0.008  # jitter spreads them
    copies = [d.copies for d in decisions]
    assert set(copies) == {1, 2} and 150 < copies.count(2) < 250
    assert [i + 1 for i, d in enumerate(decisions) if d.hold] == [2]
    assert Decision().copies == 1 and impair.DROP.copies == 0


def test_rules_check_their_values():
    with pytest.raises(ValueError, match="probability"):
        Rules(drop=1.5)
    with pytest.raises(ValueError, match="negative"):
        Rules(delay_ms=-1)
    with pytest.raises(ValueError, match="reorder_after"):
        Rules(reorder=0.1, reorder_after=0)
    assert Rules().inert and not Rules(drop_nth=[3]).inert


def test_predicates_read_raw_frames():
    syn = tcp_frame("S", sport=1234, dport=80)
    data = tcp_frame("PA", b"hello")
    assert impair.tcp(syn) and not impair.udp(syn) and impair.udp(UDP_FRAME)
    assert not impair.tcp(ARP_FRAME) and not impair.ipv4(ARP_FRAME)
    assert impair.tcp_flags(syn) == 0x02 and impair.tcp_with(0x02)(syn)
    assert not impair.tcp_with(0x12)(syn)
    assert impair.tcp_payload_len(data) == 5 and impair.tcp_data(data)
    assert not impair.tcp_data(syn)
    assert impair.tcp_port(80)(syn) and impair.tcp_port(1234)(syn) and not impair.tcp_port(7)(syn)
    frags = fragment(IP(src="10.33.0.3", dst="10.33.0.2") / TCP() / bytes(3000), fragsize=1000)
    first, later = bytes(Ether() / frags[0]), bytes(Ether() / frags[1])
    assert impair.tcp(first) and not impair.tcp(later)  # a later fragment has no TCP header
    assert impair.all_of(impair.tcp, impair.tcp_port(80))(syn)
    # Predicates work on memoryviews too (the forwarder passes those).
    assert impair.tcp_data(memoryview(data))


# ---- the forwarding engine, over a socketpair -----------------------------------------


class Engine:
    """A Pump between two datagram socketpairs: frames written to `inp`
    come out of `out` as the rules say."""

    def __init__(self, rules, only_to=None):
        self.inp, rx = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        tx, self.out = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        rx.setblocking(False)
        self.out.settimeout(1.0)
        self.socks = [self.inp, rx, tx, self.out]
        self.pump = Pump("to_target", rx, tx, Impairment(rules, 3, "to_target"), only_to)
        self.pump.start()

    def send(self, *frames, gap=0.0):
        for f in frames:
            self.inp.send(f)
            if gap:
                time.sleep(gap)

    def received(self, n, timeout=1.0):
        got = []
        self.out.settimeout(timeout)
        try:
            while len(got) < n:
                got.append(self.out.recv(70000))
        except TimeoutError:
            pass
        return got

    def counted(self, **expected):
        """Whether the pump's counters reach the expected values within a
        second (they move just after a frame is sent)."""
        deadline = time.monotonic() + 1.0
        while True:
            c = self.pump.c.snapshot()
            if all(c[k] == v for k, v in expected.items()) or time.monotonic() > deadline:
                return {k: c[k] for k in expected} == expected
            time.sleep(0.01)

    def close(self):
        self.pump.stop()
        for s in self.socks:
            s.close()


@pytest.fixture
def engine():
    engines = []

    def make(rules, only_to=None):
        e = Engine(rules, only_to)
        engines.append(e)
        return e

    yield make
    for e in engines:
        e.close()


def numbered(n, size=60):
    """IPv4 frames whose byte 40 onwards carry their number."""
    base = bytearray(bytes(Ether() / IP(src="10.33.0.3", dst="10.33.0.2") / UDP() / bytes(size)))
    frames = []
    for i in range(n):
        base[42:44] = i.to_bytes(2, "big")
        frames.append(bytes(base))
    return frames


def order(frames):
    return [int.from_bytes(f[42:44], "big") for f in frames]


def test_inert_rules_forward_everything_in_order(engine):
    e = engine(Rules())
    e.send(*numbered(500))
    assert order(e.received(500)) == list(range(500))
    assert e.counted(forwarded=500, dropped=0)


def test_dropped_and_duplicated_frames_are_counted(engine):
    e = engine(Rules(drop_nth={2, 3}, duplicate=0.0, drop_every=0))
    e.send(*numbered(5))
    assert order(e.received(3)) == [0, 3, 4]
    assert e.counted(received=5, dropped=2, forwarded=3)
    e2 = engine(Rules(duplicate=1.0))
    e2.send(*numbered(3))
    assert order(e2.received(6)) == [0, 0, 1, 1, 2, 2]
    assert e2.counted(duplicated=3, forwarded=6)


def test_a_held_frame_comes_out_after_k_later_frames(engine):
    e = engine(Rules(reorder_nth={1}, reorder_after=2, reorder_ms=5000))
    e.send(*numbered(4))
    assert order(e.received(4)) == [1, 2, 0, 3]
    assert e.counted(reordered=1, forwarded=4)


def test_a_held_frame_comes_out_after_reorder_ms_when_nothing_follows(engine):
    e = engine(Rules(reorder_nth={2}, reorder_after=5, reorder_ms=80))
    start = time.monotonic()
    e.send(*numbered(2))
    got = e.received(2)
    assert order(got) == [0, 1]
    assert time.monotonic() - start >= 0.07


def test_delay_holds_frames_and_keeps_their_order_without_jitter(engine):
    e = engine(Rules(delay_ms=100))
    start = time.monotonic()
    e.send(*numbered(20))
    got = e.received(20)
    assert order(got) == list(range(20))
    assert 0.09 <= time.monotonic() - start < 1.0
    assert e.counted(delayed=20, forwarded=20)


def test_frames_from_the_target_to_other_macs_are_ignored(engine):
    mine = bytes.fromhex("020000330003")
    e = engine(Rules(), only_to=mine)
    to_me = bytes(Ether(dst="02:00:00:33:00:03") / IP() / UDP())
    to_peer = bytes(Ether(dst="02:00:00:33:00:0a") / IP() / UDP())
    broadcast = ARP_FRAME
    e.send(to_peer, to_me, broadcast)
    assert e.received(2) == [to_me, broadcast]
    assert e.counted(ignored=1, forwarded=2)


def test_rules_changed_while_running_apply_to_later_frames(engine):
    e = engine(Rules())
    e.send(*numbered(3))
    assert len(e.received(3)) == 3
    e.pump.impairment = Impairment(Rules(drop=1.0))
    e.send(*numbered(3))
    assert e.received(1, timeout=0.2) == []
    assert e.counted(dropped=3, forwarded=3)


# ---- end to end: Linux to Linux through the forwarder (root) ------------------------


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("RINGZERO_STATE_DIR", str(tmp_path))
    with Run() as r:
        yield r


@pytest.fixture
def linux_target(run):
    """A wire and a Linux stack on target_ip behind a veth, as the linux
    target's instances are; yields (wire, link, target namespace)."""
    target = run.name("impair-target")
    netns.create(target)
    with Wire(run) as wire:
        try:
            a = wire.addr
            link = wire.new_veth(target, mac=a.target_mac)
            netns.ip_batch([f"addr add {a.target_ip}/24 dev eth0", "link set eth0 up"], target)
            netns.run(["ethtool", "-K", "eth0", "tx", "off"], target)
            wire.wait_carrier(link)
            yield wire, link, target
        finally:
            netns.delete(target)


def udp_echo(ns, ip, port):
    """A UDP echo server in the namespace; returns its socket (close it to stop)."""
    s = netns.socket_in(ns, socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((ip, port))

    def serve():
        while True:
            try:
                data, src = s.recvfrom(65535)
                s.sendto(data, src)
            except OSError:
                return

    threading.Thread(target=serve, daemon=True).start()
    return s


@root_only
def test_udp_through_the_forwarder_is_counted_and_a_chosen_datagram_is_lost(run, linux_target):
    wire, link, target = linux_target
    a = wire.addr
    echo = udp_echo(target, a.target_ip, 7)
    with ImpairedPath(run, wire, link, seed=5) as path:
        assert path.ns.startswith(f"ringzero-{run.id}-") and netns.exists(path.ns)
        assert path.ip == "10.33.0.3"
        s = path.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(2.0)
        s.sendto(b"first", (a.target_ip, 7))  # ARP goes through untouched first
        assert s.recvfrom(100)[0] == b"first"
        path.reset_counters()
        # Drop the 3rd datagram to the target, duplicate every reply.
        path.set_rules(
            to_target=Rules(match=impair.udp, drop_nth={3}),
            from_target=Rules(match=impair.udp, duplicate=1.0),
        )
        for i in range(5):
            s.sendto(b"n%d" % i, (a.target_ip, 7))
        got = []
        s.settimeout(0.5)
        try:
            while True:
                got.append(s.recvfrom(100)[0])
        except TimeoutError:
            pass
        assert sorted(got) == [b"n0", b"n0", b"n1", b"n1", b"n3", b"n3", b"n4", b"n4"]
        c = path.counters()
        # 4 and 8 datagrams, and maybe ARP (the target checking .3 again: not impaired)
        assert c["to_target"]["dropped"] == 1 and c["to_target"]["forwarded"] >= 4
        assert c["from_target"]["duplicated"] == 4 and c["from_target"]["forwarded"] >= 8
        assert c["from_target"]["kernel_drops"] == 0
        s.close()
        veth = path.veth
        assert veth in wire.links()
    echo.close()
    assert not netns.exists(path.ns) and veth not in wire.links()


def ping(ns, ip):
    argv = netns.exec_argv(ns, ["ping", "-c", "1", "-W", "1", ip])
    return subprocess.run(argv, capture_output=True, check=False).returncode == 0


@root_only
def test_only_the_impaired_namespace_answers_for_its_address(run, linux_target):
    """The target resolves .3 to the impaired stack's MAC through the
    forwarder; once the path is closed nothing answers (the wire's own
    stack never does)."""
    wire, link, target = linux_target
    with ImpairedPath(run, wire, link) as path:
        assert ping(target, path.ip)
        assert path.mac in netns.ip("-n", target, "neigh", "show", path.ip).stdout
        assert path.counters()["from_target"]["forwarded"] >= 2  # the ARP request, the echo
    assert not ping(target, path.ip)


@root_only
@pytest.mark.parametrize(
    "rules",
    [Rules(), Rules(drop=0.01, reorder=0.01, reorder_after=3)],
    ids=["clean", "1pc-loss-1pc-reorder"],
)
def test_a_tcp_bulk_transfer_arrives_intact(run, linux_target, rules):
    """20 MiB from the impaired stack to the target over TCP, with and
    without 1 % loss and 1 % reordering both ways; the SHA-256 of what
    arrives matches, and the throughput is printed."""
    wire, link, target = linux_target
    a = wire.addr
    size = 20 << 20
    srv = netns.socket_in(target, socket.AF_INET, socket.SOCK_STREAM)
    srv.bind((a.target_ip, 5001))
    srv.listen(1)
    got = {}

    def sink():
        conn, _ = srv.accept()
        h, n, buf = hashlib.sha256(), 0, bytearray(1 << 16)
        while k := conn.recv_into(buf):
            h.update(memoryview(buf)[:k])
            n += k
        got.update(n=n, sha=h.hexdigest())
        conn.close()

    reader = threading.Thread(target=sink)
    reader.start()
    with ImpairedPath(run, wire, link, seed=11) as path:
        path.set_rules(both=rules)
        client = path.socket(socket.AF_INET, socket.SOCK_STREAM)
        client.settimeout(30)
        client.connect((a.target_ip, 5001))
        block = os.urandom(1 << 20)
        sent = hashlib.sha256()
        start = time.monotonic()
        for _ in range(size >> 20):
            client.sendall(block)
            sent.update(block)
        client.shutdown(socket.SHUT_WR)
        reader.join(60)
        elapsed = time.monotonic() - start
        client.close()
        print(f"{size >> 20} MiB in {elapsed:.2f} s: {size / elapsed / 2**20:.1f} MiB/s")
        print(path.summary())
        c = path.counters()
    srv.close()
    assert got == {"n": size, "sha": sent.hexdigest()}
    if rules.inert:
        assert c["to_target"]["dropped"] == 0
    else:
        assert c["to_target"]["dropped"] > 0 and c["to_target"]["reordered"] > 0
    assert c["to_target"]["errors"] == 0 and c["from_target"]["errors"] == 0
