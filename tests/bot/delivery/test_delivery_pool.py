"""The delivery pool: bounded, refusing at once when full, logging what crashes."""

from __future__ import annotations

import threading
import time

import pytest
from structlog.testing import capture_logs

from bot.delivery.pool import DeliveryPool


def test_it_refuses_work_beyond_workers_plus_queue_and_takes_it_again_later() -> None:
    pool = DeliveryPool(workers=2, max_waiting=3)
    gate = threading.Event()
    done: list[int] = []

    def task(n: int) -> None:
        gate.wait(5)
        done.append(n)

    accepted = [pool.submit(lambda n=n: task(n)) for n in range(8)]
    assert accepted == [True] * 5 + [False] * 3
    gate.set()
    pool.close(5)
    assert sorted(done) == [0, 1, 2, 3, 4]
    assert pool.submit(lambda: None) is False  # closed


def test_slots_are_given_back_when_work_ends() -> None:
    pool = DeliveryPool(workers=1, max_waiting=0)
    ran = threading.Event()
    assert pool.submit(ran.set)
    assert ran.wait(5)
    deadline = time.monotonic() + 5
    while not pool.submit(lambda: None):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    pool.close(5)


def test_a_crashing_task_is_logged_and_the_worker_carries_on() -> None:
    pool = DeliveryPool(workers=1, max_waiting=2)
    after = threading.Event()

    def boom() -> None:
        raise RuntimeError("broken delivery")

    with capture_logs() as logs:
        assert pool.submit(boom)
        assert pool.submit(after.set)
        assert after.wait(5)
        pool.close(5)
    (crash,) = [e for e in logs if e["event"] == "delivery.crashed"]
    assert "boom" in crash["work"]


def test_close_gives_up_waiting_after_the_timeout() -> None:
    pool = DeliveryPool(workers=1, max_waiting=0)
    gate = threading.Event()
    assert pool.submit(lambda: gate.wait(5) and None)
    started = time.monotonic()
    pool.close(0.2)
    assert time.monotonic() - started < 2
    gate.set()


@pytest.mark.parametrize(("workers", "waiting"), [(0, 1), (1, -1)])
def test_bad_sizes_are_refused(workers: int, waiting: int) -> None:
    with pytest.raises(ValueError, match="worker"):
        DeliveryPool(workers=workers, max_waiting=waiting)
