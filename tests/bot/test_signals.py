"""Signal handlers that do their work on a thread of their own (bot.signals)."""

from __future__ import annotations

import os
import signal
import threading
import time

from bot.signals import OnSignal


def test_the_callback_runs_off_the_main_thread_and_close_restores_the_handler() -> None:
    ran: list[str] = []
    done = threading.Event()

    def callback() -> None:
        ran.append(threading.current_thread().name)
        done.set()

    before = signal.getsignal(signal.SIGUSR2)
    handler = OnSignal(signal.SIGUSR2, callback, name="test-sigusr2")
    assert handler.install()
    try:
        os.kill(os.getpid(), signal.SIGUSR2)
        assert done.wait(5)
        assert ran == ["test-sigusr2"]
    finally:
        handler.close()
    assert signal.getsignal(signal.SIGUSR2) is before


def test_a_burst_is_folded_and_none_is_lost_at_the_end() -> None:
    calls: list[float] = []
    gate = threading.Event()

    def slow() -> None:
        gate.wait(5)
        calls.append(time.monotonic())

    handler = OnSignal(signal.SIGUSR2, slow, name="test-burst")
    assert handler.install()
    try:
        for _ in range(50):
            os.kill(os.getpid(), signal.SIGUSR2)
        time.sleep(0.2)
        gate.set()
        deadline = time.monotonic() + 5
        while len(calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)
    finally:
        handler.close()
    # The first call, then one for everything that arrived while it ran.
    assert 1 <= len(calls) <= 2


def test_outside_the_main_thread_nothing_is_installed() -> None:
    result: list[bool] = []
    handler = OnSignal(signal.SIGUSR2, lambda: None, name="test-thread")
    worker = threading.Thread(target=lambda: result.append(handler.install()))
    worker.start()
    worker.join()
    assert result == [False]
    handler.close()  # nothing to undo
