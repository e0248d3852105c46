"""The plain-QEMU backend: qemu-system-x86_64 as a child process."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from ..hypervisor.base import DEBUG_EXIT_DEVICE, QEMU, MachineSpec
from ..runs import run_of

PR_SET_PDEATHSIG = 1


def cpu_args(accel: str) -> list[str]:
    # Plain "-cpu host" aborts under this nested KVM (MSR 0x10a, shared/MACHINE.md).
    if accel == "kvm":
        return ["-accel", "kvm", "-cpu", "host,-arch-capabilities"]
    return ["-accel", "tcg", "-cpu", "max"]


def qemu_argv(spec: MachineSpec) -> list[str]:
    argv = [
        QEMU,
        "-name",
        f"guest={spec.name},debug-threads=off",
        "-machine",
        "pc",
        *cpu_args(spec.accel),
        "-m",
        str(spec.memory_mib),
        "-smp",
        "1",
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-no-reboot",
        "-kernel",
        str(spec.kernel),
        "-append",
        spec.cmdline,
        "-chardev",
        f"socket,id=com1,path={spec.console_socket}",
        "-serial",
        "chardev:com1",
    ]
    for i, path in enumerate(spec.serial_sockets, start=2):
        argv += ["-chardev", f"socket,id=com{i},path={path}", "-serial", f"chardev:com{i}"]
    if spec.firmware:
        argv += ["-bios", str(spec.firmware)]
    argv += ["-device", DEBUG_EXIT_DEVICE]
    return argv


def _die_with_parent() -> None:
    """In the child: QEMU gets SIGKILL when the harness dies, however it dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class QemuMachine:
    def __init__(self, spec: MachineSpec) -> None:
        self.spec = spec
        self.started_at = 0.0
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.spec.log_dir / "qemu.log").open("wb")
        self.started_at = time.monotonic()
        self._proc = subprocess.Popen(
            qemu_argv(self.spec),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
            close_fds=True,
        )
        log.close()

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def wait(self, timeout: float) -> bool:
        if self._proc is None:
            return True
        try:
            self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def destroy(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(timeout=10)

    def pid(self) -> int | None:
        return self._proc.pid if self.running() and self._proc else None

    @property
    def qemu_exit_code(self) -> int | None:
        return self._proc.poll() if self._proc is not None else None

    def hypervisor_log(self) -> str:
        path = self.spec.log_dir / "qemu.log"
        return path.read_text(errors="replace") if path.exists() else ""


def sweep_processes(dead: Callable[[str], bool]) -> list[str]:
    """Kills QEMU processes whose guest name belongs to a dead run (by PID,
    found in /proc; only processes carrying our run-id naming are touched)."""
    killed = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if not argv or not argv[0].endswith(QEMU.encode()):
            continue
        name = next((a.decode(errors="replace") for a in argv if b"guest=ringzero-" in a), None)
        run_id = run_of(name) if name else None
        if run_id and dead(run_id):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry.name), signal.SIGKILL)
                killed.append(f"pid {entry.name} ({name})")
    return killed
