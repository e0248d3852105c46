"""What a backend is asked to run, and the interface every backend offers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

Accel = Literal["kvm", "tcg"]
BACKENDS = ("libvirt", "qemu")

QBOOT = Path("/usr/share/qemu/qboot.rom")
QEMU = "qemu-system-x86_64"
# isa-debug-exit: a guest write of v to port 0xf4 ends QEMU with (v << 1) | 1.
DEBUG_EXIT_DEVICE = "isa-debug-exit,iobase=0xf4,iosize=0x04"


@dataclass(frozen=True)
class NicSpec:
    """A virtio-net NIC on an existing tap (opened by name in the root
    namespace; the backend neither creates nor configures it)."""

    tap: str
    mac: str


@dataclass(frozen=True)
class MachineSpec:
    name: str  # unique, carries the run id (see runs.resource_name)
    kernel: Path  # a multiboot image, or a Linux bzImage (with initrd)
    cmdline: str
    memory_mib: int
    accel: Accel
    console_socket: Path  # COM1; the harness listens, QEMU connects
    serial_sockets: tuple[Path, ...] = ()  # COM2, ... (the control channel)
    log_dir: Path = field(default_factory=Path)  # where the hypervisor's own output goes
    nic: NicSpec | None = None
    # Created with its CPU stopped; resume() starts it (so that a capture can
    # be opened on the NIC's tap before the guest sends its first frame).
    paused: bool = False
    initrd: Path | None = None  # a Linux kernel's initramfs (harness/linuxvm.py)

    @property
    def firmware(self) -> Path | None:
        """qboot reaches a multiboot kernel in well under a millisecond where
        SeaBIOS takes seconds under nested KVM (shared/MACHINE.md)."""
        return QBOOT if QBOOT.exists() else None


class Machine(Protocol):
    spec: MachineSpec
    # time.monotonic() just before the hypervisor was asked to start the VM.
    started_at: float

    def start(self) -> None: ...

    def resume(self) -> None:
        """Starts the CPU of a machine created paused (a no-op otherwise)."""
        ...

    def running(self) -> bool: ...

    def wait(self, timeout: float) -> bool:
        """True once the VM has ended (within timeout seconds)."""
        ...

    def destroy(self) -> None:
        """Stops the VM at once; a no-op when it has ended."""
        ...

    def pid(self) -> int | None:
        """The QEMU process, while it runs."""
        ...

    @property
    def qemu_exit_code(self) -> int | None:
        """QEMU's exit code when the backend can know it."""
        ...

    def hypervisor_log(self) -> str:
        """What QEMU (or libvirt about it) printed, for failure reports."""
        ...
