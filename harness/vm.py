"""A booted image: its machine (any backend), its console and its artifacts.

    with Vm(run, image, name="hello", backend="libvirt", accel="kvm",
            artifacts=Path("reports/<run>/<test>")) as vm:
        vm.wait_started()
        status = vm.wait_exit(timeout=5)

Timeouts given to the wait methods are what KVM needs; under TCG they are
multiplied by ``TCG_SLOWDOWN``.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Self

from . import exit_status, hypervisor
from .build import Image
from .console import Console, ConsoleError, LineMatch
from .hypervisor.base import Accel, MachineSpec, NicSpec
from .runs import Run
from .symbolize import symbolize

TCG_SLOWDOWN = 8.0
STARTED_RE = re.compile(r"Service::start\(\) at (\d+) us after reset \(kernel (\d+) us\)")


def demangle_types(text: str) -> str:
    """The kernel prints C++ type names mangled ("of type St13runtime_error"),
    which keeps the demangler out of the image; c++filt reads them here."""

    def one(m: re.Match[str]) -> str:
        try:
            out = subprocess.run(["c++filt", "-t", m.group(1)], capture_output=True, text=True)
        except OSError:
            return m.group(0)
        return f"of type {out.stdout.strip() or m.group(1)}"

    return re.sub(r"of type (\S+?)(?=:|$)", one, text)


class Guest:
    """What every VM of a run shares, whatever it boots: a machine made from
    the subclass's MachineSpec (_spec), its console on COM1 logged to
    serial.log, destroyed on destroy(), on leaving the with block, or when
    the run closes. Errors are raised as `error`."""

    error: type[RuntimeError] = RuntimeError
    run: Run
    name: str
    backend: str
    artifacts: Path
    _echo: Callable[[bytes], None] | None

    def __init__(self) -> None:
        self.console: Console | None = None
        self.machine: hypervisor.Machine | None = None
        self._undo: Callable[[], None] | None = None

    def _spec(self) -> MachineSpec:
        raise NotImplementedError

    # ---- life cycle ----------------------------------------------------------------

    def start(self) -> Self:
        self.artifacts.mkdir(parents=True, exist_ok=True)
        spec = self._spec()
        self.console = Console(spec.console_socket, self.artifacts / "serial.log", self._echo)
        self.machine = hypervisor.create(self.backend, spec)
        self._undo = self.run.on_close(f"VM {self.name}", self._teardown)
        try:
            self.machine.start()
        except Exception as e:
            self.destroy()
            raise self.error(f"{self.backend} could not start {self.name}: {e}") from e
        return self

    def resume(self) -> None:
        """Starts the CPU of a VM started with paused=True."""
        if self.machine is None:
            raise self.error("the VM has not been started")
        try:
            self.machine.resume()
        except Exception as e:
            raise self.error(f"{self.backend} could not resume {self.name}: {e}") from e

    def _teardown(self) -> None:
        if self.machine is not None:
            self.machine.destroy()
        if self.console is not None:
            self.console.close()

    def destroy(self) -> None:
        if self._undo is not None:
            self._undo()
            self._undo = None

    def __enter__(self) -> Self:
        return self.start() if self.machine is None else self

    def __exit__(self, *exc: object) -> None:
        self.destroy()

    # ---- the QEMU process ----------------------------------------------------------

    def running(self) -> bool:
        return self.machine is not None and self.machine.running()

    def pid(self) -> int | None:
        return self.machine.pid() if self.machine else None

    def hypervisor_log(self) -> str:
        return self.machine.hypervisor_log() if self.machine else ""

    def _running_pid(self) -> int:
        pid = self.pid()
        if pid is None:
            raise self.error("the VM is not running")
        return pid

    def run_delay_seconds(self) -> float:
        """Time the QEMU process's threads have so far spent runnable but
        waiting for a host CPU (the second field of each thread's
        /proc/<pid>/task/<tid>/schedstat), summed: while a vCPU thread
        waits, the guest does not run though its clock goes on."""
        total_ns = 0
        for stat in Path(f"/proc/{self._running_pid()}/task").glob("*/schedstat"):
            try:
                total_ns += int(stat.read_text().split()[1])
            except (OSError, IndexError, ValueError):
                continue  # a thread that ended meanwhile
        return total_ns / 1e9

    def cpu_seconds(self) -> float:
        """User + system CPU time the QEMU process has used so far."""
        stat = Path(f"/proc/{self._running_pid()}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
        return ticks / os.sysconf("SC_CLK_TCK")


class Vm(Guest):
    def __init__(
        self,
        run: Run,
        image: Image,
        *,
        name: str,
        backend: str,
        accel: Accel,
        artifacts: Path,
        cmdline: str = "",
        memory_mib: int = 64,
        echo: Callable[[bytes], None] | None = None,
        nic: NicSpec | None = None,
        serial_sockets: tuple[Path, ...] = (),
        paused: bool = False,
    ) -> None:
        self.run = run
        self.image = image
        self.name = run.unique_name(name)
        self.backend = backend
        self.accel = accel
        self.artifacts = artifacts
        self.cmdline = cmdline
        self.memory_mib = memory_mib
        self.scale = TCG_SLOWDOWN if accel == "tcg" else 1.0
        self._echo = echo
        self.nic = nic
        self.serial_sockets = serial_sockets
        self.paused = paused
        super().__init__()

    def _spec(self) -> MachineSpec:
        return MachineSpec(
            name=self.name,
            kernel=self.image.path.resolve(),
            cmdline=self.cmdline,
            memory_mib=self.memory_mib,
            accel=self.accel,
            console_socket=self.run.dir / f"{self.name}.com1",
            log_dir=self.artifacts,
            nic=self.nic,
            serial_sockets=self.serial_sockets,
            paused=self.paused,
        )

    # ---- waiting -------------------------------------------------------------------

    def _console(self) -> Console:
        if self.console is None:
            raise RuntimeError("the VM has not been started")
        return self.console

    def wait_for(
        self, pattern: str | re.Pattern[str], timeout: float = 5.0, since: int = 0
    ) -> LineMatch:
        """Waits for a console line; a failure names the crash, if there was one."""
        try:
            return self._console().wait_for(pattern, timeout * self.scale, since)
        except ConsoleError as e:
            raise ConsoleError(f"{e}{self._why_it_ended()}") from None

    def wait_started(self, timeout: float = 5.0) -> LineMatch:
        """Waits for the banner line that says Service::start() is being called."""
        return self.wait_for(STARTED_RE, timeout)

    def wait_exit(self, timeout: float = 10.0) -> int | None:
        """Waits for the VM to end; returns its exit status (see exit_status)."""
        console = self._console()
        assert self.machine is not None
        if not console.wait_closed(timeout * self.scale):
            raise ConsoleError(
                f"the VM did not end within {timeout * self.scale:g} s\n"
                f"console tail ({console.log_path}):\n{console.tail()}{self._why_it_ended()}"
            )
        self.machine.wait(5 * self.scale)
        return self.exit_status

    @property
    def exit_status(self) -> int | None:
        """The guest's status: from QEMU's exit code where the backend knows
        it (isa-debug-exit makes it exact), else from the console's exit line."""
        code = self.machine.qemu_exit_code if self.machine else None
        if code is not None:
            return exit_status.from_qemu_exit_code(code)
        return self._console().exit_status

    # ---- what happened ---------------------------------------------------------------

    def _why_it_ended(self) -> str:
        """The crash report, or, for a VM that died without one, what the
        hypervisor said (e.g. "KVM internal error")."""
        crash = self.crash_text()
        if crash:
            return f"\n{crash}"
        log = self.hypervisor_log().strip()
        if log:
            tail = "\n".join(f"  | {line}" for line in log.splitlines()[-15:])
            return f"\nhypervisor log ({self.backend}):\n{tail}"
        return ""

    def crash_text(self) -> str | None:
        """The crash report with its backtrace symbolized, or None."""
        crash = self.console.crash if self.console else None
        if crash is None:
            return None
        lines = [f"crash: {demangle_types(crash.what)}"]
        lines += [f"  {line}" for line in crash.lines if not re.match(r"\s*(#\d|backtrace:)", line)]
        try:
            frames = symbolize(self.image.elf, crash.addresses)
            lines += ["backtrace:", *(f"  {frame}" for frame in frames)]
        except Exception as e:
            lines += [f"backtrace (not symbolized: {e}):", *(f"  0x{a:x}" for a in crash.addresses)]
        if not crash.complete:
            lines.append("  (the report was cut short)")
        return "\n".join(lines)

    def crash_frames(self) -> list[str]:
        """Function names of the symbolized backtrace, innermost first."""
        crash = self.console.crash if self.console else None
        return [f.function for f in symbolize(self.image.elf, crash.addresses)] if crash else []
