"""Latency of the event dedupe claim (``first_time``) per backend on this machine.

For each store (in-process, SQLite in a temporary directory, the Redis at
``--redis-url``) it claims ``--n`` new keys and then asks about the same keys again
(duplicates), from one thread and from 8 threads at once, and reports the median and
p95 of each call. Redis keys go under a fresh ``licensebot-bench:<id>:`` prefix that is
deleted afterwards. Bounded: 2 × n calls per backend and mode.

    .venv/bin/python scripts/bench_dedupe.py [--n 5000] [--redis-url redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import redis

from bot.stores.memory import TtlEventDedupe
from bot.stores.redis import RedisTtlStore
from bot.stores.sqlite import SqliteTtlStore
from bot.stores.ttl import TtlStore

THREADS = 8


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed_calls(store: TtlStore, keys: list[str], threads: int) -> tuple[list[float], int]:
    """Latency of each ``first_time`` call, in ms, and how many returned True."""
    latencies: list[float] = []
    wins = 0
    lock = threading.Lock()
    chunks = [keys[i::threads] for i in range(threads)]

    def run(chunk: list[str]) -> None:
        nonlocal wins
        mine: list[float] = []
        won = 0
        for key in chunk:
            started = time.perf_counter()
            won += store.first_time(key)
            mine.append((time.perf_counter() - started) * 1000)
        with lock:
            latencies.extend(mine)
            wins += won

    workers = [threading.Thread(target=run, args=(chunk,)) for chunk in chunks]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return latencies, wins


def bench(name: str, make: Callable[[], TtlStore], n: int) -> None:
    for threads in (1, THREADS):
        store = make()
        keys = [f"event:Ev{uuid.uuid4().hex}" for _ in range(n)]
        for label, expected in (("new", n), ("duplicate", 0)):
            latencies, wins = timed_calls(store, keys, threads)
            assert wins == expected, f"{name}: {wins} claims, expected {expected}"
            print(
                f"| {name} | {threads} | {label} | {statistics.median(latencies):.3f} "
                f"| {pct(latencies, 0.95):.3f} | {max(latencies):.2f} |"
            )
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("LICENSEBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
    )
    args = parser.parse_args()
    print(f"machine: {platform.node()}, {os.cpu_count()} cores, {platform.python_version()}")
    print(f"{args.n} calls per row; latency of one first_time call in ms\n")
    print("| backend | threads | keys | median | p95 | max |")
    print("| --- | --- | --- | --- | --- | --- |")
    bench("memory", lambda: TtlEventDedupe(3600), args.n)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "state.sqlite3"
        bench("sqlite", lambda: SqliteTtlStore(path, "dedupe", 3600), args.n)
    prefix = f"licensebot-bench:{uuid.uuid4().hex[:12]}:"
    try:
        bench(
            "redis",
            lambda: RedisTtlStore(args.redis_url, "dedupe", 3600, key_prefix=prefix),
            args.n,
        )
    finally:
        client = redis.Redis.from_url(args.redis_url)
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
        client.close()


if __name__ == "__main__":
    main()
