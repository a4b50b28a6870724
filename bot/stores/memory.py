"""Remembers Slack event ids for a while so a retried event is not answered twice."""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable

from bot.stores.ttl import checked_max_entries, checked_ttl

# The value ``first_time`` stores: a claim only, nothing to recall but its presence.
SEEN = "1"


class TtlEventDedupe:
    """In-process ``bot.stores.ttl.TtlStore``: keys expire ``ttl_seconds`` after they were set.

    Bounded by ``max_entries`` (the key closest to expiry forgotten first, i.e. the
    oldest when every key has the store's TTL) so a flood of distinct ids cannot grow
    memory without limit. Thread-safe. One process only: several workers or replicas
    need the SQLite or Redis store behind the same interface (``bot.stores.choose``).
    """

    def __init__(
        self,
        ttl_seconds: float = 3600.0,
        *,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backend = "memory"
        self.ttl_seconds = checked_ttl(ttl_seconds)
        self.max_entries = checked_max_entries(max_entries)
        self._clock = clock
        self._entries: dict[str, tuple[float, str]] = {}  # key -> (expiry, value)
        # (expiry, tie-break, key); rows whose key was set again since are skipped lazily.
        self._expiries: list[tuple[float, int, str]] = []
        self._order = itertools.count()
        self._lock = threading.Lock()

    def first_time(self, key: str) -> bool:
        now = self._clock()
        with self._lock:
            self._expire(now)
            if key in self._entries:
                return False
            self._put(key, SEEN, now + self.ttl_seconds)
            return True

    def remember(self, key: str, value: str, ttl_seconds: float | None = None) -> None:
        ttl = self.ttl_seconds if ttl_seconds is None else checked_ttl(ttl_seconds)
        now = self._clock()
        with self._lock:
            self._expire(now)
            self._put(key, value, now + ttl)

    def recall(self, key: str) -> str | None:
        now = self._clock()
        with self._lock:
            self._expire(now)
            entry = self._entries.get(key)
            return None if entry is None else entry[1]

    def __len__(self) -> int:
        with self._lock:
            self._expire(self._clock())
            return len(self._entries)

    def close(self) -> None:
        with self._lock:
            self._entries.clear()
            self._expiries.clear()

    def _put(self, key: str, value: str, expiry: float) -> None:
        self._entries[key] = (expiry, value)
        heapq.heappush(self._expiries, (expiry, next(self._order), key))
        while len(self._entries) > self.max_entries:
            self._drop_soonest()
        if len(self._expiries) > 2 * len(self._entries) + 64:
            # Keys set again and again leave stale rows behind; rebuild from the live ones.
            self._expiries = [(exp, next(self._order), k) for k, (exp, _) in self._entries.items()]
            heapq.heapify(self._expiries)

    def _expire(self, now: float) -> None:
        while self._expiries and self._expiries[0][0] <= now:
            self._drop_soonest()

    def _drop_soonest(self) -> None:
        expiry, _, key = heapq.heappop(self._expiries)
        entry = self._entries.get(key)
        if entry is not None and entry[0] == expiry:
            del self._entries[key]
