"""The delivery pool: slow Slack Web API work, apart from Bolt's listener threads.

Bolt runs every listener on one executor and waits there for commands to ``ack()``
within 3 s. If those threads are busy posting answers to a Web API that is slow or
rate-limited (a post can wait 30 s on ``Retry-After``), a command queues behind them
and misses Slack's deadline. So listeners only decide and ack; the posting runs here.

Bounded both ways: ``workers`` threads and at most ``max_waiting`` queued tasks. When
that is full, ``submit`` refuses at once (the caller logs what it dropped): memory stays
bounded under a flood, and the listener threads never wait for room.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import structlog

DELIVERY_WORKERS = 16
DELIVERY_MAX_WAITING = 512

log = structlog.get_logger("licensebot.background")


class DeliveryPool:
    """``handlers.deps.Background`` on a thread pool with a bounded queue."""

    def __init__(
        self,
        workers: int = DELIVERY_WORKERS,
        max_waiting: int = DELIVERY_MAX_WAITING,
        *,
        name: str = "delivery",
    ) -> None:
        if workers < 1 or max_waiting < 0:
            raise ValueError("a delivery pool needs a worker and a non-negative queue")
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        # One slot per task running or waiting; given back when the task ends.
        self._capacity = workers + max_waiting
        self._held = 0
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, work: Callable[[], None]) -> bool:
        with self._lock:
            if self._closed or self._held >= self._capacity:
                return False
            self._held += 1
        try:
            future = self._executor.submit(_run, work)
        except RuntimeError:  # shut down meanwhile
            self._release()
            return False
        future.add_done_callback(self._release)
        return True

    def room(self) -> int:
        """How many more tasks ``submit`` would take now."""
        with self._lock:
            return 0 if self._closed else self._capacity - self._held

    def _release(self, _future: Future[None] | None = None) -> None:
        with self._lock:
            self._held -= 1

    def close(self, timeout: float | None = None) -> None:
        """Take no more work; wait up to ``timeout`` s (None: as long as it takes) for
        the tasks already accepted, which are then left to finish on their own."""
        self._closed = True
        if timeout is None:
            self._executor.shutdown(wait=True)
            return
        waiter = threading.Thread(
            target=self._executor.shutdown,
            kwargs={"wait": True},
            name="delivery-drain",
            daemon=True,
        )
        waiter.start()
        waiter.join(timeout)
        if waiter.is_alive():
            log.warning("delivery.drain_timeout", timeout_s=timeout)


def _run(work: Callable[[], None]) -> None:
    try:
        work()
    except Exception:
        # Listeners catch what they expect; this is the backstop, as Bolt's error handler
        # is for listener threads.
        log.exception("delivery.crashed", work=getattr(work, "__qualname__", repr(work)))
