"""The one interface of the key-value stores with expiry (in-process, SQLite, Redis).

Slack event dedupe uses ``first_time``; a registry of remembered values (e.g. threads
the bot answered in) uses ``remember``/``recall`` on the same backends. Each store is
bound to a namespace, so several uses can share one SQLite file or one Redis.
"""

from __future__ import annotations

import re
from typing import Protocol

from handlers.deps import EventDedupe

# Keeps Redis key names and SQLite namespaces readable and free of glob characters.
_NAMESPACE = re.compile(r"[a-z][a-z0-9_-]{0,39}")


class TtlStore(EventDedupe, Protocol):
    """Keys expire ``ttl_seconds`` after they were set, unless a call gives its own TTL.

    Every method raises ``handlers.deps.StoreUnavailable`` when the backend cannot
    answer; none of them ever guesses.
    """

    ttl_seconds: float

    @property
    def backend(self) -> str:
        """Where the keys live, for logs and errors (never credentials)."""
        ...

    def remember(self, key: str, value: str, ttl_seconds: float | None = None) -> None:
        """Set ``key`` to ``value`` (replacing any value) for ``ttl_seconds``."""
        ...

    def recall(self, key: str) -> str | None:
        """The value of ``key``, or None when it was never set or has expired."""
        ...

    def __len__(self) -> int:
        """Keys of this namespace not yet expired (a scan on Redis: for checks, not hot paths)."""
        ...

    def close(self) -> None: ...


def checked_ttl(ttl_seconds: float) -> float:
    if not ttl_seconds > 0:
        raise ValueError("ttl_seconds must be positive")
    return float(ttl_seconds)


def checked_max_entries(max_entries: int) -> int:
    if max_entries < 1:
        raise ValueError("max_entries must be at least 1")
    return max_entries


def checked_namespace(namespace: str) -> str:
    if not _NAMESPACE.fullmatch(namespace):
        raise ValueError(f"namespace must match {_NAMESPACE.pattern}: {namespace!r}")
    return namespace
