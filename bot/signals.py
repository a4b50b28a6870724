"""Signal handlers that do their work on a thread of their own.

A Python signal handler runs in the main thread between two bytecodes, wherever that
thread was: inside ``Thread.start()`` (holding threading's internal lock), inside a
lock of the event loop's thread pool, inside the handler itself for a second signal.
Starting a thread or taking a lock there can deadlock the main thread, which in a
server is the event loop. So the handler installed here only writes one byte to a
pipe (async-signal-safe); a daemon thread reads it and calls the callback.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

import structlog

log = structlog.get_logger("licensebot.signals")

_STOP = b"\0"
_SIGNALLED = b"!"


class OnSignal:
    """``OnSignal(signal.SIGHUP, callback).install()``; ``close()`` restores the old handler.

    Signals arriving faster than the callback runs are folded into one call.
    """

    def __init__(self, signum: int, callback: Callable[[], None], *, name: str) -> None:
        self.signum = signum
        self.callback = callback
        self.name = name
        self._previous: Any = None
        self._pipe: tuple[int, int] | None = None
        self._thread: threading.Thread | None = None

    def install(self) -> bool:
        """Install the handler; False outside the main thread (where Python allows none)."""
        if threading.current_thread() is not threading.main_thread() or self._pipe is not None:
            return False
        self._pipe = os.pipe()
        os.set_blocking(self._pipe[1], False)
        self._thread = threading.Thread(target=self._run, args=(self._pipe[0],), name=self.name)
        self._thread.daemon = True
        self._thread.start()
        self._previous = signal.signal(self.signum, self._on_signal)
        return True

    def close(self) -> None:
        if self._pipe is None:
            return
        signal.signal(self.signum, self._previous)
        read, write = self._pipe
        with contextlib.suppress(OSError):
            os.write(write, _STOP)
        if self._thread is not None:
            self._thread.join(5)
        for fd in (read, write):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._pipe = self._thread = None

    def _on_signal(self, _signum: int, _frame: FrameType | None) -> None:
        pipe = self._pipe
        if pipe is None:
            return
        # A full pipe already holds a wake-up: nothing is lost by dropping this one.
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(pipe[1], _SIGNALLED)

    def _run(self, read: int) -> None:
        while True:
            try:
                data = os.read(read, 512)
            except OSError:
                return
            if not data or _STOP in data:
                return
            try:
                self.callback()
            except Exception as exc:
                log.exception("signal.callback_failed", signal=self.name, error=repr(exc))
