"""The VM's exit statuses, as unikernel/include/ringzero/os.hpp defines them
(tests/test_exit_status.py keeps the two tables in step)."""

from __future__ import annotations

SUCCESS = 0
FAILURE = 1
CPU_EXCEPTION = 121
PANIC = 122
UNCAUGHT_EXCEPTION = 123
OUT_OF_MEMORY = 124
HEAP_CORRUPTION = 125

NAMES: dict[int, str] = {
    SUCCESS: "success",
    FAILURE: "failure",
    CPU_EXCEPTION: "cpu_exception",
    PANIC: "panic",
    UNCAUGHT_EXCEPTION: "uncaught_exception",
    OUT_OF_MEMORY: "out_of_memory",
    HEAP_CORRUPTION: "heap_corruption",
}

CRASHES = frozenset({CPU_EXCEPTION, PANIC, UNCAUGHT_EXCEPTION, OUT_OF_MEMORY, HEAP_CORRUPTION})


def describe(status: int | None) -> str:
    if status is None:
        return "no exit status (the VM did not end through os::shutdown)"
    return f"{status} ({NAMES.get(status, 'service-defined')})"


def from_qemu_exit_code(code: int) -> int | None:
    """isa-debug-exit makes QEMU exit with (status << 1) | 1; other codes
    (0: the guest reset or powered off, negative: killed) carry no status."""
    if code > 0 and code & 1:
        return code >> 1
    return None
