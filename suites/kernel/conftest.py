"""The kernel suite boots the kernel_tests service once per test, choosing
the test with "test=<name>" on the kernel command line."""

from collections.abc import Callable

import pytest
from ringzero.vm import Vm


@pytest.fixture
def kernel_test(boot: Callable[..., Vm]) -> Callable[..., Vm]:
    def start(name: str, *args: str, memory_mib: int | None = None) -> Vm:
        return boot("kernel_tests", " ".join([f"test={name}", *args]), memory_mib=memory_mib)

    return start
