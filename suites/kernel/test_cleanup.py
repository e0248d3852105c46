"""Nothing outlives a run: a harness killed with SIGKILL leaves no VM behind
once the next run starts, and the next run's sweep removes the VMs of runs
that died."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from ringzero import hypervisor, runs
from ringzero.hypervisor.base import MachineSpec
from ringzero.net import netns
from ringzero.paths import state_dir

pytestmark = pytest.mark.requires("kernel")


def qemu_pids_of(run_id: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"qemu-system" in cmdline and f"guest=ringzero-{run_id}-".encode() in cmdline:
                pids.append(int(entry.name))
    return pids


def wait_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@dataclass
class IdleBoot:
    proc: subprocess.Popen[bytes]
    run_id: str
    log: Path


@pytest.fixture
def idle_boot(backend, accel, tmp_path) -> Iterator[IdleBoot]:
    """`ringzero boot` of an idle VM in a child process, once the VM runs."""
    log = tmp_path / "boot.log"
    runs_before = {d.name for d in state_dir().iterdir()}
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ringzero.cli", "boot", "kernel_tests", "--cmdline",
             "test=idle", "--backend", backend, "--accel", accel],
            stdout=out, stderr=subprocess.STDOUT,
            preexec_fn=netns.prepare_child,  # SIGINT as at a terminal, even if ours is ignored
        )  # fmt: skip
    try:
        assert wait_until(lambda: "kernel_tests: idling" in log.read_text(), 60), log.read_text()
        (run_id,) = {d.name for d in state_dir().iterdir()} - runs_before - {"runs"}
        assert qemu_pids_of(run_id), "the VM is not running"
        yield IdleBoot(proc, run_id, log)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_sigkilled_run_leaves_nothing_after_the_next_run_starts(idle_boot):
    """`ringzero boot` killed with SIGKILL while its VM runs: its VM goes with
    it, and the next run (here `ringzero sweep`) removes its scratch files."""
    os.kill(idle_boot.proc.pid, signal.SIGKILL)
    idle_boot.proc.wait()
    subprocess.run([sys.executable, "-m", "ringzero.cli", "sweep"], check=True, capture_output=True)
    run_id = idle_boot.run_id
    assert wait_until(lambda: not qemu_pids_of(run_id), 10), "QEMU outlived its run"
    assert not (state_dir() / run_id).exists(), "the run's scratch directory is left"
    assert not runs.run_alive(run_id)


def test_ctrl_c_stops_ringzero_boot_and_its_vm(idle_boot):
    """Ctrl-C (SIGINT) on `ringzero boot` destroys the VM and exits with 130."""
    idle_boot.proc.send_signal(signal.SIGINT)
    assert idle_boot.proc.wait(timeout=30) == 130
    assert "interrupted" in idle_boot.log.read_text()
    assert wait_until(lambda: not qemu_pids_of(idle_boot.run_id), 10), "QEMU outlived Ctrl-C"


def test_sweep_removes_the_vms_of_a_dead_run(backend, accel, images, tmp_path):
    """A VM whose run holds no lock any more (its harness died without its
    own cleanup getting a chance) is destroyed by the next sweep, on either
    backend."""
    dead_run = runs.new_run_id()  # never locked: dead from the start
    scratch = runs.run_dir(dead_run)
    spec = MachineSpec(
        name=runs.resource_name(dead_run, "orphan"),
        kernel=images("kernel_tests").path.resolve(),
        cmdline="test=idle",
        memory_mib=32,
        accel=accel,
        console_socket=scratch / "com1",
        log_dir=tmp_path,
    )
    # Something must listen on the console socket for QEMU to start.
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(spec.console_socket))
    listener.listen(1)
    machine = hypervisor.create(backend, spec)
    machine.start()
    try:
        assert machine.running()
        removed = runs.sweep()
        assert any(spec.name in name for names in removed.values() for name in names), removed
        assert wait_until(lambda: not machine.running(), 10), "the orphan VM survived the sweep"
        assert not scratch.exists()
    finally:
        machine.destroy()
        listener.close()
