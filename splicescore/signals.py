"""SIGINT, SIGTERM and SIGHUP stop a run the same way (Ctrl-C, Slurm/Kubernetes preemption, a closed
terminal): the first one raises :class:`Interrupted` in the main thread, which drops the chunk in flight
and keeps the ``.partial`` output for ``--resume``; the exit code is 128 + the signal number (130, 143,
129). A second signal ends the process at once (the partial output is consistent at every moment, see
:mod:`splicescore.io.chunked_output`).

While an output chunk is being written (:func:`deferred`), the first signal waits until the chunk is
complete on disk, so a stop never cuts a chunk in two when it can be avoided.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading

STOP_SIGNALS = tuple(s for s in (getattr(signal, n, None) for n in ("SIGINT", "SIGTERM", "SIGHUP")) if s)


class Interrupted(KeyboardInterrupt):
    """A stop signal arrived; ``signum`` tells which (exit code 128 + signum)."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(signal.Signals(signum).name)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


_state = {"received": None, "deferring": 0, "pending": None}


def _handler(signum, frame) -> None:
    if _state["received"] is not None:  # the second signal: stop now
        try:
            os.write(2, f"splicescore: {signal.Signals(signum).name} again: stopped at once\n".encode())
        except OSError:
            pass
        os._exit(128 + signum)
    _state["received"] = signum
    if _state["deferring"]:
        _state["pending"] = signum
        return
    raise Interrupted(signum)


def install() -> None:
    """Handle the stop signals in this (main) thread; a no-op elsewhere."""
    if threading.current_thread() is not threading.main_thread():
        return
    _state.update(received=None, deferring=0, pending=None)
    for s in STOP_SIGNALS:
        try:
            signal.signal(s, _handler)
        except (OSError, ValueError):  # not allowed here (embedded interpreter)
            pass


def uninstall() -> None:
    """Restore the default handlers, except after a stop signal: then a further one still ends the
    process at once (while it shuts down) with 128 + the signal."""
    if threading.current_thread() is not threading.main_thread() or _state["received"] is not None:
        return
    for s in STOP_SIGNALS:
        try:
            signal.signal(s, signal.default_int_handler if s == signal.SIGINT else signal.SIG_DFL)
        except (OSError, ValueError):
            pass
    _state.update(received=None, deferring=0, pending=None)


@contextlib.contextmanager
def deferred():
    """A first stop signal inside this block is raised when the block ends."""
    _state["deferring"] += 1
    try:
        yield
    finally:
        _state["deferring"] -= 1
        pending = _state["pending"]
        if pending is not None and not _state["deferring"] and sys.exc_info()[0] is None:
            _state["pending"] = None
            raise Interrupted(pending)


def exit_code_of(exc: BaseException | None) -> int:
    """128 + the signal of an :class:`Interrupted` in ``exc``'s chain (click wraps it), else 130."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, Interrupted):
            return exc.exit_code
        exc = exc.__cause__ or exc.__context__
    return 130
