"""The plain-QEMU backend: qemu-system-x86_64 as a child process."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
        *(["-initrd", str(spec.initrd)] if spec.initrd else []),
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
    if spec.nic is not None:
        argv += [
            "-netdev",
            f"tap,id=net0,ifname={spec.nic.tap},script=no,downscript=no",
            "-device",
            f"virtio-net-pci,netdev=net0,mac={spec.nic.mac},romfile=",
        ]
    if spec.paused:
        # Stopped CPU, and a QMP monitor (QEMU connects to the harness) to say `cont`.
        argv += ["-S", "-chardev", f"socket,id=qmp,path={qmp_socket(spec)}"]
        argv += ["-mon", "chardev=qmp,mode=control"]
    return argv


def qmp_socket(spec: MachineSpec) -> Path:
    return spec.console_socket.with_suffix(".qmp")


def _die_with_parent() -> None:
    """In the child: QEMU gets SIGKILL when the harness dies, however it dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class QemuMachine:
    def __init__(self, spec: MachineSpec) -> None:
        self.spec = spec
        self.started_at = 0.0
        self._proc: subprocess.Popen[bytes] | None = None
        self._qmp_server: socket.socket | None = None
        self._qmp: socket.socket | None = None
        self._qmp_reader: Any = None

    def start(self) -> None:
        if self.spec.paused:
            path = qmp_socket(self.spec)
            path.unlink(missing_ok=True)
            self._qmp_server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._qmp_server.bind(str(path))
            self._qmp_server.listen(1)
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
        if self._qmp_server is not None:
            try:
                self._qmp_connect()
            except Exception:
                self.destroy()
                raise

    def _qmp_connect(self) -> None:
        """Waits for QEMU's QMP connection and negotiates it. QEMU answers only
        from its main loop, after every device (the NIC's tap included) has
        been opened: only then may the tap be moved out of the root namespace."""
        assert self._qmp_server is not None
        self._qmp_server.settimeout(10)
        try:
            conn, _ = self._qmp_server.accept()
        except TimeoutError:
            raise RuntimeError(
                f"QEMU did not connect to its QMP socket within 10 s: {self.hypervisor_log()}"
            ) from None
        self._qmp = conn
        conn.settimeout(10)
        self._qmp_reader = conn.makefile("rb")
        _qmp_read(self._qmp_reader)  # the greeting
        self._qmp_execute("qmp_capabilities")

    def _qmp_execute(self, command: str) -> None:
        assert self._qmp is not None
        self._qmp.sendall(json.dumps({"execute": command}).encode() + b"\n")
        try:
            reply = _qmp_read(self._qmp_reader)
        except (OSError, RuntimeError) as e:
            raise RuntimeError(f"QMP {command}: {e}: {self.hypervisor_log()}") from None
        if "return" not in reply:
            raise RuntimeError(f"QMP {command}: {reply}")

    def resume(self) -> None:
        if self._qmp is not None:
            self._qmp_execute("cont")

    def _close_qmp(self) -> None:
        if self._qmp_reader is not None:
            with contextlib.suppress(OSError):
                self._qmp_reader.close()
            self._qmp_reader = None
        for sock in (self._qmp, self._qmp_server):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()
        self._qmp = self._qmp_server = None
        if self.spec.paused:
            qmp_socket(self.spec).unlink(missing_ok=True)

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
        self._close_qmp()

    def pid(self) -> int | None:
        return self._proc.pid if self.running() and self._proc else None

    @property
    def qemu_exit_code(self) -> int | None:
        return self._proc.poll() if self._proc is not None else None

    def hypervisor_log(self) -> str:
        path = self.spec.log_dir / "qemu.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _qmp_read(reader: Any) -> dict[str, Any]:
    """The next QMP message that is not an asynchronous event."""
    while True:
        line = reader.readline()
        if not line:
            raise RuntimeError("QEMU closed its QMP connection")
        message = json.loads(line)
        if isinstance(message, dict) and "event" not in message:
            return message


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
