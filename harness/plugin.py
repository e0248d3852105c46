"""The pytest plugin (entry point ``ringzero``): options, markers, fixtures
and per-test artifacts.

Fixtures a suite uses:

- ``target``: the Target under test (``--target``).
- ``boot``: ``boot(service, cmdline="", memory_mib=None) -> Vm``; builds the
  image if needed, boots it, and destroys it after the test.
- ``artifacts``: ``reports/<run-id>/<test>/``, where each VM's serial.log and
  the hypervisor's log go.
- ``images``: ``images(service) -> Image`` (built once per session).
- ``wire``: the worker's network namespace (ringzero.net.wire.Wire), with
  ``wire.addr`` (the addresses) and ``wire.run(argv)`` for real tools.
- ``peer``: the Scapy peer (ringzero.net.peer.Peer) on this test's link,
  capturing from before the target starts to ``<artifacts>/wire.pcap``.
- ``sut``: a fresh instance of the target attached to the wire and started,
  its agent answering: ``.ip``, ``.mac``, ``.agent``, ``.link``, ``.target``,
  ``.tunables``. Requesting it implies ``peer``.
- ``impaired``: a Linux stack of its own (10.33.0.3) that reaches ``sut``
  only through the impairment forwarder (ringzero.net.impair.ImpairedPath):
  ``.ip``, ``.socket(...)``, ``.set_rules(...)``, ``.counters()``; rules
  start empty, the seed is derived from the test's node id.

Markers: ``rfc(number, section, level)`` names what a conformance test
checks; ``requires(capability, ...)`` skips a test on targets without them;
``boot_args("key=value", ...)`` adds words to a unikernel target's command
line for that test (a word replaces the default with the same key, e.g.
``ip=dhcp``); other kinds of target ignore it (pair it with ``requires``).
"""

from __future__ import annotations

import os
import re
import signal
import threading
import zlib
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from .build import Image, build
from .hypervisor.accel import resolve
from .hypervisor.base import BACKENDS, Accel
from .net import netns
from .net.impair import ImpairedPath
from .net.instances import TargetInstance, create_instance
from .net.peer import Peer
from .net.wire import Wire
from .paths import reports_dir
from .report.collect import Collector, artifact_dir_name
from .runs import Run, new_run_id, sweep
from .targets import Target, TargetError, check_runs_suites, load
from .vm import Vm

LEVELS = ("MUST", "SHOULD", "MAY")
TCP_REQ_ID = re.compile(r"(MUST|SHLD|MAY)-[0-9]+[a-z]?")
RUN_ID_ENV = "RINGZERO_RUN_ID"
VMS_KEY = pytest.StashKey[list[Vm]]()
TARGET_KEY = pytest.StashKey[Target]()
RUN_ID_KEY = pytest.StashKey[str]()
SUT_KEY = pytest.StashKey[TargetInstance]()
PEER_KEY = pytest.StashKey[Peer]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ringzero", "ringzero: boot and test unikernels")
    group.addoption(
        "--target",
        default="ringzero",
        help="target under test: a name in targets/ or a .toml path (default ringzero)",
    )
    group.addoption(
        "--backend",
        default="libvirt",
        choices=BACKENDS,
        help="how VMs are started (default libvirt; qemu runs QEMU directly)",
    )
    group.addoption(
        "--accel",
        default="auto",
        choices=("auto", "kvm", "tcg"),
        help="KVM when usable (auto), or force kvm or tcg",
    )
    group.addoption(
        "--reports", default=None, metavar="DIR", help="where run artifacts go (default reports/)"
    )
    group.addoption(
        "--report-dir",
        default=None,
        metavar="DIR",
        help="this session's artifacts and conformance.json go exactly here"
        " (default <reports>/<run-id>; `ringzero conformance` gives each target its own)",
    )
    group.addoption(
        "--progress",
        action="store_true",
        help="print tests done/total and failures so far every 20 s and on each failure",
    )


def _interrupt_on_termination() -> None:
    """SIGTERM and SIGHUP end the session as Ctrl-C does. pytest reports a
    SystemExit raised inside a test as that test's failure and goes on with
    the next one (so a CI job's SIGTERM went unheeded); a KeyboardInterrupt
    ends the session, and the fixtures' teardown still destroys the VMs,
    taps and namespaces. Exit status 2, as for Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        return

    def interrupt(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"{signal.Signals(signum).name}: the run stops")

    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) in (signal.SIG_DFL, None):
            signal.signal(sig, interrupt)


def pytest_configure(config: pytest.Config) -> None:
    _interrupt_on_termination()
    config.addinivalue_line(
        "markers",
        "rfc(number, section, level): the RFC requirement a test checks (MUST/SHOULD/MAY)",
    )
    config.addinivalue_line(
        "markers", "requires(*capabilities): skip unless the target has these capabilities"
    )
    config.addinivalue_line(
        "markers",
        "tcp_req(*ids): the RFC 9293 Appendix B requirements a test checks ('MUST-7', 'SHLD-2')",
    )
    config.addinivalue_line(
        "markers", "boot_args(*words): key=value words for a unikernel target's command line"
    )
    try:
        config.stash[TARGET_KEY] = load(config.getoption("target"))
        check_runs_suites(config.stash[TARGET_KEY])
    except TargetError as e:
        raise pytest.UsageError(f"--target: {e}") from None
    worker = getattr(config, "workerinput", None)
    if worker is not None:
        run_id = worker["ringzero_run_id"]
    else:
        run_id = os.environ.get(RUN_ID_ENV) or new_run_id()
        left = sweep(exclude=run_id)
        for kind, names in left.items():
            print(f"ringzero: removed {len(names)} {kind} left by earlier runs: {', '.join(names)}")
    os.environ[RUN_ID_ENV] = run_id
    config.stash[RUN_ID_KEY] = run_id
    config.pluginmanager.register(
        Collector(config, lambda: _run_reports(config)), "ringzero-conformance-collector"
    )
    if getattr(config.option, "allure_report_dir", None):
        from .report.allure_labels import AllureLabels

        labels = AllureLabels(config.stash[TARGET_KEY].name, lambda: _run_reports(config))
        config.pluginmanager.register(labels, "ringzero-allure-labels")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist: every worker joins the controller's run."""
    node.workerinput["ringzero_run_id"] = node.config.stash[RUN_ID_KEY]


def pytest_report_header(config: pytest.Config) -> str:
    target = config.stash[TARGET_KEY]
    return (
        f"ringzero: target {target.name} ({target.kind}), backend {config.getoption('backend')}, "
        f"accel {config.getoption('accel')}, run {config.stash[RUN_ID_KEY]}"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    target = config.stash[TARGET_KEY]
    for item in items:
        for mark in item.iter_markers("rfc"):
            _check_rfc_marker(item, mark)
        for mark in item.iter_markers("tcp_req"):
            _check_tcp_req_marker(item, mark)
        needed = {cap for mark in item.iter_markers("requires") for cap in mark.args}
        missing = sorted(needed - target.capabilities)
        if missing:
            item.add_marker(
                pytest.mark.skip(
                    reason=f"not applicable to target {target.name}: needs {', '.join(missing)}"
                )
            )
        reason = target.deviations.get(item.nodeid)
        if reason:
            item.add_marker(pytest.mark.xfail(reason=f"known deviation: {reason}", strict=True))


def _check_rfc_marker(item: pytest.Item, mark: pytest.Mark) -> None:
    args = mark.args
    if len(args) != 3 or not isinstance(args[0], int) or args[2] not in LEVELS:
        raise pytest.UsageError(
            f"{item.nodeid}: use @pytest.mark.rfc(<number>, '<section>', 'MUST|SHOULD|MAY'), "
            f"not rfc{args!r}"
        )


def _check_tcp_req_marker(item: pytest.Item, mark: pytest.Mark) -> None:
    if not mark.args or not all(isinstance(a, str) and TCP_REQ_ID.fullmatch(a) for a in mark.args):
        raise pytest.UsageError(
            f"{item.nodeid}: use @pytest.mark.tcp_req('MUST-<n>' | 'SHLD-<n>' | 'MAY-<n>', ...), "
            f"not tcp_req{mark.args!r}"
        )


# ---- fixtures ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def run(pytestconfig: pytest.Config) -> Iterator[Run]:
    with Run(pytestconfig.stash[RUN_ID_KEY]) as r:
        yield r


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config) -> Target:
    return pytestconfig.stash[TARGET_KEY]


@pytest.fixture(scope="session")
def backend(pytestconfig: pytest.Config) -> str:
    return str(pytestconfig.getoption("backend"))


@pytest.fixture(scope="session")
def accel(pytestconfig: pytest.Config) -> Accel:
    try:
        return resolve(str(pytestconfig.getoption("accel")))
    except RuntimeError as e:
        raise pytest.UsageError(str(e)) from None


def _run_reports(config: pytest.Config) -> Path:
    exact = config.getoption("report_dir")
    if exact:
        return Path(exact).resolve()
    base = config.getoption("reports")
    return (Path(base) if base else reports_dir()) / config.stash[RUN_ID_KEY]


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    path = _run_reports(request.config) / artifact_dir_name(request.node.nodeid)
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def images() -> Callable[[str], Image]:
    cache: dict[str, Image] = {}

    def get(service: str) -> Image:
        if service not in cache:
            cache.update(build([service]))
        return cache[service]

    return get


@pytest.fixture
def boot(
    request: pytest.FixtureRequest,
    run: Run,
    target: Target,
    backend: str,
    accel: Accel,
    artifacts: Path,
    images: Callable[[str], Image],
) -> Iterator[Callable[..., Vm]]:
    vms: list[Vm] = []
    request.node.stash[VMS_KEY] = vms

    def start(service: str, cmdline: str = "", memory_mib: int | None = None) -> Vm:
        if target.kind != "unikernel":
            pytest.skip(f"target {target.name} does not boot unikernel images")
        n = len(vms)
        vm = Vm(
            run,
            images(service),
            name=service,
            backend=backend,
            accel=accel,
            artifacts=artifacts if n == 0 else artifacts / f"vm{n}",
            cmdline=cmdline,
            memory_mib=memory_mib or target.memory_mib,
        )
        vms.append(vm)
        return vm.start()

    yield start
    for vm in vms:
        vm.destroy()


@pytest.fixture(scope="session")
def wire(run: Run) -> Iterator[Wire]:
    with Wire(run) as w:
        yield w


@pytest.fixture
def peer(request: pytest.FixtureRequest, wire: Wire, artifacts: Path) -> Iterator[Peer]:
    """With ``sut``, the sut fixture attaches the peer to the target's link
    before starting the target; alone, the peer gets a link of its own (a
    veth to an empty namespace)."""
    p = Peer(wire, artifacts / "wire.pcap")
    request.node.stash[PEER_KEY] = p
    blank: str | None = None
    if "sut" not in request.fixturenames:
        blank = request.getfixturevalue("run").unique_name("blank")
        netns.create(blank)
        p.attach(wire.new_veth(blank))
    try:
        yield p
    finally:
        p.close()
        if blank is not None:
            if p.link:
                wire.remove_link(p.link)
            netns.delete(blank)


@pytest.fixture
def sut(
    request: pytest.FixtureRequest,
    peer: Peer,
    run: Run,
    wire: Wire,
    target: Target,
    backend: str,
    artifacts: Path,
    images: Callable[[str], Image],
) -> Iterator[TargetInstance]:
    # Only a VM needs an accelerator (resolving it logs the choice).
    accel: Accel = request.getfixturevalue("accel") if target.kind == "unikernel" else "tcg"
    try:
        # Module marks first, the test's own last: later words win.
        marks = reversed(list(request.node.iter_markers("boot_args")))
        boot_args = [str(w) for mark in marks for w in mark.args]
        instance = create_instance(
            target,
            run,
            wire,
            artifacts,
            image=images,
            backend=backend,
            accel=accel,
            boot_args=boot_args,
        )
    except ValueError as e:
        raise pytest.UsageError(str(e)) from None
    request.node.stash[SUT_KEY] = instance
    try:
        link = instance.prepare()
        peer.attach(link)
        instance.start()
        yield instance
        # Whatever a test sent, the target must still be there: bad input is
        # counted and dropped, never a crash.
        trouble = instance.trouble()
        if trouble:
            pytest.fail(trouble, pytrace=False)
    finally:
        instance.stop()


@pytest.fixture
def impaired(
    request: pytest.FixtureRequest, sut: TargetInstance, wire: Wire, run: Run
) -> Iterator[ImpairedPath]:
    seed = zlib.crc32(request.node.nodeid.encode())
    with ImpairedPath(run, wire, sut.link, seed=seed) as path:
        yield path


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, Any]:
    report = yield
    if report.failed and report.when in ("setup", "call", "teardown"):
        instance = item.stash.get(SUT_KEY, None)
        if instance is not None:
            report.sections.extend(instance.report_sections())
        p = item.stash.get(PEER_KEY, None)
        if p is not None and p.pcap_path is not None:
            report.sections.append(("wire", f"{p.pcap_path}: {p.summary()}"))
    if report.when == "call" and report.failed:
        for vm in item.stash.get(VMS_KEY, []):
            crash = vm.crash_text()
            if crash:
                report.sections.append((f"crash report of {vm.name}", crash))
                (vm.artifacts / "crash.txt").write_text(crash + "\n")
            elif vm.hypervisor_log().strip():
                report.sections.append((f"hypervisor log of {vm.name}", vm.hypervisor_log()))
            if vm.console is not None:
                report.sections.append(
                    (f"console of {vm.name} ({vm.console.log_path})", vm.console.tail(40))
                )
    return report
