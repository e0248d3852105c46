"""Targets: the systems under test, one TOML file each in targets/.

name = "ringzero"
kind = "unikernel"               # what starts it: unikernel | linux-netns | linux-vm
capabilities = ["kernel", ...]   # which suites apply
[vm]                             # unikernel and linux-vm only
memory_mib = 64
service = "conformance"          # unikernel: the image the network suites boot (`sut`)
serves = ["nginx", "dns"]        # linux-vm: what its initramfs can serve (harness/linuxvm.py)
[tunables]                       # protocol timers, applied by each kind
arp_ttl_s = 4                    # (see TUNABLES)
[deviations]
"suites/x/test_y.py::test_z" = "why it deviates"  # run as strict xfail
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .paths import repo_root

KINDS = ("unikernel", "linux-netns", "linux-vm")
# What a linux-vm target's initramfs can serve (rz.serve= on its command line).
LINUX_VM_SERVES = ("httpd", "nginx", "dns", "discard")
# The kinds the conformance suites run on (harness/net/instances.py). A
# linux-vm target is the benchmarks' reference and has no agent (yet).
SUITE_KINDS = ("unikernel", "linux-netns")

# Tunables a target file may set, with what they mean. Each kind applies
# them its own way (harness/net/instances.py): the unikernel on its command
# line, Linux through sysctls.
TUNABLES = {
    "arp_ttl_s": "seconds an ARP cache entry stays valid",
    "ipfrag_time_s": "seconds an incomplete IPv4 datagram is kept for reassembly",
    "icmp_ratelimit_ms": "minimum milliseconds between rate-limited ICMP errors",
}


class TargetError(ValueError):
    pass


@dataclass(frozen=True)
class Target:
    name: str
    kind: str
    description: str
    capabilities: frozenset[str]
    memory_mib: int = 64
    service: str | None = None  # the unikernel image that serves the network suites
    serves: tuple[str, ...] = ()  # linux-vm: what it can serve (LINUX_VM_SERVES)
    tunables: dict[str, int | float] = field(default_factory=dict)
    deviations: dict[str, str] = field(default_factory=dict)
    path: Path | None = None

    def has(self, capability: str) -> bool:
        return capability in self.capabilities


def targets_dir() -> Path:
    return repo_root() / "targets"


def available() -> list[str]:
    return sorted(p.stem for p in targets_dir().glob("*.toml"))


def load(name_or_path: str) -> Target:
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = targets_dir() / f"{name_or_path}.toml"
    if not path.exists():
        raise TargetError(
            f"no target {name_or_path!r}: the targets are {', '.join(available())} (targets/*.toml)"
        )
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise TargetError(f"{path}: not valid TOML: {e}") from None
    return parse(data, path)


def check_runs_suites(target: Target) -> None:
    """Raises when the conformance suites cannot run on the target."""
    if target.kind not in SUITE_KINDS:
        raise TargetError(
            f"target {target.name} (kind {target.kind}) runs no conformance suites: it is "
            "the benchmarks' reference (harness/linuxvm.py); use a target of kind "
            f"{' or '.join(SUITE_KINDS)}, e.g. --target ringzero or --target linux"
        )


def parse(data: dict[str, object], path: Path | None = None) -> Target:
    where = str(path) if path else "target"

    def need(key: str, kind: type) -> object:
        if key not in data:
            raise TargetError(f"{where}: missing key {key!r}")
        if not isinstance(data[key], kind):
            raise TargetError(f"{where}: {key!r} must be a {kind.__name__}")
        return data[key]

    name = need("name", str)
    kind = need("kind", str)
    if kind not in KINDS:
        raise TargetError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
    caps = need("capabilities", list)
    assert isinstance(caps, list)
    if not all(isinstance(c, str) for c in caps):
        raise TargetError(f"{where}: 'capabilities' must be a list of strings")
    vm = data.get("vm", {})
    if not isinstance(vm, dict):
        raise TargetError(f"{where}: [vm] must be a table")
    memory = vm.get("memory_mib", 64)
    if not isinstance(memory, int) or memory < 8:
        raise TargetError(f"{where}: vm.memory_mib must be an integer >= 8")
    service = vm.get("service")
    if service is not None and (not isinstance(service, str) or not service):
        raise TargetError(f"{where}: vm.service must be the name of a service")
    serves = vm.get("serves", [])
    if not isinstance(serves, list) or not all(s in LINUX_VM_SERVES for s in serves):
        raise TargetError(f"{where}: vm.serves must be a list of {', '.join(LINUX_VM_SERVES)}")
    if serves and kind != "linux-vm":
        raise TargetError(f"{where}: vm.serves is for kind linux-vm")
    unknown_vm = set(vm) - {"memory_mib", "service", "serves"}
    if unknown_vm:
        raise TargetError(f"{where}: unknown keys in [vm]: {', '.join(sorted(unknown_vm))}")
    tunables = data.get("tunables", {})
    if not isinstance(tunables, dict):
        raise TargetError(f"{where}: [tunables] must be a table")
    for key, value in tunables.items():
        if key not in TUNABLES:
            raise TargetError(
                f"{where}: unknown tunable {key!r} (known: {', '.join(sorted(TUNABLES))})"
            )
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise TargetError(f"{where}: tunables.{key} must be a positive number")
    deviations = data.get("deviations", {})
    if not isinstance(deviations, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in deviations.items()
    ):
        raise TargetError(f"{where}: [deviations] maps test ids to non-empty reasons")
    known = {"name", "kind", "description", "capabilities", "vm", "tunables", "deviations"}
    unknown = set(data) - known
    if unknown:
        raise TargetError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    return Target(
        name=str(name),
        kind=str(kind),
        description=str(data.get("description", "")),
        capabilities=frozenset(caps),
        memory_mib=memory,
        service=service,
        serves=tuple(serves),
        tunables=dict(tunables),
        deviations=dict(deviations),
        path=path,
    )
