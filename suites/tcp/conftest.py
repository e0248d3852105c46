"""Fixtures of the TCP suites."""

from __future__ import annotations

from typing import Any

import pytest
from ringzero.net.tcp import TargetTcp, Timing, timing_for


@pytest.fixture
def tgt(sut: Any) -> TargetTcp:
    """The target's TCP, through its agent (ringzero.net.tcp.TargetTcp)."""
    return TargetTcp(sut)


@pytest.fixture
def timing(sut: Any) -> Timing:
    """The timing tolerances for this target (wider under TCG)."""
    return timing_for(sut)
