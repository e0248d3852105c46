"""The ``ringzero`` command.

ringzero build SERVICE...      build images (cached)
ringzero boot SERVICE          boot an image and stream its console; Ctrl-C
                               stops it; exits with the guest's status
  --tap NAME --ip A/P|dhcp [--gw G] with a virtio-net NIC on an existing tap
ringzero test [PYTEST ARGS]    run the suites (default: suites/)
ringzero bench [--quick]       ringzero against a Linux microVM, side by side:
                               boot, size, memory, idle, HTTP, bulk, DNS, ping;
                               a table and reports/bench/<run-id>/
ringzero bench boot            boot times of `hello` per backend
ringzero sweep                 remove what dead runs left behind
ringzero soak --duration 8h    every flood at once against one `http` VM,
                               memory sampled; writes a report
"""

from __future__ import annotations

import argparse
import ipaddress
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from . import exit_status
from .build import BuildError, build, services
from .hypervisor.accel import resolve
from .hypervisor.base import BACKENDS, NicSpec
from .paths import repo_root, reports_dir
from .runs import Run, sweep


def _machine_options(p: argparse.ArgumentParser, backend: str | None = "libvirt") -> None:
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default=backend,
        help=f"libvirt or qemu (QEMU as a child process); default {backend or 'both'}",
    )
    p.add_argument(
        "--accel",
        choices=("auto", "kvm", "tcg"),
        default="auto",
        help="KVM when usable (auto), or force kvm or tcg",
    )
    p.add_argument(
        "--memory", type=int, default=64, metavar="MIB", help="guest memory (default 64)"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ringzero", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build", help="build service images")
    p.add_argument("services", nargs="*", help="services to build (default: all)")

    p = sub.add_parser("boot", help="boot a service and stream its console")
    p.add_argument("service")
    p.add_argument("--cmdline", default="", help="kernel command line for the service")
    p.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="S",
        help="stop the VM after this many seconds",
    )
    p.add_argument(
        "--tap",
        metavar="NAME",
        help="attach a virtio-net NIC to this existing tap (ip tuntap add dev NAME mode tap)",
    )
    p.add_argument(
        "--ip",
        metavar="ADDR/PREFIX|dhcp",
        help="the service's address, or dhcp (ip= on its cmdline)",
    )
    p.add_argument("--gw", metavar="ADDR", help="its default gateway (gw= on its cmdline)")
    p.add_argument(
        "--mac",
        default="52:54:00:33:00:02",
        help="the NIC's MAC address (default 52:54:00:33:00:02)",
    )
    _machine_options(p)

    p = sub.add_parser("test", help="run the suites with pytest", add_help=False)
    p.add_argument("pytest_args", nargs=argparse.REMAINDER)

    p = sub.add_parser(
        "bench", help="benchmarks: ringzero against a Linux microVM (or `bench boot`)"
    )
    p.add_argument(
        "what",
        nargs="?",
        choices=("boot",),
        help="boot: the boot times of `hello` per backend (default: the full comparison)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="under 2 minutes: one boot a side, short load runs, no memory bisection",
    )
    p.add_argument(
        "--runs",
        type=int,
        default=None,
        help="runs per figure (default 5, --quick 1; bench boot: boots per backend, default 10)",
    )
    p.add_argument("--out", type=Path, metavar="DIR", help="default reports/bench/<run-id>/")
    p.add_argument(
        "--only",
        metavar="GROUPS",
        help="some of boot,size,memory,idle,http,bulk,dns,ping (default all)",
    )
    _machine_options(p, backend=None)

    sub.add_parser("sweep", help="remove VMs, processes and files left by runs that died")

    p = sub.add_parser(
        "soak",
        help="flood one `http` VM with everything at once for a long time, watch its memory",
    )
    p.add_argument("--duration", required=True, help="how long: 90s, 30m, 8h, 1h30m")
    p.add_argument(
        "--interval", default="60s", help="sampling period, one flood round each (default 60s)"
    )
    p.add_argument("--out", type=Path, metavar="DIR", help="default reports/soak/<run-id>/")
    p.add_argument(
        "--floods", default="all", help="icmp,arp,syn,http,keepalive (default all), or none"
    )
    p.add_argument("--syn-pps", type=int, default=200, help="SYN flood rate (default 200)")
    p.add_argument("--syn-port", type=int, default=80, help="SYN flood port (default 80)")
    p.add_argument(
        "--http-rate", type=int, default=20, help="httperf new connections/s (default 20)"
    )
    p.add_argument(
        "--keepalive-connections", type=int, default=4, help="wrk connections (default 4)"
    )
    p.add_argument(
        "--arp-tool",
        choices=("scapy", "arping"),
        default="scapy",
        help="ARP flood: frames at --arp-pps (scapy, default) or arping at full speed",
    )
    p.add_argument("--arp-pps", type=int, default=200, help="ARP requests/s (default 200)")
    p.add_argument(
        "--warmup",
        default="2m",
        help="heap flatness is judged after this much flooding, 10%% of the run at least",
    )
    p.add_argument(
        "--heap-bound",
        type=int,
        default=64,
        metavar="KIB",
        help="heap growth after warm-up allowed: max(KIB, 5%% of it) (default 64)",
    )
    p.add_argument("--cmdline", default="", help="extra words for the service's command line")
    _machine_options(p, backend="qemu")

    p = sub.add_parser(
        "conformance",
        help="run suites against targets; write conformance.json/.md/.html, JUnit and Allure",
    )
    p.add_argument("paths", nargs="*", default=None, help="suites to run (default: suites/)")
    p.add_argument(
        "--targets",
        "--target",
        dest="targets",
        default="ringzero",
        help="comma-separated targets, run in turn (default ringzero; e.g. ringzero,linux)",
    )
    p.add_argument("-n", dest="workers", type=int, default=0, help="pytest-xdist workers")
    p.add_argument("--out", type=Path, metavar="DIR", help="default reports/<run-id>/")
    p.add_argument(
        "--pytest-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="one more pytest argument (repeatable), e.g. --pytest-arg=-x",
    )
    p.add_argument("--backend", choices=BACKENDS, default="libvirt", help="default libvirt")
    p.add_argument("--accel", choices=("auto", "kvm", "tcg"), default="auto")

    p = sub.add_parser("report", help="work with conformance reports")
    report_sub = p.add_subparsers(dest="report_command", required=True)
    q = report_sub.add_parser("diff", help="what changed between two runs or releases")
    q.add_argument("a", help="the earlier: a run id, a release version, a directory or 'latest'")
    q.add_argument("b", help="the later, named the same ways")
    q.add_argument(
        "--fail-on-regression", action="store_true", help="exit 1 when a test newly fails"
    )

    p = sub.add_parser(
        "release-report",
        help="keep a run's conformance report under reports/releases/VERSION/ (committed)",
    )
    p.add_argument("version", help="e.g. 0.1.0")
    p.add_argument("--run", default="latest", help="a run id or directory (default: the newest)")
    p.add_argument("--force", action="store_true", help="replace an existing release report")

    sub.add_parser(
        "tcp-coverage",
        help="which tests cover each MUST and SHOULD of RFC 9293 (Appendix B), from the sources",
    )
    return parser


def _echo(data: bytes) -> None:
    sys.stdout.buffer.write(data.replace(b"\r\n", b"\n"))
    sys.stdout.buffer.flush()


def start_run() -> Run:
    """A new run, after sweeping what runs that died left behind."""
    from . import hypervisor  # noqa: F401  (registers the VM sweepers)
    from .net import wire  # noqa: F401  (registers the namespace and tap sweepers)

    run = Run()
    for kind, names in sweep(exclude=run.id).items():
        print(f"ringzero: removed {len(names)} {kind} left by earlier runs", file=sys.stderr)
    return run


def network_cmdline(args: argparse.Namespace) -> tuple[str, NicSpec | None]:
    """The kernel command line and NIC for boot's --tap/--ip/--gw/--mac."""
    words = [args.cmdline] if args.cmdline else []
    if args.tap is None:
        if args.ip or args.gw:
            raise ValueError("--ip and --gw need --tap NAME (the tap the NIC attaches to)")
        return " ".join(words), None
    if not Path(f"/sys/class/net/{args.tap}/tun_flags").exists():
        raise ValueError(
            f"--tap {args.tap}: no such tap in this network namespace; "
            f"create it with `ip tuntap add dev {args.tap} mode tap`"
        )
    if args.ip == "dhcp":
        words.append("ip=dhcp")
    elif args.ip is not None:
        try:
            ipaddress.IPv4Interface(args.ip)
        except ValueError:
            raise ValueError(
                f"--ip {args.ip}: expected ADDR/PREFIX (e.g. 10.33.0.2/24) or dhcp"
            ) from None
        if "/" not in args.ip:
            raise ValueError(f"--ip {args.ip}: expected ADDR/PREFIX (e.g. 10.33.0.2/24) or dhcp")
        words.append(f"ip={args.ip}")
    if args.gw is not None:
        try:
            ipaddress.IPv4Address(args.gw)
        except ValueError:
            raise ValueError(f"--gw {args.gw}: not an IPv4 address") from None
        words.append(f"gw={args.gw}")
    words.append(f"mac={args.mac}")
    return " ".join(words), NicSpec(tap=args.tap, mac=args.mac)


def cmd_boot(args: argparse.Namespace) -> int:
    from .vm import Vm

    cmdline, nic = network_cmdline(args)
    image = build([args.service])[args.service]
    accel = resolve(args.accel)
    with start_run() as run:
        artifacts = reports_dir() / run.id / f"boot-{args.service}"
        vm = Vm(
            run,
            image,
            name=args.service,
            backend=args.backend,
            accel=accel,
            artifacts=artifacts,
            cmdline=cmdline,
            memory_mib=args.memory,
            echo=_echo,
            nic=nic,
        )
        try:
            with vm:
                assert vm.console is not None
                if not vm.console.wait_closed(args.timeout if args.timeout else 1e9):
                    print(
                        f"\nringzero: stopping {vm.name} after {args.timeout:g} s", file=sys.stderr
                    )
                    return 124
                vm.wait_exit(timeout=5)
                status = vm.exit_status
                crash = vm.crash_text()
        except KeyboardInterrupt:
            print(f"\nringzero: interrupted; {vm.name} destroyed", file=sys.stderr)
            return 130
    if crash:
        print(f"\n{crash}", file=sys.stderr)
    print(
        f"ringzero: {args.service} ended with status {exit_status.describe(status)}; "
        f"serial log in {artifacts / 'serial.log'}",
        file=sys.stderr,
    )
    return status if status is not None else 1


def cmd_test(args: argparse.Namespace) -> int:
    pytest_args = list(args.pytest_args) or ["suites"]
    cmd = [sys.executable, "-m", "pytest", *pytest_args]
    return subprocess.run(cmd, cwd=repo_root(), check=False).returncode


def cmd_build(args: argparse.Namespace) -> int:
    names = args.services or services()
    for name, image in build(names).items():
        print(f"{name}: {image.path.relative_to(repo_root())} ({image.size} bytes)")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import boot_benchmark, make_settings, run_bench

    if args.what == "boot":
        return boot_benchmark(
            runs=args.runs or 10,
            backend=args.backend,
            accel=resolve(args.accel),
            memory_mib=args.memory,
        )
    settings = make_settings(
        quick=args.quick,
        runs=args.runs,
        only=args.only,
        out=args.out,
        backend=args.backend or "qemu",
        accel=args.accel,
    )
    settings.ringzero_memory_mib = args.memory
    return run_bench(settings)


def cmd_sweep(_args: argparse.Namespace) -> int:
    from . import hypervisor  # noqa: F401  (registers the VM sweepers)
    from .net import wire  # noqa: F401  (registers the namespace and tap sweepers)

    removed = sweep()
    for kind, names in removed.items():
        for name in names:
            print(f"removed {kind}: {name}")
    if not removed:
        print("nothing left behind")
    return 0


def cmd_soak(args: argparse.Namespace) -> int:
    from .soak import SoakConfig, parse_duration, parse_floods, run_soak

    config = SoakConfig(
        duration_s=parse_duration(args.duration),
        interval_s=parse_duration(args.interval),
        out=args.out,
        backend=args.backend,
        accel=args.accel,
        memory_mib=args.memory,
        floods=parse_floods(args.floods),
        syn_pps=args.syn_pps,
        syn_port=args.syn_port,
        http_rate=args.http_rate,
        keepalive_connections=args.keepalive_connections,
        arp_tool=args.arp_tool,
        arp_pps=args.arp_pps,
        warmup_s=parse_duration(args.warmup),
        heap_bound_bytes=args.heap_bound * 1024,
        cmdline=args.cmdline,
    )
    try:
        return run_soak(config)
    except KeyboardInterrupt:  # before the soak began (building, booting)
        print("\nringzero: interrupted", file=sys.stderr)
        return 130


def cmd_conformance(args: argparse.Namespace) -> int:
    from .conformance import Options
    from .conformance import run as run_conformance

    opts = Options(
        paths=list(args.paths or ["suites"]),
        targets=[t.strip() for t in args.targets.split(",") if t.strip()],
        backend=args.backend,
        accel=args.accel,
        workers=args.workers,
        out=args.out,
        pytest_args=list(args.pytest_arg),
    )
    return run_conformance(opts)


def cmd_report(args: argparse.Namespace) -> int:
    from .report.diff import diff_main

    return diff_main(args.a, args.b, fail_on_regression=args.fail_on_regression)


def cmd_release_report(args: argparse.Namespace) -> int:
    from .report.release import release_main

    return release_main(args.version, args.run, force=args.force)


def cmd_tcp_coverage(_args: argparse.Namespace) -> int:
    from .tcp_requirements import print_coverage

    print_coverage()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handlers = {
        "boot": cmd_boot,
        "test": cmd_test,
        "build": cmd_build,
        "bench": cmd_bench,
        "sweep": cmd_sweep,
        "soak": cmd_soak,
        "tcp-coverage": cmd_tcp_coverage,
        "conformance": cmd_conformance,
        "report": cmd_report,
        "release-report": cmd_release_report,
    }
    try:
        return handlers[args.command](args)
    except (BuildError, RuntimeError, ValueError) as e:
        print(f"ringzero: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
