"""One process racing others for the same keys: ``python ttl_store_worker.py SPEC``.

SPEC is JSON: {"backend": "sqlite"|"redis", "path" or "url", "namespace", "prefix",
"keys": N, "threads": T}. Prints ``ready``, waits for a line on stdin, then claims
``key-0`` … ``key-N-1`` from T threads and prints the keys it won as one JSON list.

With "fresh_paths": [P, …] and "namespaces": [NS, …] instead, for each new SQLite file P
in turn: prints ``ready``, waits for a line, opens one store per namespace on P (as a
worker opens its dedupe and conversation stores) and claims one key in each, then prints
the errors it met as one JSON list.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from bot.stores.redis import RedisTtlStore
from bot.stores.sqlite import SqliteTtlStore
from bot.stores.ttl import TtlStore


def open_store(spec: dict[str, object]) -> TtlStore:
    namespace = str(spec["namespace"])
    if spec["backend"] == "sqlite":
        return SqliteTtlStore(Path(str(spec["path"])), namespace, 3600)
    return RedisTtlStore(str(spec["url"]), namespace, 3600, key_prefix=str(spec["prefix"]))


def claim_from_threads(
    store: TtlStore,
    keys: list[str],
    threads: int,
    before_start: Callable[[], None] = lambda: None,
) -> list[str]:
    """Claim every key from ``threads`` threads at once; the keys this process won.

    Each thread walks the keys from its own starting point, so threads collide too.
    """
    won: list[str] = []
    lock = threading.Lock()

    def claim(offset: int) -> None:
        for i in range(len(keys)):
            key = keys[(i + offset) % len(keys)]
            if store.first_time(key):
                with lock:
                    won.append(key)

    workers = [threading.Thread(target=claim, args=(n * 37,)) for n in range(threads)]
    before_start()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return won


def open_fresh_files(spec: dict[str, object]) -> None:
    paths = [str(path) for path in spec["fresh_paths"]]  # type: ignore[attr-defined]
    namespaces = [str(ns) for ns in spec["namespaces"]]  # type: ignore[attr-defined]
    for path in paths:
        print("ready", flush=True)
        sys.stdin.readline()
        errors: list[str] = []
        stores = [SqliteTtlStore(Path(path), namespace, 3600) for namespace in namespaces]
        for store in stores:
            try:
                store.first_time("key")
            except Exception as exc:  # the test wants every failure, whatever its kind
                errors.append(repr(exc))
            store.close()
        print(json.dumps(errors), flush=True)


def main() -> None:
    spec = json.loads(sys.argv[1])
    if "fresh_paths" in spec:
        open_fresh_files(spec)
        return
    store = open_store(spec)
    keys = [f"key-{i}" for i in range(int(spec["keys"]))]

    def handshake() -> None:
        print("ready", flush=True)
        sys.stdin.readline()

    won = claim_from_threads(store, keys, int(spec["threads"]), handshake)
    store.close()
    print(json.dumps(won), flush=True)


if __name__ == "__main__":
    main()
