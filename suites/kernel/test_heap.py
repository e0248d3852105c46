"""The heap: statistics back to their baseline after stress, and the debug
mode's detection of double free, invalid free and overruns."""

import pytest
from ringzero import exit_status

pytestmark = pytest.mark.requires("kernel")


def test_heap_stress_returns_to_baseline(kernel_test):
    """20k random malloc/free plus standard containers; afterwards the bytes
    and blocks in use are exactly what they were before."""
    vm = kernel_test("heap_stress")
    before = vm.wait_for(r"^heap_stress: before in_use=(\d+) live=(\d+)$")
    during = vm.wait_for(r"^heap_stress: during in_use=(\d+) live=(\d+) peak=(\d+)$", timeout=10)
    after = vm.wait_for(
        r"^heap_stress: after in_use=(\d+) live=(\d+) peak=(\d+) "
        r"allocations=(\d+) frees=(\d+)$"
    )
    assert int(during[1]) > int(before[1])
    assert (after[1], after[2]) == (before[1], before[2])
    assert int(after[3]) >= int(during[3])
    assert int(after[4]) - int(after[5]) == int(after[2])  # live = allocations - frees
    assert vm.wait_exit() == exit_status.SUCCESS


@pytest.mark.parametrize(
    ("kind", "error"),
    [("double_free", "double free"), ("overrun", "overrun"), ("invalid_free", "invalid free")],
)
def test_heap_debug_mode_catches(kernel_test, kind, error):
    """With heap=debug, misuse ends the VM with a crash report naming it."""
    vm = kernel_test("heap_error", f"kind={kind}", "heap=debug")
    vm.wait_for(r"\(heap debug on\)")
    assert vm.wait_exit() == exit_status.HEAP_CORRUPTION
    assert vm.console.crash is not None
    assert error in vm.console.crash.what.lower(), vm.console.crash.what


def test_out_of_memory_is_reported(kernel_test):
    """operator new that cannot allocate ends the VM with a crash report."""
    vm = kernel_test("oom", memory_mib=32)
    assert vm.wait_exit(timeout=20) == exit_status.OUT_OF_MEMORY
    assert "out of memory" in vm.console.crash.what
