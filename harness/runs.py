"""Run identity, ownership of what a run starts, and cleanup.

Every VM, process, socket, tap and namespace a run creates is named
``ringzero-<run-id>-...`` (or carries the run id where names are short). A run
holds a shared ``flock`` on ``<state>/runs/<run-id>.lock`` in every process
that creates resources; when all of them are gone (finished, crashed,
SIGKILLed) the kernel releases the lock. ``sweep()`` destroys the resources of
every run whose lock it can take exclusively, so whatever a dead run left
behind is removed when the next run starts.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import re
import secrets
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from .paths import state_dir

PREFIX = "ringzero"
RUN_ID_RE = r"\d{8}-\d{6}-[0-9a-f]{4}"
RESOURCE_RE = re.compile(rf"{PREFIX}-({RUN_ID_RE})-")


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


def resource_name(run_id: str, local: str) -> str:
    """A name for something a run creates, e.g. ``ringzero-<run>-hello-1``."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", local)
    return f"{PREFIX}-{run_id}-{safe}"


def run_of(name: str) -> str | None:
    """The run id inside a resource name, if it is one of ours."""
    m = RESOURCE_RE.search(name)
    return m.group(1) if m else None


def _locks_dir() -> Path:
    path = state_dir() / "runs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def run_dir(run_id: str) -> Path:
    """Scratch space of a run (sockets, pid files); removed with the run."""
    path = state_dir() / run_id
    path.mkdir(parents=True, exist_ok=True)
    return path


class Run:
    """This process's part in a run: holds the run's lock and undoes what the
    process started, in reverse order, on close(), at exit and on SIGTERM/SIGHUP."""

    def __init__(self, run_id: str | None = None) -> None:
        self.id = run_id or new_run_id()
        self._lock_fd = os.open(_locks_dir() / f"{self.id}.lock", os.O_CREAT | os.O_RDWR, 0o644)
        fcntl.flock(self._lock_fd, fcntl.LOCK_SH)
        self._undo: list[tuple[str, Callable[[], None]]] = []
        self._mutex = threading.Lock()
        self._closed = False
        self._counter = 0
        atexit.register(self.close)
        _install_signal_handlers()

    @property
    def dir(self) -> Path:
        return run_dir(self.id)

    def name(self, local: str) -> str:
        return resource_name(self.id, local)

    def unique_name(self, local: str) -> str:
        """A name no other resource of this run has: numbered per process, and
        marked with the pytest-xdist worker, e.g. ``ringzero-<run>-gw1-hello-3``."""
        with self._mutex:
            self._counter += 1
            n = self._counter
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        return self.name(f"{worker}-{local}-{n}" if worker else f"{local}-{n}")

    def on_close(self, what: str, undo: Callable[[], None]) -> Callable[[], None]:
        """Registers an undo step; returns a function that runs it now instead."""
        entry = (what, undo)
        with self._mutex:
            self._undo.append(entry)

        def run_now() -> None:
            with self._mutex:
                if entry not in self._undo:
                    return
                self._undo.remove(entry)
            _quietly(what, undo)

        return run_now

    def close(self) -> None:
        with self._mutex:
            if self._closed:
                return
            self._closed = True
            steps, self._undo = self._undo[::-1], []
        for what, undo in steps:
            _quietly(what, undo)
        with contextlib.suppress(OSError):
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
        # The last process of the run removes its scratch space.
        if not run_alive(self.id):
            shutil.rmtree(state_dir() / self.id, ignore_errors=True)

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _quietly(what: str, undo: Callable[[], None]) -> None:
    try:
        undo()
    except Exception as e:  # cleanup goes on with the next step
        print(f"ringzero: cleanup of {what} failed: {e}", file=sys.stderr)


_handlers_installed = False


def _install_signal_handlers() -> None:
    """SIGTERM and SIGHUP unwind like Ctrl-C does, so cleanup code runs."""
    global _handlers_installed
    if _handlers_installed or threading.current_thread() is not threading.main_thread():
        return
    _handlers_installed = True

    def unwind(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) in (signal.SIG_DFL, None):
            signal.signal(sig, unwind)


def run_alive(run_id: str) -> bool:
    """Whether any process still holds the run's lock."""
    path = _locks_dir() / f"{run_id}.lock"
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


# ---- sweeping --------------------------------------------------------------------

Sweeper = Callable[[Callable[[str], bool]], list[str]]
_sweepers: list[tuple[str, Sweeper]] = []


def register_sweeper(kind: str, sweeper: Sweeper) -> None:
    """A sweeper gets a predicate ``dead(run_id)`` and returns what it removed."""
    if all(k != kind for k, _ in _sweepers):
        _sweepers.append((kind, sweeper))


def _sweep_state_dirs(dead: Callable[[str], bool]) -> list[str]:
    removed = []
    root = state_dir()
    for entry in root.iterdir():
        if re.fullmatch(RUN_ID_RE, entry.name) and dead(entry.name):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(str(entry))
    for lock in _locks_dir().glob("*.lock"):
        if dead(lock.stem):
            lock.unlink(missing_ok=True)
    return removed


def sweep(exclude: str | None = None) -> dict[str, list[str]]:
    """Removes what dead runs left behind; returns {kind: [names]}."""
    cache: dict[str, bool] = {}

    def dead(run_id: str) -> bool:
        if run_id == exclude:
            return False
        if run_id not in cache:
            cache[run_id] = not run_alive(run_id)
        return cache[run_id]

    result: dict[str, list[str]] = {}
    for kind, sweeper in [*_sweepers, ("scratch directories", _sweep_state_dirs)]:
        try:
            removed = sweeper(dead)
        except Exception as e:
            print(f"ringzero: sweeping {kind} failed: {e}", file=sys.stderr)
            continue
        if removed:
            result[kind] = removed
    return result
