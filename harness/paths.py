"""Where things live: the repository, its build tree and its reports."""

from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    """The repository root: $RINGZERO_ROOT, else the checkout this package is in."""
    env = os.environ.get("RINGZERO_ROOT")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve().parent.parent
    if (here / "unikernel").is_dir():
        return here
    raise RuntimeError(
        "cannot find the ringzero checkout; run from the repository or set RINGZERO_ROOT"
    )


def build_dir() -> Path:
    return repo_root() / "build" / "unikernel"


def reports_dir() -> Path:
    return repo_root() / "reports"


def state_dir() -> Path:
    """Host-wide state shared by all runs on this machine (locks, sockets)."""
    path = Path(os.environ.get("RINGZERO_STATE_DIR", "/tmp/ringzero"))
    path.mkdir(parents=True, exist_ok=True)
    return path
