"""The Linux microVM that `ringzero bench` holds ringzero against
(harness/linuxvm.py; root only). Its image is built once per session from
Debian's packages; booted like the unikernel on a tap in the wire
namespace, nginx and busybox httpd answer GET / with 200, dnsmasq answers
the A records it was given, ping works, and the VM is gone afterwards.

CI installs the packages (scripts/apt-packages.txt); without them these
tests fail with the apt-get line to run rather than skip. Each boot takes
10-20 s under TCG."""

from __future__ import annotations

import gzip
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from ringzero.hypervisor.base import MachineSpec
from ringzero.hypervisor.libvirt import domain_xml
from ringzero.hypervisor.qemu import QEMU, qemu_argv
from ringzero.linuxvm import (
    HELLO,
    INDEX_HTML,
    Cpio,
    LinuxVm,
    LinuxVmError,
    LinuxVmImage,
    boot_linuxvm,
    build_linuxvm,
    kernel_release,
    linuxvm_cmdline,
    module_order,
    parse_records,
    parse_serve,
)
from ringzero.net.wire import Wire
from ringzero.runs import Run
from ringzero.targets import TargetError, check_runs_suites, load

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="namespaces and taps need root"),
    pytest.mark.timeout(300),
]

RECORDS = "www.example.test:10.33.0.50,www.example.test:10.33.0.51,mail.example.test:10.33.0.60"


def qemu_alive(name: str) -> bool:
    """Whether any QEMU process runs the guest of that name."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(QEMU.encode()) and any(name.encode() in a for a in argv):
            return True
    return False


def cpio_list(data: bytes) -> list[str]:
    """The archive's table of contents as GNU cpio reads it (-tv)."""
    out = subprocess.run(
        ["cpio", "-itv", "--quiet"], input=data, capture_output=True, check=True
    ).stdout
    return out.decode().splitlines()


@pytest.fixture(scope="session")
def image() -> LinuxVmImage:
    return build_linuxvm()


def boot(
    run: Run, wire: Wire, accel: str, artifacts: Path, serve: str, **kw: object
) -> tuple[LinuxVm, str]:
    a = wire.addr
    tap = wire.new_tap()
    try:
        vm = boot_linuxvm(
            run,
            tap,
            f"{a.target_ip}/{a.prefix}",
            a.tools_ip,
            serve,
            accel=accel,
            artifacts=artifacts,
            mac=a.target_mac,
            attach=lambda: wire.adopt(tap),
            **kw,
        )
    except BaseException:
        wire.remove_link(tap)
        raise
    return vm, tap


@pytest.fixture(scope="module")
def nginx_vm(
    run: Run, wire: Wire, accel: str, image: LinuxVmImage, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LinuxVm]:
    """One VM for the module: nginx and dnsmasq, under the QEMU backend."""
    vm, tap = boot(
        run,
        wire,
        accel,
        tmp_path_factory.mktemp("linuxvm-nginx"),
        "nginx,dns",
        dns=RECORDS,
        image=image,
        backend="qemu",
    )
    yield vm
    vm.destroy()
    wire.remove_link(tap)
    assert not qemu_alive(vm.name), f"QEMU of {vm.name} still runs after destroy()"


# ---- without a VM -------------------------------------------------------------------


def test_cpio_archives_are_newc_that_gnu_cpio_reads():
    cpio = Cpio()
    cpio.file("etc/linuxvm/hello", b"hi\n")
    cpio.symlink("bin/sh", "/bin/busybox")
    cpio.chardev("dev/console", 5, 1)
    data = cpio.pack()
    assert data.startswith(b"070701") and len(data) % 4 == 0
    listing = "\n".join(cpio_list(data))
    for name in ("etc", "etc/linuxvm", "etc/linuxvm/hello", "bin/sh -> /bin/busybox"):
        assert name in listing
    assert "crw-------" in listing and "5,   1" in listing


def test_the_virtio_net_drivers_load_after_what_they_need():
    release = kernel_release()
    order = [
        Path(m).name.split(".ko")[0]
        for m in module_order(Path(f"/lib/modules/{release}"), ("virtio_pci", "virtio_net"))
    ]
    assert order[-1] == "virtio_net"
    for before, after in (
        ("virtio_ring", "virtio"),
        ("virtio", "virtio_pci"),
        ("failover", "net_failover"),
        ("net_failover", "virtio_net"),
    ):
        if before in order:
            assert order.index(before) < order.index(after)


def test_the_initramfs_holds_busybox_nginx_dnsmasq_the_modules_and_init(image):
    names = "\n".join(cpio_list(gzip.decompress(image.initramfs.read_bytes())))
    for path in (
        "init",
        "bin/busybox",
        "bin/sh -> /bin/busybox",
        "usr/sbin/nginx",
        "usr/sbin/dnsmasq",
        "lib64/ld-linux-x86-64.so.2",
        "lib/x86_64-linux-gnu/libc.so.6",
        "etc/nginx/nginx.conf",
        "etc/nginx/mime.types",
        "www/index.html",
        "dev/console",
    ):
        assert path in names, f"{path} is not in {image.initramfs}"
    for module in image.modules:
        assert f"{module}.ko" in names
    assert "virtio_net" in image.modules
    assert image.kernel_bytes > 1 << 20 and image.initramfs_bytes > 1 << 20


def test_the_image_is_cached_until_its_inputs_change(image):
    again = build_linuxvm()
    assert again == image
    assert again.initramfs.stat().st_mtime_ns == image.initramfs.stat().st_mtime_ns


def test_both_backends_pass_the_initramfs():
    spec = MachineSpec(
        name="ringzero-20260101-000000-abcd-linuxvm-1",
        kernel=Path("/b/vmlinuz"),
        initrd=Path("/b/initramfs.cpio.gz"),
        cmdline="console=ttyS0",
        memory_mib=256,
        accel="tcg",
        console_socket=Path("/tmp/r/com1"),
    )
    argv = qemu_argv(spec)
    assert argv[argv.index("-initrd") + 1] == "/b/initramfs.cpio.gz"
    assert "<initrd>/b/initramfs.cpio.gz</initrd>" in domain_xml(spec)
    unikernel = MachineSpec(**{**spec.__dict__, "initrd": None})
    assert "-initrd" not in qemu_argv(unikernel) and "<initrd>" not in domain_xml(unikernel)


def test_the_target_file_loads_and_the_suites_refuse_it():
    target = load("linux-vm")
    assert target.kind == "linux-vm" and not target.capabilities
    assert set(target.serves) == {"nginx", "httpd", "dns", "discard"}
    assert target.memory_mib >= 112
    with pytest.raises(TargetError, match=r"runs no conformance suites.*--target ringzero"):
        check_runs_suites(target)
    check_runs_suites(load("linux"))


def test_the_command_line_and_its_checks():
    assert linuxvm_cmdline(
        "10.33.0.2/24", "10.33.0.1", ["nginx", "dns"], [("a.test", "1.2.3.4")]
    ) == (
        "console=ttyS0 quiet panic=-1 rz.ip=10.33.0.2/24 rz.gw=10.33.0.1 "
        "rz.serve=nginx,dns rz.dns=a.test:1.2.3.4"
    )
    assert parse_serve("nginx, dns") == ("nginx", "dns")
    with pytest.raises(ValueError, match="unknown apache"):
        parse_serve("apache")
    with pytest.raises(ValueError, match="both want port 80"):
        parse_serve(["httpd", "nginx"])
    assert parse_records("a.test:1.2.3.4,b.test:5.6.7.8") == [
        ("a.test", "1.2.3.4"),
        ("b.test", "5.6.7.8"),
    ]
    with pytest.raises(ValueError, match="not an IPv4 address"):
        parse_records("a.test:1.2.3")
    with pytest.raises(ValueError, match="ADDR/PREFIX"):
        linuxvm_cmdline("10.33.0.2", None, ["httpd"])


# ---- booted: each test its own VM (before nginx_vm, which lives until the module ends:
# one VM at a time, and each takes the wire's target address) -------------------


def test_busybox_httpd_serves_the_page_under_libvirt_and_the_vm_is_gone_after(
    run, wire, accel, image, tmp_path
):
    vm, tap = boot(run, wire, accel, tmp_path, "httpd", image=image, backend="libvirt")
    try:
        assert vm.servers == {"http": "httpd"}
        url = f"http://{wire.addr.target_ip}/"
        argv = ["curl", "-sS", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}", url]
        assert wire.run(argv, check=True).stdout == "200"
    finally:
        vm.destroy()
        wire.remove_link(tap)
    assert not vm.running() and not qemu_alive(vm.name)


def test_a_vm_that_cannot_come_up_says_why_and_is_destroyed(run, accel, image, tmp_path):
    """Without a NIC /init finds no eth0: the error line comes back with
    the console's tail, and the VM is not left running."""
    with pytest.raises(LinuxVmError, match=r"no eth0(.|\n)*console tail") as failed:
        boot_linuxvm(run, None, None, None, "httpd", accel=accel, artifacts=tmp_path, image=image)
    name = str(failed.value).split(":", 1)[0]
    assert name.startswith(f"ringzero-{run.id}-") and not qemu_alive(name)


# ---- booted: nginx_vm, one VM for the tests below ---------------------------------------


def test_it_says_when_each_service_listens_with_the_guests_uptime(nginx_vm):
    assert nginx_vm.servers == {"http": "nginx", "dns": "dnsmasq"}
    assert 0 < nginx_vm.ready["http"] <= nginx_vm.uptime_at_ready
    assert 0 < nginx_vm.ready["dns"] <= nginx_vm.uptime_at_ready
    assert nginx_vm.start_to_ready > 0


def test_nginx_answers_get_with_200(nginx_vm, wire):
    url = f"http://{wire.addr.target_ip}/"
    out = wire.run(["curl", "-sS", "--max-time", "10", "-D", "-", url], check=True).stdout
    head, _, body = out.replace("\r\n", "\n").partition("\n\n")
    assert head.startswith("HTTP/1.1 200"), head
    assert "Server: nginx" in head
    assert body == INDEX_HTML
    hello = wire.run(["curl", "-sS", "--max-time", "10", f"{url}hello"], check=True).stdout
    assert hello == HELLO


def test_dnsmasq_answers_the_configured_a_records(nginx_vm, wire):
    def dig(name: str) -> list[str]:
        argv = ["dig", "+short", "+time=3", "+tries=2", f"@{wire.addr.target_ip}", name, "A"]
        return sorted(wire.run(argv, check=True).stdout.split())

    assert dig("www.example.test") == ["10.33.0.50", "10.33.0.51"]
    assert dig("mail.example.test") == ["10.33.0.60"]
    assert dig("nobody.example.test") == []


def test_it_answers_ping(nginx_vm, wire):
    out = wire.run(["ping", "-c", "3", "-i", "0.2", "-W", "3", wire.addr.target_ip]).stdout
    assert " 0% packet loss" in out, out
