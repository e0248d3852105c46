"""What the backends ask QEMU and libvirt for, checked without starting VMs."""

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from ringzero.hypervisor import libvirt
from ringzero.hypervisor.base import MachineSpec
from ringzero.hypervisor.libvirt import domain_xml
from ringzero.hypervisor.qemu import qemu_argv

QEMU_NS = "{http://libvirt.org/schemas/domain/qemu/1.0}"


def spec(accel="kvm", **kw) -> MachineSpec:
    return MachineSpec(
        name="ringzero-20260101-000000-abcd-hello",
        kernel=Path("/images/hello.img"),
        cmdline="test=x a=<b>",
        memory_mib=48,
        accel=accel,
        console_socket=Path("/tmp/r/com1"),
        **kw,
    )


def after(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a == flag]


def test_qemu_argv_kvm():
    argv = qemu_argv(spec())
    assert after(argv, "-cpu") == ["host,-arch-capabilities"]
    assert after(argv, "-accel") == ["kvm"]
    assert after(argv, "-kernel") == ["/images/hello.img"]
    assert after(argv, "-append") == ["test=x a=<b>"]
    assert after(argv, "-m") == ["48"]
    assert "isa-debug-exit,iobase=0xf4,iosize=0x04" in after(argv, "-device")
    assert "socket,id=com1,path=/tmp/r/com1" in after(argv, "-chardev")
    assert "-no-reboot" in argv and "-nodefaults" in argv
    assert any("guest=ringzero-20260101-000000-abcd-hello" in a for a in after(argv, "-name"))


def test_qemu_argv_tcg_and_extra_serial_ports():
    argv = qemu_argv(spec("tcg", serial_sockets=(Path("/tmp/r/com2"),)))
    assert after(argv, "-accel") == ["tcg"]
    assert after(argv, "-cpu") == ["max"]
    assert after(argv, "-serial") == ["chardev:com1", "chardev:com2"]


def test_libvirt_domain_xml():
    root = ET.fromstring(domain_xml(spec()))
    assert root.get("type") == "kvm"
    assert root.findtext("name") == "ringzero-20260101-000000-abcd-hello"
    assert root.findtext("os/kernel") == "/images/hello.img"
    assert root.findtext("os/cmdline") == "test=x a=<b>"
    assert root.find("memory").text == "48"
    cpu = root.find("cpu")
    assert cpu.get("mode") == "host-passthrough"
    assert cpu.find("feature").get("name") == "arch-capabilities"
    assert root.find("devices/serial/source").get("path") == "/tmp/r/com1"
    assert root.find("devices/serial/source").get("mode") == "connect"
    label = root.find("seclabel")
    assert label.get("relabel") == "no" and label.findtext("label") == "+0:+0"
    args = [a.get("value") for a in root.iter(f"{QEMU_NS}arg")]
    assert args == ["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
    for event in ("on_poweroff", "on_reboot", "on_crash"):
        assert root.findtext(event) == "destroy"


def test_libvirt_domain_xml_tcg():
    root = ET.fromstring(domain_xml(spec("tcg")))
    assert root.get("type") == "qemu"
    assert root.find("cpu").get("mode") == "maximum"


def test_a_libvirtd_in_another_network_namespace_is_refused_with_what_to_do(monkeypatch):
    """libvirtd opens the harness's taps by name in the harness's namespace;
    one started inside `ip netns exec` cannot, and the run says so."""
    monkeypatch.setattr(libvirt, "_daemon_pid", lambda pidfile: 4242)
    netns = {"self": "net:[1]", 4242: "net:[2]"}
    monkeypatch.setattr(libvirt, "_netns_of", lambda pid: netns[pid])
    with pytest.raises(RuntimeError, match=r"libvirtd \(PID 4242\).*kill 4242"):
        libvirt.ensure_daemons()
    netns[4242] = "net:[1]"
    monkeypatch.setattr(libvirt, "LIBVIRT_SOCKET", Path("/"))  # "up" at once
    libvirt.ensure_daemons()
