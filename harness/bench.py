"""Benchmarks (not tests: they print figures and never fail on them).

``ringzero bench boot``: boots ``hello`` N times per backend and reports the
median (min-max) of
  - QEMU start to Service::start(): from asking the backend to start the VM
    to the console line the kernel prints just before calling
    Service::start(), on the host's clock;
  - reset to Service::start() and the kernel's own init time, as the guest
    measured them with its TSC;
  - QEMU start to the VM's end (hello ends itself 10 ms after start);
and the size of the stripped image.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass

from .build import Image, build
from .hypervisor.base import BACKENDS, Accel
from .paths import reports_dir
from .runs import Run
from .vm import Vm


@dataclass
class BootSample:
    start_to_service_ms: float
    reset_to_start_us: int
    kernel_init_us: int
    start_to_exit_ms: float


def _summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def _fmt(s: dict[str, float], digits: int = 1) -> str:
    return f"{s['median']:.{digits}f} ({s['min']:.{digits}f}-{s['max']:.{digits}f})"


def boot_once(
    run: Run, image: Image, backend: str, accel: Accel, memory_mib: int, index: int
) -> BootSample:
    artifacts = reports_dir() / "bench" / run.id / f"boot-{backend}-{index}"
    with Vm(
        run,
        image,
        name=f"bench-{backend}-{index}",
        backend=backend,
        accel=accel,
        artifacts=artifacts,
        memory_mib=memory_mib,
    ) as vm:
        assert vm.machine is not None
        started = vm.wait_started(timeout=10)
        status = vm.wait_exit(timeout=10)
        ended = time.monotonic()
        if status != 0:
            raise RuntimeError(f"hello ended with status {status}; see {artifacts}")
        return BootSample(
            start_to_service_ms=(started.line.time - vm.machine.started_at) * 1000,
            reset_to_start_us=int(started[1]),
            kernel_init_us=int(started[2]),
            start_to_exit_ms=(ended - vm.machine.started_at) * 1000,
        )


def boot_benchmark(runs: int, backend: str | None, accel: Accel, memory_mib: int) -> int:
    from .cli import start_run

    image = build(["hello"])["hello"]
    backends = [backend] if backend else list(BACKENDS)
    results: dict[str, dict[str, dict[str, float]]] = {}
    samples: dict[str, list[BootSample]] = {}
    with start_run() as run:
        for b in backends:
            print(f"ringzero: booting hello {runs} times with {b} ({accel}) ...", file=sys.stderr)
            boot_once(run, image, b, accel, memory_mib, -1)  # warm caches (page cache, libvirt)
            samples[b] = [boot_once(run, image, b, accel, memory_mib, i) for i in range(runs)]
            results[b] = {
                field: _summary([getattr(s, field) for s in samples[b]])
                for field in BootSample.__dataclass_fields__
            }
        out = reports_dir() / "bench" / run.id
    out.mkdir(parents=True, exist_ok=True)
    (out / "boot.json").write_text(
        json.dumps(
            {
                "accel": accel,
                "runs": runs,
                "image": str(image.path),
                "image_bytes": image.size,
                "summary": results,
                "samples": {b: [asdict(s) for s in v] for b, v in samples.items()},
            },
            indent=2,
        )
    )

    print(f"\nboot of hello under {accel}, {runs} boots per backend: median (min-max)")
    print(f"image: {image.path.name}, {image.size} bytes ({image.size / 1024:.0f} KiB), stripped\n")
    header = (
        f"{'backend':<9} {'QEMU start->start() ms':>24} {'reset->start() us':>22} "
        f"{'kernel init us':>20} {'QEMU start->exit ms':>24}"
    )
    print(header)
    for b, r in results.items():
        print(
            f"{b:<9} {_fmt(r['start_to_service_ms']):>24} {_fmt(r['reset_to_start_us'], 0):>22} "
            f"{_fmt(r['kernel_init_us'], 0):>20} {_fmt(r['start_to_exit_ms']):>24}"
        )
    print(f"\nwritten to {out / 'boot.json'}")
    return 0
