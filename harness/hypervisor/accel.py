"""KVM when it works, TCG otherwise; the choice and its reason are logged."""

from __future__ import annotations

import fcntl
import os
import sys

from ..hypervisor.base import Accel

KVM_GET_API_VERSION = 0xAE00
KVM_API_VERSION = 12


def kvm_status() -> tuple[bool, str]:
    """Whether /dev/kvm can run guests here, and why not."""
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
    return True, "KVM is usable"


_logged: set[str] = set()


def resolve(requested: str) -> Accel:
    """Maps --accel auto|kvm|tcg to the accelerator to use."""
    if requested == "tcg":
        _log("tcg (requested with --accel tcg)")
        return "tcg"
    ok, why = kvm_status()
    if requested == "kvm":
        if not ok:
            raise RuntimeError(f"--accel kvm: {why}; use --accel tcg or --accel auto")
        _log("kvm")
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
