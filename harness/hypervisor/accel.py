"""KVM when it can run ringzero natively, TCG otherwise; the choice and its
reason are logged.

"Usable" means more than an openable /dev/kvm. On hosts without VMX/SVM,
/dev/kvm may come from kvm_pvm (pagetable-based virtualization), which runs
only paravirtualized PVM guests natively; any other guest, ringzero included,
runs instruction by instruction in KVM's emulator (measured here: ~1 us per
guest instruction) and dies at its first SSE arithmetic instruction, which
that emulator lacks ("KVM internal error. Suberror: 1"). TCG is far faster
there, so auto picks it.
"""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path

from .base import Accel

KVM_GET_API_VERSION = 0xAE00
KVM_API_VERSION = 12
PVM_MODULE = Path("/sys/module/kvm_pvm")


def _cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def kvm_status() -> tuple[bool, str]:
    """Whether KVM can run ringzero guests natively here, and why not."""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return False, "/dev/kvm does not exist (no KVM on this host)"
    except PermissionError:
        return False, "/dev/kvm is not accessible (add the user to group kvm, or run as root)"
    try:
        version = fcntl.ioctl(fd, KVM_GET_API_VERSION)
    except OSError as e:
        return False, f"/dev/kvm does not answer KVM_GET_API_VERSION ({e})"
    finally:
        os.close(fd)
    if version != KVM_API_VERSION:
        return False, f"/dev/kvm speaks KVM API {version}, not {KVM_API_VERSION}"
    if PVM_MODULE.exists() and not _cpu_flags() & {"vmx", "svm"}:
        return False, (
            "/dev/kvm is kvm_pvm (no VMX/SVM on this CPU): it emulates non-PVM guests "
            "instruction by instruction and cannot run their SSE code"
        )
    return True, "KVM is usable"


_logged: set[str] = set()


def resolve(requested: str) -> Accel:
    """Maps --accel auto|kvm|tcg to the accelerator to use."""
    if requested == "tcg":
        _log("tcg (requested with --accel tcg)")
        return "tcg"
    ok, why = kvm_status()
    if requested == "kvm":
        if not ok and not PVM_MODULE.exists():
            raise RuntimeError(f"--accel kvm: {why}; use --accel tcg or --accel auto")
        _log("kvm" if ok else f"kvm (forced with --accel kvm, although {why})")
        return "kvm"
    if requested != "auto":
        raise ValueError(f"unknown accelerator {requested!r}: use auto, kvm or tcg")
    if ok:
        _log("kvm")
        return "kvm"
    _log(f"tcg, because {why}")
    return "tcg"


def _log(message: str) -> None:
    if message not in _logged:
        _logged.add(message)
        print(f"ringzero: accelerator: {message}", file=sys.stderr)
