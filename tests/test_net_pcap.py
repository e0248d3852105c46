"""The capture's pcap writer: scapy and tshark read what it writes."""

import shutil
import subprocess

import pytest
from ringzero.net.pcap import PcapWriter
from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import ARP, Ether
from scapy.utils import rdpcap

FRAMES = [
    bytes(Ether(src="02:00:00:33:00:0a", dst="ff:ff:ff:ff:ff:ff") / ARP(pdst="10.33.0.2")),
    bytes(Ether() / IP(src="10.33.0.10", dst="10.33.0.2") / ICMP() / (b"x" * 1400)),
    bytes(Ether() / IP() / ICMP()),
]
TIMES = [1700000000.000001, 1700000000.5, 1700000001.999999]


@pytest.fixture
def pcap(tmp_path):
    path = tmp_path / "wire.pcap"
    writer = PcapWriter(path)
    for data, t in zip(FRAMES, TIMES, strict=True):
        writer.write(data, t)
    writer.close()
    return path


def test_scapy_reads_back_every_frame_and_time(pcap):
    packets = rdpcap(str(pcap))
    assert [bytes(p) for p in packets] == FRAMES
    assert [float(p.time) for p in packets] == pytest.approx(TIMES, abs=1e-6)


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_tshark_reads_it(pcap):
    out = subprocess.run(
        ["tshark", "-r", str(pcap), "-T", "fields", "-e", "frame.len", "-e", "_ws.col.Protocol"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    rows = [line.split("\t") for line in out if line]
    assert rows == [["42", "ARP"], [str(len(FRAMES[1])), "ICMP"], [str(len(FRAMES[2])), "ICMP"]]
