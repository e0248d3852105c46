"""The libvirt backend (the default): transient domains on qemu:///system.

Domains are created with VIR_DOMAIN_START_AUTODESTROY, so libvirtd destroys
them as soon as the connection that made them closes, which is also what
happens when the harness is killed. The next run's sweep catches anything
else. libvirt runs QEMU as root with no relabelling (see the seclabel below),
so it reads the image from the build tree and connects to the harness's
console socket as they are.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from ..hypervisor.base import DEBUG_EXIT_DEVICE, MachineSpec
from ..runs import run_of

URI = "qemu:///system"
LIBVIRT_SOCKET = Path("/run/libvirt/libvirt-sock")

try:
    import libvirt as _libvirt
except ImportError:  # reported when the backend is used
    _libvirt = None


def _module() -> Any:
    if _libvirt is None:
        raise RuntimeError(
            "libvirt-python is not installed: run `make setup` (or use --backend qemu)"
        )
    # libvirt prints every error to stderr unless told otherwise; errors
    # reach us as exceptions anyway.
    _libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    return _libvirt


def _daemon_pid(pidfile: str) -> int | None:
    """The daemon's PID when it runs."""
    try:
        pid = int(Path(pidfile).read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def _netns_of(pid: int | str) -> str:
    try:
        return str(Path(f"/proc/{pid}/ns/net").readlink())
    except OSError:
        return ""


def ensure_daemons() -> None:
    """Starts virtlogd and libvirtd when they are not running (these machines
    have no init system); they stay up as the host's hypervisor service.
    libvirtd opens the taps the harness makes by name, in the harness's
    network namespace; a libvirtd started from inside `ip netns exec` stays
    in that namespace, where those taps do not exist (or others of the same
    name do), and is refused with what to do."""
    ours = _netns_of("self")
    for daemon, pidfile in (("virtlogd", "/run/virtlogd.pid"), ("libvirtd", "/run/libvirtd.pid")):
        pid = _daemon_pid(pidfile)
        if pid is not None:
            theirs = _netns_of(pid)
            if daemon == "libvirtd" and ours and theirs and theirs != ours:
                raise RuntimeError(
                    f"libvirtd (PID {pid}) runs in another network namespace than this "
                    f"process (was it started inside `ip netns exec`?), so it cannot see "
                    f"the harness's taps: stop it (kill {pid}) and run again, or use "
                    f"--backend qemu"
                )
            continue
        path = shutil.which(daemon) or f"/usr/sbin/{daemon}"
        if not Path(path).exists():
            raise RuntimeError(
                f"{daemon} is not installed: run `make setup` (or use --backend qemu)"
            )
        print(f"ringzero: starting {daemon} (it was not running)", file=sys.stderr)
        subprocess.run([path, "-d"], check=True)
    deadline = time.monotonic() + 15
    while not LIBVIRT_SOCKET.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"libvirtd started but {LIBVIRT_SOCKET} did not appear in 15 s")
        time.sleep(0.05)


_conn_lock = threading.Lock()
_conn: Any = None


def connection() -> Any:
    """One connection per process; domains made through it live while it does."""
    global _conn
    with _conn_lock:
        if _conn is None or not _conn.isAlive():
            ensure_daemons()
            lv = _module()
            _conn = lv.open(URI)
        return _conn


def domain_xml(spec: MachineSpec) -> str:
    kvm = spec.accel == "kvm"
    cpu = (
        "<cpu mode='host-passthrough' check='none'>"
        "<feature policy='disable' name='arch-capabilities'/></cpu>"
        if kvm
        else "<cpu mode='maximum' check='none'/>"
    )
    loader = (
        f"<loader type='rom' readonly='yes'>{escape(str(spec.firmware))}</loader>"
        if spec.firmware
        else ""
    )
    initrd = f"<initrd>{escape(str(spec.initrd))}</initrd>" if spec.initrd else ""
    nic = ""
    if spec.nic is not None:
        nic = (
            f"<interface type='ethernet'><target dev={quoteattr(spec.nic.tap)} managed='no'/>"
            f"<mac address={quoteattr(spec.nic.mac)}/><model type='virtio'/>"
            "<rom enabled='no'/></interface>"
        )
    serials = "".join(
        f"<serial type='unix'><source mode='connect' path={quoteattr(str(path))}/>"
        f"<target port='{port}'/></serial>"
        for port, path in enumerate((spec.console_socket, *spec.serial_sockets))
    )
    return f"""<domain type='{"kvm" if kvm else "qemu"}'
        xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>{escape(spec.name)}</name>
  <memory unit='MiB'>{spec.memory_mib}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    {loader}
    <kernel>{escape(str(spec.kernel))}</kernel>
    {initrd}
    <cmdline>{escape(spec.cmdline)}</cmdline>
  </os>
  {cpu}
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    {serials}
    {nic}
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
  <seclabel type='static' model='dac' relabel='no'><label>+0:+0</label></seclabel>
  <qemu:commandline>
    <qemu:arg value='-device'/>
    <qemu:arg value='{DEBUG_EXIT_DEVICE}'/>
  </qemu:commandline>
</domain>"""


class LibvirtMachine:
    def __init__(self, spec: MachineSpec) -> None:
        self.spec = spec
        self.started_at = 0.0
        self._dom: Any = None
        self._pid: int | None = None

    def start(self) -> None:
        conn = connection()
        lv = _module()
        xml = domain_xml(self.spec)
        (self.spec.log_dir / "domain.xml").write_text(xml)
        self.started_at = time.monotonic()
        flags = lv.VIR_DOMAIN_START_AUTODESTROY
        if self.spec.paused:
            flags |= lv.VIR_DOMAIN_START_PAUSED
        self._dom = conn.createXML(xml, flags)
        with contextlib.suppress(OSError, ValueError):
            self._pid = int(Path(f"/run/libvirt/qemu/{self.spec.name}.pid").read_text())

    def resume(self) -> None:
        if self.spec.paused and self._dom is not None:
            self._dom.resume()

    def running(self) -> bool:
        """Whether QEMU still runs. libvirt's own view lags a second or more
        behind QEMU's exit (its stop job tears the domain down), so the QEMU
        process decides when libvirt gave us its PID."""
        if self._dom is None:
            return False
        if self._pid is not None:
            try:
                cmdline = Path(f"/proc/{self._pid}/cmdline").read_bytes()
            except OSError:
                return False
            return self.spec.name.encode() in cmdline
        try:
            return bool(self._dom.isActive())
        except Exception:  # a transient domain that ended is gone from libvirt
            return False

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.running():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def destroy(self) -> None:
        # A domain whose QEMU has exited is torn down by libvirt by itself.
        if self.running():
            with contextlib.suppress(Exception):
                self._dom.destroy()
        self._dom = None

    def pid(self) -> int | None:
        return self._pid if self.running() else None

    @property
    def qemu_exit_code(self) -> int | None:
        return None  # libvirt does not report it; the console's exit line does

    def hypervisor_log(self) -> str:
        path = Path(f"/var/log/libvirt/qemu/{self.spec.name}.log")
        return path.read_text(errors="replace") if path.exists() else ""


def sweep_domains(dead: Callable[[str], bool]) -> list[str]:
    """Destroys domains of dead runs, when libvirtd is running."""
    if _libvirt is None or not LIBVIRT_SOCKET.exists():
        return []
    lv = _module()
    try:
        conn = lv.open(URI)
    except Exception:
        return []
    removed = []
    try:
        for dom in conn.listAllDomains():
            name = dom.name()
            run_id = run_of(name)
            if run_id and dead(run_id):
                with contextlib.suppress(Exception):
                    if dom.isActive():
                        dom.destroy()
                    if dom.isPersistent():
                        dom.undefine()
                removed.append(name)
    finally:
        conn.close()
    return removed
