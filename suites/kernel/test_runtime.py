"""The C++ runtime under a service: the standard library, exceptions and
std::terminate."""

import time

import pytest
from ringzero import exit_status

pytestmark = pytest.mark.requires("kernel")


def test_standard_library_works_in_a_service(kernel_test):
    """vector, string, map, unordered_map, function, unique_ptr, shared_ptr,
    <algorithm>, <chrono> and snprintf, each checked by the service."""
    vm = kernel_test("stdlib")
    wall = vm.wait_for(r"^stdlib: system_clock_s=(\d+)$")
    assert abs(int(wall[1]) - time.time()) < 5, "the guest's wall clock is off"
    assert vm.wait_exit() == exit_status.SUCCESS, vm.console.tail()
    oks = [line for line in vm.console.text().splitlines() if line.endswith(" ok")]
    assert len(oks) >= 12 and "FAIL" not in vm.console.text()


def test_exceptions_are_caught_inside_a_service(kernel_test):
    """throw/catch by type, through 10 frames with destructors, rethrow,
    through std::function and inside a timer callback."""
    vm = kernel_test("exceptions")
    assert vm.wait_exit() == exit_status.SUCCESS, vm.console.tail()
    assert "FAIL" not in vm.console.text()
    vm.wait_for(r"^exceptions: inside a timer callback ok$")


def test_uncaught_exception_gives_a_crash_report(kernel_test):
    """An exception nobody catches reaches std::terminate: a crash report with
    the type and what(), a backtrace naming the thrower, its own status."""
    vm = kernel_test("uncaught")
    assert vm.wait_exit() == exit_status.UNCAUGHT_EXCEPTION
    crash = vm.console.crash
    assert crash is not None and crash.complete
    assert "uncaught exception" in crash.what and "nobody catches this" in crash.what
    assert any("kernel_tests_throw_uncaught" in f for f in vm.crash_frames()), vm.crash_text()


def test_serial_input_is_interrupt_driven(kernel_test):
    """COM1 in 16550 loopback: the bytes it sends come back through ISA IRQ 4,
    the IOAPIC and the event loop, all of them, in order, counted."""
    vm = kernel_test("serial_input")
    vm.wait_for(r"^serial_input: received 54 of 54 bytes, \d+ interrupts, 0 dropped$")
    assert vm.wait_exit() == exit_status.SUCCESS, vm.console.tail()
    assert "FAIL" not in vm.console.text()
