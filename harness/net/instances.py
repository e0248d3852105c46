"""Target instances: one system under test, attached to the wire, with its
agent. No test logic here.

Starting is split in two so that the peer's capture is live before the
target sends its first frame:

    inst = create_instance(target, ...)
    link = inst.prepare()      # link in the wire, target not yet running
    peer.attach(link)
    inst.start()               # runs the target; returns when its agent answers
    ...
    inst.stop()

The unikernel: a tap in the root namespace, the VM started paused on it,
the tap moved into the wire, then (start) the VM resumed; ready when the
console says "agent: listening on COM2" and the agent answers a ping.
Linux: a fresh namespace with "eth0" on a veth pair facing the wire;
(start) its address, route and sysctls, then the Python agent inside it.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any, ClassVar, Protocol

from ..agent import Agent, ProcessTransport, SerialTransport
from ..build import Image
from ..hypervisor.base import Accel, NicSpec
from ..runs import Run
from ..targets import Target
from ..vm import Vm
from . import netns
from .wire import Wire

AGENT_READY = r"^agent: listening on COM2$"
AGENT_TIMEOUT = 5.0


class TargetInstance(Protocol):
    target: Target
    ip: str
    mac: str
    link: str  # the interface in the wire namespace facing the target
    agent: Agent
    tunables: dict[str, int | float]
    artifacts: Path

    def prepare(self) -> str: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def trouble(self) -> str | None:
        """Why the target is no longer well (crashed, ended), or None."""
        ...

    def console_text(self) -> str: ...

    def report_sections(self) -> list[tuple[str, str]]: ...


def _fmt(value: int | float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


class _AgentLog:
    """Every agent line to <artifacts>/agent.log, the last ones kept for reports."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None
        self.tail: deque[str] = deque(maxlen=40)

    def __call__(self, line: str) -> None:
        if self._file is None:
            self._file = self.path.open("a")
        stamp = time.strftime("%H:%M:%S")
        self._file.write(f"{stamp} {line}\n")
        self._file.flush()
        self.tail.append(line)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def text(self) -> str:
        return "\n".join(f"  | {line}" for line in self.tail) or "  | (no traffic)"


class UnikernelInstance:
    # ringzero's command-line names for the tunables
    CMDLINE: ClassVar[dict[str, str]] = {
        "arp_ttl_s": "arp_ttl",
        "ipfrag_time_s": "ipfrag_time",
        "icmp_ratelimit_ms": "icmp_ratelimit",
    }

    def __init__(
        self,
        run: Run,
        wire: Wire,
        target: Target,
        image: Image,
        *,
        backend: str,
        accel: Accel,
        artifacts: Path,
        boot_args: Sequence[str] = (),
    ) -> None:
        self.run = run
        self.wire = wire
        self.target = target
        self.image = image
        self.boot_args = list(boot_args)
        self.backend = backend
        self.accel = accel
        self.artifacts = artifacts
        self.ip = wire.addr.target_ip
        self.mac = wire.addr.target_mac
        self.tunables = dict(target.tunables)
        self.link = ""
        self.vm: Vm | None = None
        self._serial: SerialTransport | None = None
        self._log = _AgentLog(artifacts / "agent.log")
        self.agent = Agent(_Unstarted(), AGENT_TIMEOUT)

    def cmdline(self) -> str:
        a = self.wire.addr
        words = [f"ip={a.target_ip}/{a.prefix}", f"gw={a.tools_ip}", f"mac={a.target_mac}"]
        words += [f"{self.CMDLINE[k]}={_fmt(v)}" for k, v in sorted(self.tunables.items())]
        # A test's own words replace the defaults with the same key.
        keys = {w.split("=", 1)[0] for w in self.boot_args}
        words = [w for w in words if w.split("=", 1)[0] not in keys] + self.boot_args
        return " ".join(words)

    def prepare(self) -> str:
        tap = self.wire.new_tap()
        self.link = tap
        try:
            vm = Vm(
                self.run,
                self.image,
                name=self.image.service,
                backend=self.backend,
                accel=self.accel,
                artifacts=self.artifacts,
                cmdline=self.cmdline(),
                memory_mib=self.target.memory_mib,
                nic=NicSpec(tap=tap, mac=self.mac),
                paused=True,
            )
            self._serial = SerialTransport(self.run.dir / f"{vm.name}.com2")
            vm.serial_sockets = (self._serial.path,)
            self.vm = vm
            vm.start()
            self.wire.adopt(tap)
        except Exception:
            self.stop()
            raise
        hint = (
            f"its console ({self.artifacts / 'serial.log'}) shows whether the service still "
            "runs; under TCG a slow guest may need a longer agent.timeout"
        )
        self.agent = Agent(self._serial, AGENT_TIMEOUT, log=self._log, hint=hint)
        return tap

    def start(self) -> None:
        assert self.vm is not None, "prepare() first"
        self.vm.resume()
        self.vm.wait_for(AGENT_READY, timeout=5.0)
        self.agent.request("ping")

    def stop(self) -> None:
        if self._serial is not None:
            self._serial.close()
            self._serial = None
        if self.vm is not None:
            self.vm.destroy()
        if self.link:
            self.wire.remove_link(self.link)
        self._log.close()

    def trouble(self) -> str | None:
        vm = self.vm
        if vm is None or vm.machine is None:
            return None
        crash = vm.crash_text()
        if crash:
            return f"the unikernel crashed during the test:\n{crash}"
        if not vm.machine.running():
            return f"the VM ended during the test (exit status {vm.exit_status})"
        return None

    def console_text(self) -> str:
        console = self.vm.console if self.vm else None
        return console.text() if console else ""

    def report_sections(self) -> list[tuple[str, str]]:
        vm = self.vm
        if vm is None:
            return []
        sections = []
        crash = vm.crash_text()
        if crash:
            sections.append((f"crash report of {vm.name}", crash))
            (vm.artifacts / "crash.txt").write_text(crash + "\n")
        elif vm.hypervisor_log().strip():
            sections.append((f"hypervisor log of {vm.name}", vm.hypervisor_log()))
        if vm.console is not None:
            sections.append((f"console of {vm.name} ({vm.console.log_path})", vm.console.tail(40)))
        sections.append((f"agent of {vm.name} ({self._log.path})", self._log.text()))
        return sections


class LinuxInstance:
    def __init__(self, run: Run, wire: Wire, target: Target, *, artifacts: Path) -> None:
        self.run = run
        self.wire = wire
        self.target = target
        self.artifacts = artifacts
        self.ip = wire.addr.target_ip
        self.mac = wire.addr.target_mac
        self.tunables = dict(target.tunables)
        self.ns = run.unique_name("target")
        self.link = ""
        self.proc: subprocess.Popen[bytes] | None = None
        self._stderr_path = artifacts / "agent.stderr"
        self._log = _AgentLog(artifacts / "agent.log")
        self._undo: Callable[[], None] | None = None
        self.agent = Agent(_Unstarted(), AGENT_TIMEOUT)

    def sysctls(self) -> dict[str, str]:
        # Announce the address when eth0 comes up (RFC 5227 §2.3), as
        # ringzero does at boot; Linux's default (0) stays silent.
        values: dict[str, str] = {"net.ipv4.conf.eth0.arp_notify": "1"}
        # RFC 5681's own congestion control, as the unikernel has: a new
        # namespace inherits the host's default (often BBR, model-based and
        # paced, which neither doubles per round trip nor halves on loss).
        # Without SACK, Linux's reno recovers as NewReno (RFC 6582).
        values["net.ipv4.tcp_congestion_control"] = "reno"
        t = self.tunables
        if "arp_ttl_s" in t:
            neigh = "net.ipv4.neigh.eth0"
            values[f"{neigh}.base_reachable_time_ms"] = str(int(1000 * t["arp_ttl_s"]))
            values[f"{neigh}.delay_first_probe_time"] = "1"
            values[f"{neigh}.gc_stale_time"] = str(max(1, round(t["arp_ttl_s"])))
        if "ipfrag_time_s" in t:
            values["net.ipv4.ipfrag_time"] = str(max(1, round(t["ipfrag_time_s"])))
        if "icmp_ratelimit_ms" in t:
            values["net.ipv4.icmp_ratelimit"] = str(int(t["icmp_ratelimit_ms"]))
        return values

    def prepare(self) -> str:
        netns.create(self.ns)
        self._undo = self.run.on_close(f"target {self.ns}", self._teardown)
        try:
            self.link = self.wire.new_veth(self.ns, mac=self.mac)
        except Exception:
            self.stop()
            raise
        return self.link

    def start(self) -> None:
        a = self.wire.addr
        netns.sysctls(self.ns, self.sysctls())
        netns.ip_batch(
            [
                f"addr add {a.target_ip}/{a.prefix} broadcast {a.broadcast} dev eth0",
                "link set dev eth0 up",
                f"route add default via {a.tools_ip}",
            ],
            netns=self.ns,
        )
        self.wire.wait_carrier(self.link)
        # A veth leaves transport checksums to the receiver (checksum
        # offload): computed in software, they are on the wire as a real
        # NIC would put them, and the peer can check them.
        netns.run(["ethtool", "-K", "eth0", "tx", "off"], netns=self.ns)
        argv = [sys.executable, "-m", "ringzero.net.linux_agent", "--dev", "eth0"]
        with self._stderr_path.open("wb") as stderr:
            self.proc = subprocess.Popen(
                netns.exec_argv(self.ns, argv),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                bufsize=0,
                preexec_fn=netns.prepare_child,
            )
        hint = f"its stderr is in {self._stderr_path}"
        self.agent = Agent(
            ProcessTransport(self.proc, "Linux agent"), AGENT_TIMEOUT, log=self._log, hint=hint
        )
        self.agent.request("ping")

    def _teardown(self) -> None:
        if self.proc is not None:
            self.agent.close()  # EOF on stdin: the agent ends
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
            self.proc = None
        netns.delete(self.ns)
        if self.link:
            self.wire.remove_link(self.link)
        self._log.close()

    def stop(self) -> None:
        if self._undo is not None:
            self._undo()
            self._undo = None

    def trouble(self) -> str | None:
        if self.proc is not None and self.proc.poll() is not None:
            return f"the Linux agent exited during the test (status {self.proc.returncode})"
        return None

    def console_text(self) -> str:
        return ""

    def report_sections(self) -> list[tuple[str, str]]:
        sections = []
        if self._stderr_path.exists():
            err = self._stderr_path.read_text(errors="replace").strip()
            if err:
                sections.append((f"Linux agent stderr ({self._stderr_path})", err))
        if self.proc is not None and self.proc.poll() is not None:
            sections.append(("Linux agent", f"exited with status {self.proc.returncode}"))
        sections.append((f"Linux agent ({self._log.path})", self._log.text()))
        return sections


class _Unstarted:
    """The transport of an agent whose target has not been started."""

    def _fail(self, *_args: Any) -> Any:
        raise EOFError("the target has not been started")

    send = read_line = _fail

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return "an unstarted target"


def create_instance(
    target: Target,
    run: Run,
    wire: Wire,
    artifacts: Path,
    *,
    image: Callable[[str], Image] | None = None,
    backend: str = "libvirt",
    accel: Accel = "kvm",
    boot_args: Sequence[str] = (),
) -> TargetInstance:
    """An instance of the target (not yet prepared)."""
    if target.kind == "unikernel":
        if not target.service:
            raise ValueError(
                f"target {target.name}: [vm] service names the image the network suites boot"
            )
        if image is None:
            raise ValueError("a unikernel target needs an image builder")
        return UnikernelInstance(
            run,
            wire,
            target,
            image(target.service),
            backend=backend,
            accel=accel,
            artifacts=artifacts,
            boot_args=boot_args,
        )
    if target.kind == "linux-netns":
        return LinuxInstance(run, wire, target, artifacts=artifacts)
    raise ValueError(f"target {target.name}: kind {target.kind!r} has no instances")
