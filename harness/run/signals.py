"""Ctrl-C and SIGTERM. The first one stops the run (KeyboardInterrupt in the main thread);
any later one, and any one that arrives while a `deferred()` block tears things down, waits
until the teardown has ended, so a lab is never left half removed."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

_main_pid = os.getpid()
_depth = 0  # nesting of deferred() blocks in the main thread
_pending = False  # a signal arrived while deferred
_stopping = False  # the first signal has been raised; the run is on its way out


def install() -> None:
    """Handle SIGTERM like Ctrl-C, and both as described above (call from the main thread)."""
    global _main_pid, _depth, _pending, _stopping
    _main_pid, _depth, _pending, _stopping = os.getpid(), 0, False, False
    signal.signal(signal.SIGTERM, _handler)
    signal.signal(signal.SIGINT, _handler)


def _handler(signum: int, frame: FrameType | None) -> None:
    global _pending, _stopping
    if os.getpid() != _main_pid:  # a forked helper (pyroute2) inherits this handler
        os._exit(0)
    if _depth or _stopping:
        _pending = True
        os.write(2, b"still removing this run's namespaces and processes; please wait\n")
        return
    _stopping = True
    raise KeyboardInterrupt


@contextmanager
def deferred() -> Iterator[None]:
    """Signals that arrive inside the block are held until it ends (then raised once,
    unless the run is already stopping)."""
    global _depth, _pending, _stopping
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if not _depth and _pending and not _stopping:
            _pending, _stopping = False, True
            raise KeyboardInterrupt


def exiting() -> None:
    """After an interrupted run: ignore further signals while the interpreter shuts down
    (it would restore the default action, and a late second signal would kill it)."""
    if _stopping:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
