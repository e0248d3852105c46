"""The harness's exit-status table matches the kernel's (ringzero/os.hpp)."""

import re

from ringzero import exit_status
from ringzero.paths import repo_root


def kernel_table() -> dict[str, int]:
    header = (repo_root() / "unikernel/include/ringzero/os.hpp").read_text()
    block = header.split("namespace exit_status {", 1)[1].split("}", 1)[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"constexpr int (\w+)\s*=\s*(\d+);", block)}


def test_tables_agree():
    kernel = kernel_table()
    assert kernel, "no statuses found in os.hpp"
    assert kernel == {name: value for value, name in exit_status.NAMES.items()}
    for name, value in kernel.items():
        assert getattr(exit_status, name.upper()) == value


def test_qemu_exit_codes():
    assert exit_status.from_qemu_exit_code(1) == 0
    assert exit_status.from_qemu_exit_code((42 << 1) | 1) == 42
    assert exit_status.from_qemu_exit_code(255) == 127
    assert exit_status.from_qemu_exit_code(0) is None  # guest reset or powered off
    assert exit_status.from_qemu_exit_code(-9) is None  # killed
    assert exit_status.from_qemu_exit_code(2) is None


def test_describe():
    assert exit_status.describe(121) == "121 (cpu_exception)"
    assert exit_status.describe(7) == "7 (service-defined)"
    assert "did not end" in exit_status.describe(None)
