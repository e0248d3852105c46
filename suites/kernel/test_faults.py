"""CPU exceptions: a deliberate fault gives a crash report whose symbolized
backtrace names the faulting function, and a distinct exit status. The
faults also prove the page tables: text is not writable, data is not
executable, page 0 and the stack's guard page are unmapped."""

import pytest
from ringzero import exit_status

pytestmark = pytest.mark.requires("kernel")


@pytest.mark.parametrize(
    ("kind", "vector", "detail"),
    [
        (
            "null",
            "#PF page fault",
            "write to an unmapped page at 0x0000000000000000 (null pointer)",
        ),
        ("write_text", "#PF page fault", "write to a protected page"),
        ("exec_data", "#PF page fault", "instruction fetch from a protected page"),
        ("stack_overflow", "#PF page fault", "stack overflow: the boot stack's guard page"),
        ("ud", "#UD invalid opcode", None),
        ("div", "#DE divide error", None),
    ],
)
def test_fault_gives_symbolized_crash_report(kernel_test, kind, vector, detail):
    vm = kernel_test("fault", f"kind={kind}")
    assert vm.wait_exit() == exit_status.CPU_EXCEPTION
    crash = vm.console.crash
    assert crash is not None and crash.complete
    assert vector in crash.what
    if detail:
        assert any(detail in line for line in crash.lines), "\n".join(crash.lines)
    frames = vm.crash_frames()
    # Executing data faults at the data's address: the function that called
    # it is the next frame.
    faulting = frames[1] if kind == "exec_data" else frames[0]
    assert f"kernel_tests_fault_{kind}(" in faulting, vm.crash_text()
