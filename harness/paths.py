"""Where things live: the repository, its build tree and its reports."""

from __future__ import annotations

import os
import tempfile
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
    """Host-wide state shared by all runs on this machine (locks, sockets):
    /run/ringzero when /run is writable (a tmpfs: gone after a reboot), else
    a per-user directory under the temporary directory."""
    env = os.environ.get("RINGZERO_STATE_DIR")
    if env:
        path = Path(env)
    elif os.access("/run", os.W_OK):
        path = Path("/run/ringzero")
    else:
        path = Path(tempfile.gettempdir()) / f"ringzero-state-{os.getuid()}"
    path.mkdir(parents=True, exist_ok=True)
    return path
