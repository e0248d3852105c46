"""Machine backends: libvirt (default) and plain QEMU (fallback)."""

from __future__ import annotations

from ..hypervisor.base import BACKENDS, Machine, MachineSpec
from ..runs import register_sweeper


def create(backend: str, spec: MachineSpec) -> Machine:
    if backend == "libvirt":
        from ..hypervisor.libvirt import LibvirtMachine

        return LibvirtMachine(spec)
    if backend == "qemu":
        from ..hypervisor.qemu import QemuMachine

        return QemuMachine(spec)
    raise ValueError(f"unknown backend {backend!r}: use one of {', '.join(BACKENDS)}")


def _register_sweepers() -> None:
    from ..hypervisor.libvirt import sweep_domains
    from ..hypervisor.qemu import sweep_processes

    # libvirt first, so that it sees its own domains end.
    register_sweeper("libvirt domains", sweep_domains)
    register_sweeper("QEMU processes", sweep_processes)


_register_sweepers()

__all__ = ["BACKENDS", "Machine", "MachineSpec", "create"]
