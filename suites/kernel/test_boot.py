"""Boot: the banner, the command line, and exit statuses reaching the host."""

import re

import pytest
from ringzero import exit_status
from ringzero.paths import repo_root

pytestmark = pytest.mark.requires("kernel")


def kernel_version() -> str:
    cmake = (repo_root() / "unikernel" / "CMakeLists.txt").read_text()
    m = re.search(r"project\(ringzero VERSION (\S+)", cmake)
    assert m, "no project version in unikernel/CMakeLists.txt"
    return m.group(1)


def test_banner_states_version_memory_cmdline_and_start_time(kernel_test):
    """The banner names the version, the hypervisor, the memory found in the
    multiboot map, the command line as given, and the time from reset to
    Service::start(); the kernel's own part of it is the smaller one."""
    vm = kernel_test("banner", "marker=banner-check-42", memory_mib=64)
    head = vm.wait_for(
        r"^ringzero (\S+) on (\S+) \((x2?) apic, (tsc-deadline|one-shot) timer, "
        r"tsc (\d+) kHz via (\w+), nx on\)"
    )
    assert head[1] == kernel_version()
    assert head[2] == ("kvm" if vm.accel == "kvm" else "tcg")
    assert int(head[5]) > 100_000  # a TSC slower than 100 MHz means a broken frequency
    mem = vm.wait_for(r"^memory (\d+) KiB, heap (\d+) KiB, cmdline \"(.*)\"$")
    assert 60 * 1024 <= int(mem[1]) <= 64 * 1024  # 64 MiB minus firmware areas
    assert 0 < int(mem[2]) < int(mem[1])
    assert mem[3] == "test=banner marker=banner-check-42"
    started = vm.wait_started()
    reset_us, kernel_us = int(started[1]), int(started[2])
    assert 0 < kernel_us < reset_us
    vm.wait_for(r"^kernel_tests: banner$")
    assert vm.wait_exit() == exit_status.SUCCESS


def test_hello_service_runs_and_ends_itself(boot):
    """The example service prints, waits on a timer and shuts down with 0."""
    vm = boot("hello")
    vm.wait_for(r"^Hello from ringzero \d+\.\d+\.\d+!$")
    vm.wait_for(r"^hello: timer fired, \d+ us after reset; goodbye$")
    assert vm.wait_exit() == exit_status.SUCCESS


@pytest.mark.parametrize("status", [0, 3, 42, 127])
def test_exit_status_reaches_the_host(kernel_test, status):
    """os::shutdown(n) ends the VM and the host sees n: from the console's exit
    line on every backend, and from QEMU's exit code where the backend has it."""
    vm = kernel_test("exit", f"status={status}")
    assert vm.wait_exit() == status
    assert vm.console.exit_status == status
    code = vm.machine.qemu_exit_code
    if code is not None:
        assert exit_status.from_qemu_exit_code(code) == status
