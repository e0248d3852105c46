"""An idle VM halts its CPU: the host pays close to nothing for it."""

import time

import pytest

pytestmark = pytest.mark.requires("kernel")


def test_idle_vm_uses_under_2_percent_of_a_host_core(kernel_test):
    """With no timers and no work, the QEMU process uses < 2 % of a core
    over 5 s (its CPU time from /proc)."""
    vm = kernel_test("idle")
    vm.wait_for(r"^kernel_tests: idling$")
    time.sleep(0.5)  # let QEMU finish its own start-up work
    before = vm.cpu_seconds()
    time.sleep(5)
    used = vm.cpu_seconds() - before
    assert used < 0.02 * 5, f"QEMU used {used:.3f} s of CPU in 5 s idle"
