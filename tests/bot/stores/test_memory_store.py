"""The in-process TTL event-id store."""

from __future__ import annotations

import threading

import pytest

from bot.stores.memory import TtlEventDedupe


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_first_time_then_duplicate_until_expiry() -> None:
    clock = Clock()
    store = TtlEventDedupe(60, clock=clock)
    assert store.first_time("Ev1") is True
    assert store.first_time("Ev1") is False
    assert store.first_time("Ev2") is True
    clock.now += 59.9
    assert store.first_time("Ev1") is False
    clock.now += 0.2
    assert store.first_time("Ev1") is True  # expired, so new again
    assert len(store) == 1


def test_bounded_size_forgets_the_oldest() -> None:
    store = TtlEventDedupe(3600, max_entries=3, clock=Clock())
    for key in ("a", "b", "c", "d"):
        assert store.first_time(key)
    assert len(store) == 3
    assert store.first_time("a") is True  # forgotten
    assert store.first_time("d") is False


def test_concurrent_callers_see_each_key_once() -> None:
    store = TtlEventDedupe(3600)
    wins: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        for i in range(200):
            first = store.first_time(f"Ev{i}")
            with lock:
                wins.append(first)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wins.count(True) == 200


@pytest.mark.parametrize(("ttl", "size"), [(0, 10), (-1, 10), (10, 0)])
def test_rejects_nonsense_limits(ttl: float, size: int) -> None:
    with pytest.raises(ValueError):
        TtlEventDedupe(ttl, max_entries=size)


def test_keys_set_again_and_again_leave_no_trail() -> None:
    clock = Clock()
    store = TtlEventDedupe(60, max_entries=10, clock=clock)
    for i in range(10_000):
        store.remember(f"k{i % 3}", str(i))
        clock.now += 0.001
    assert len(store) == 3
    assert store.recall("k0") == "9999"
    assert len(store._expiries) <= 2 * 3 + 64  # stale expiry rows are compacted away


def test_over_the_cap_the_key_closest_to_expiry_goes_first() -> None:
    store = TtlEventDedupe(3600, max_entries=2, clock=Clock())
    store.remember("long", "a", ttl_seconds=7200)
    store.remember("short", "b", ttl_seconds=10)
    store.remember("newest", "c")
    assert store.recall("short") is None
    assert (store.recall("long"), store.recall("newest")) == ("a", "c")
