"""How a bulk response reaches the target's NIC. Not an RFC requirement but
a property of ringzero's virtio-net driver that its throughput rests on:
the frames one pass of the event loop queues are handed to the device with
one notification (an I/O exit each, the costliest thing a guest does under
KVM and TCG alike), not one per frame."""

from __future__ import annotations

import pytest

from .http_client import pattern

pytestmark = [pytest.mark.requires("http-server", "nic-stats"), pytest.mark.boot_args("http=80")]

SIZE = 1 << 20


def test_a_download_notifies_the_device_once_per_batch_not_per_frame(curl, sut):
    """GET /bytes/1 MiB: about 725 full-sized segments, each ACK from curl's
    host releasing two or more at once. The driver notified the device at
    most once for every two frames it sent."""
    before = sut.agent.request("stats")["nic"]
    c = curl(paths=[f"/bytes/{SIZE}"], timeout=120.0)
    after = sut.agent.request("stats")["nic"]
    assert c.returncode == 0 and c.bodies[0] == pattern(SIZE), c.stderr
    frames = after["tx_frames"] - before["tx_frames"]
    notifies = after["tx_notifies"] - before["tx_notifies"]
    assert frames >= SIZE // 1460, f"{frames} frames sent for {SIZE} octets"
    assert 0 < notifies <= frames // 2, f"{notifies} notifications for {frames} frames"
