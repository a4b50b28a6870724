"""One contract for every ``TtlStore`` backend: in-process, SQLite, and the real Redis."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lockstep import run_in_lockstep
from ttl_store_worker import claim_from_threads

from bot.stores.memory import TtlEventDedupe
from bot.stores.redis import RedisTtlStore
from bot.stores.sqlite import SqliteTtlStore
from bot.stores.ttl import TtlStore

WORKER = Path(__file__).with_name("ttl_store_worker.py")
REDIS = pytest.param("redis", marks=pytest.mark.needs_redis)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Harness:
    name: str
    make: Callable[..., TtlStore]
    # Moves the store's time on: a fake clock, or real sleeping for Redis.
    advance: Callable[[float], None]
    spec: dict[str, Any]


def _harness(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    clock = Clock()
    opened: list[TtlStore] = []
    path = tmp_path / "state.sqlite3"

    def make(ttl_seconds: float = 60.0, namespace: str = "test", **options: Any) -> TtlStore:
        store: TtlStore
        if name == "memory":
            store = TtlEventDedupe(ttl_seconds, clock=clock, **options)
        elif name == "sqlite":
            store = SqliteTtlStore(path, namespace, ttl_seconds, clock=clock, **options)
        else:
            url = request.getfixturevalue("redis_url")
            prefix = request.getfixturevalue("redis_prefix")
            store = RedisTtlStore(url, namespace, ttl_seconds, key_prefix=prefix, **options)
        opened.append(store)
        return store

    spec: dict[str, Any] = {"backend": name, "namespace": "test"}
    if name == "sqlite":
        spec["path"] = str(path)
    elif name == "redis":
        spec["url"] = request.getfixturevalue("redis_url")
        spec["prefix"] = request.getfixturevalue("redis_prefix")
    yield Harness(name, make, time.sleep if name == "redis" else clock.advance, spec)
    for store in opened:
        store.close()


@pytest.fixture(params=["memory", "sqlite", REDIS])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    yield from _harness(request.param, request, tmp_path)


@pytest.fixture(params=["sqlite", REDIS])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    """The backends meant to be shared by several processes."""
    yield from _harness(request.param, request, tmp_path)


# --------------------------------------------------------------------------- contract


def test_first_time_is_true_once_per_key(harness: Harness) -> None:
    store = harness.make()
    assert store.first_time("event:Ev1") is True
    assert store.first_time("event:Ev1") is False
    assert store.first_time("event:Ev1") is False
    assert store.first_time("event:Ev2") is True
    assert len(store) == 2


def test_a_key_is_new_again_only_after_its_ttl(harness: Harness) -> None:
    store = harness.make(ttl_seconds=1)
    assert store.first_time("Ev1")
    harness.advance(0.5)
    assert store.first_time("Ev1") is False
    harness.advance(0.7)
    assert store.first_time("Ev1") is True  # expired, so new again
    assert store.first_time("Ev1") is False


def test_remember_replaces_and_recall_reads(harness: Harness) -> None:
    store = harness.make()
    assert store.recall("thread:C1:1.2") is None
    store.remember("thread:C1:1.2", "answered")
    assert store.recall("thread:C1:1.2") == "answered"
    store.remember("thread:C1:1.2", "again")
    assert store.recall("thread:C1:1.2") == "again"
    odd_key, odd_value = "thread:🧵:ü" + "x" * 500, "✓ " * 5000
    store.remember(odd_key, odd_value)
    assert store.recall(odd_key) == odd_value
    # One key space: a remembered key has been seen.
    assert store.first_time("thread:C1:1.2") is False
    assert store.recall("never-set") is None


def test_remember_takes_its_own_ttl(harness: Harness) -> None:
    store = harness.make(ttl_seconds=1)
    store.remember("short", "a")
    store.remember("long", "b", ttl_seconds=5)
    harness.advance(1.2)
    assert store.recall("short") is None
    assert store.recall("long") == "b"
    assert len(store) == 1


def test_nothing_stays_after_the_ttl(harness: Harness) -> None:
    store = harness.make(ttl_seconds=1)
    for i in range(50):
        assert store.first_time(f"Ev{i}")
    assert len(store) == 50
    harness.advance(1.2)
    assert len(store) == 0


def test_threads_claim_each_key_exactly_once(harness: Harness) -> None:
    keys = [f"Ev{i}" for i in range(300)]
    wins = claim_from_threads(harness.make(), keys, threads=8)
    assert sorted(wins) == sorted(keys)


def test_namespaces_do_not_meet(harness: Harness) -> None:
    if harness.name == "memory":
        first, second = harness.make(), harness.make()  # one namespace per instance
    else:
        first, second = harness.make(namespace="dedupe"), harness.make(namespace="threads")
    assert first.first_time("k") and second.first_time("k")
    assert not first.first_time("k") and not second.first_time("k")


@pytest.mark.parametrize("ttl", [0, -1, float("nan")])
def test_nonsense_ttls_are_refused(harness: Harness, ttl: float) -> None:
    with pytest.raises(ValueError):
        harness.make(ttl_seconds=ttl)
    store = harness.make()
    with pytest.raises(ValueError):
        store.remember("k", "v", ttl_seconds=ttl)


def test_processes_claim_each_key_exactly_once(shared: Harness) -> None:
    keys, processes = 400, 4
    spec = json.dumps({**shared.spec, "keys": keys, "threads": 2})
    (results,) = run_in_lockstep([sys.executable, str(WORKER), spec], processes, rounds=1)
    wins = Counter(key for out in results for key in json.loads(out))
    assert len(wins) == keys and set(wins.values()) == {1}
    # The keys the workers claimed are seen by this process too.
    store = shared.make(ttl_seconds=3600)
    assert not store.first_time("key-0") and not store.first_time(f"key-{keys - 1}")
