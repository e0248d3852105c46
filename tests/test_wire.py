"""The wire (root only): namespaces and links come and go, leftovers of
dead runs are swept, and the peer's capture keeps up with a burst."""

import os
import socket
import time

import pytest
from ringzero.net import netns
from ringzero.net.peer import BPF_ONLY_ARP, Peer, bpf
from ringzero.net.wire import Addresses, Wire, sweep_namespaces, sweep_taps
from ringzero.runs import Run, new_run_id, resource_name
from scapy.layers.l2 import ARP, Ether

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="namespaces need root")


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("RINGZERO_STATE_DIR", str(tmp_path))
    with Run() as r:
        yield r


def test_addresses_of_virtual_hosts():
    a = Addresses()
    assert (a.host_ip(0), a.host_mac(0)) == ("10.33.0.10", "02:00:00:33:00:0a")
    assert (a.host_ip(5), a.host_mac(5)) == ("10.33.0.15", "02:00:00:33:00:0f")
    assert a.host_index("10.33.0.15") == 5
    assert a.host_index(a.unused_ip) is None and a.host_index(a.tools_ip) is None
    with pytest.raises(ValueError, match="virtual host 64"):
        a.host_ip(64)


def test_a_wire_is_a_namespace_without_ipv6_that_close_removes(run):
    wire = Wire(run).create()
    try:
        assert netns.exists(wire.ns) and wire.ns.startswith(f"ringzero-{run.id}-")
        assert wire.call(lambda: netns.read_sysctl("net.ipv6.conf.all.disable_ipv6")) == "1"
        out = wire.run(["ip", "-br", "link", "show", "lo"]).stdout
        assert "UP" in out or "UNKNOWN" in out
    finally:
        wire.close()
    assert not netns.exists(wire.ns)


def test_a_missing_tool_names_its_package(run):
    with Wire(run) as wire, pytest.raises(netns.NetnsError, match="apt-get install"):
        wire.run(["no-such-tool-rz"])


def test_a_veth_link_reaches_linux_in_its_namespace_and_is_captured(run, tmp_path):
    target = run.name("test-target")
    netns.create(target)
    with Wire(run) as wire:
        try:
            a = wire.addr
            link = wire.new_veth(target, mac=a.target_mac)
            with Peer(wire, tmp_path / "wire.pcap") as peer:
                peer.attach(link)
                netns.ip_batch([f"addr add {a.target_ip}/24 dev eth0", "link set eth0 up"], target)
                wire.wait_carrier(link)
                h = peer.host(3)
                peer.send(
                    Ether(src=h.mac, dst="ff:ff:ff:ff:ff:ff")
                    / ARP(hwsrc=h.mac, psrc=h.ip, pdst=a.target_ip)
                )
                reply = peer.expect(Ether(dst=h.mac) / ARP(op=2, hwsrc=a.target_mac), timeout=2)
                assert reply is not None
                assert reply.time >= peer.cursor
                assert peer.stats()["dropped"] == 0
            assert (tmp_path / "wire.pcap").stat().st_size >= 24 + 2 * (16 + 42)
            wire.remove_link(link)
            assert link not in wire.links()
        finally:
            netns.delete(target)


@pytest.fixture
def sending(run):
    """A veth to a target namespace, the peer capturing on it, and a raw
    packet socket on the target's end: (peer, socket)."""
    target = run.name("test-sender")
    netns.create(target)
    with Wire(run) as wire:
        try:
            link = wire.new_veth(target)
            netns.ip("-n", target, "link", "set", "eth0", "up")
            wire.wait_carrier(link)
            with Peer(wire) as peer:
                peer.attach(link)
                sender = netns.socket_in(target, socket.AF_PACKET, socket.SOCK_RAW, 0)
                sender.bind(("eth0", 0))
                try:
                    yield peer, sender
                finally:
                    sender.close()
        finally:
            netns.delete(target)


def test_the_capture_keeps_up_with_a_burst_of_10000_frames(sending):
    """Linux's own packet socket in the target namespace sends 10000 frames
    as fast as it can; the peer records every one."""
    peer, sender = sending
    frame = bytes.fromhex("02000033000a52540033000288b5") + bytes(46)
    start = time.monotonic()
    sent = 0
    while sent < 10000:
        try:
            sender.send(frame)
            sent += 1
        except OSError:
            time.sleep(0.0001)
    elapsed = time.monotonic() - start
    got = peer.collect(0.5, Ether(type=0x88B5))
    stats = peer.stats()
    print(f"10000 frames sent in {elapsed:.3f} s; captured {len(got)}; {stats}")
    assert len(got) == 10000 and stats["dropped"] == 0


def test_a_capture_filter_keeps_only_what_it_accepts(sending):
    """filter_capture(): a BPF program that accepts one ethertype leaves the
    others out of the capture; BPF_ONLY_ARP keeps ARP alone; a program that
    is not whole instructions is refused."""
    peer, sender = sending
    with pytest.raises(ValueError):
        peer.filter_capture(b"\x06\x00")
    peer.filter_capture(
        bpf(
            (0x28, 0, 0, 12),  # ethertype
            (0x15, 0, 1, 0x88B6),  # 0x88b6? keep : drop
            (0x06, 0, 0, 0x40000),
            (0x06, 0, 0, 0),
        )
    )
    head = bytes.fromhex("02000033000a520054003302")
    for i in range(30):
        kind = b"\x88\xb6" if i % 3 == 0 else b"\x88\xb5"
        sender.send(head + kind + bytes([i]) * 46)
    kept = peer.collect(0.5, Ether())
    peer.filter_capture(BPF_ONLY_ARP)
    peer.mark()
    sender.send(head + b"\x88\xb6" + bytes(46))
    sender.send(head + b"\x08\x06" + bytes(28) + bytes(18))
    after = peer.collect(0.5, Ether())
    assert [f.type for f in kept] == [0x88B6] * 10
    assert [bytes(f.payload)[0] for f in kept] == list(range(0, 30, 3))
    assert [f.type for f in after] == [0x0806]


def test_leftovers_of_a_dead_run_are_swept_and_a_live_runs_are_not():
    dead_id, live_id = new_run_id(), new_run_id()
    dead_ns, live_ns = resource_name(dead_id, "wire"), resource_name(live_id, "wire")
    tap = f"rzsw{dead_id[-4:]}"
    netns.create(dead_ns)
    netns.create(live_ns)
    netns.ip("tuntap", "add", "dev", tap, "mode", "tap")
    netns.ip("link", "set", "dev", tap, "alias", resource_name(dead_id, "tap-1"))
    try:

        def dead(run_id):
            return run_id == dead_id

        assert sweep_namespaces(dead) == [dead_ns]
        assert sweep_taps(dead) == [f"{tap} ({resource_name(dead_id, 'tap-1')})"]
        assert not netns.exists(dead_ns) and netns.exists(live_ns)
        assert netns.ip("link", "show", tap, check=False).returncode != 0
    finally:
        netns.delete(dead_ns)
        netns.delete(live_ns)
        netns.ip("link", "delete", tap, check=False)
