"""``TtlStore`` in Redis: one store for every worker and replica of the bot.

A claim is ``SET key token NX EX ttl``. Keys are ``<prefix><namespace>:<key>``, so
several bots (or uses) can share one Redis without meeting.

Failure policy: any Redis error raises ``StoreUnavailable`` and nothing is guessed.
The client waits at most about 1.6 s in all (3 tries of 0.5 s), well inside Slack's
3 s, so the caller can still answer Slack with a non-2xx and have the event retried.
"""

from __future__ import annotations

import math
import re
import uuid
from typing import Any

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from bot.stores.ttl import checked_namespace, checked_ttl
from handlers.deps import StoreUnavailable

SOCKET_TIMEOUT_S = 0.5
RETRIES = 2


def client_options() -> dict[str, Any]:
    """Defaults for ``redis.Redis.from_url``; query parameters in the URL override them
    (e.g. ``?socket_timeout=1``). redis-py's own default would wait 5 s per try and
    retry ten times, far past the 3 s Slack gives an event."""
    return {
        "socket_timeout": SOCKET_TIMEOUT_S,
        "socket_connect_timeout": SOCKET_TIMEOUT_S,
        "retry": Retry(ExponentialBackoff(cap=0.05, base=0.01), RETRIES),
        "decode_responses": True,
    }


class RedisTtlStore:
    """Keys expire ``ttl_seconds`` after they were set (Redis counts whole seconds)."""

    def __init__(
        self,
        url: str,
        namespace: str,
        ttl_seconds: float = 3600.0,
        *,
        key_prefix: str = "licensebot:",
    ) -> None:
        self.ttl_seconds = checked_ttl(ttl_seconds)
        self.prefix = f"{key_prefix}{checked_namespace(namespace)}:"
        self._redis: redis.Redis = redis.Redis.from_url(url, **client_options())
        kwargs = self._redis.connection_pool.connection_kwargs
        where = kwargs.get("path") or f"{kwargs.get('host')}:{kwargs.get('port')}"
        # No credentials: this is what logs and errors show.
        self.backend = f"redis:{where}/{kwargs.get('db', 0)}"

    def first_time(self, key: str) -> bool:
        name = self.prefix + key
        token = uuid.uuid4().hex
        try:
            if self._redis.set(name, token, nx=True, ex=_seconds(self.ttl_seconds)):
                return True
            # redis-py resends a command whose reply was lost. If the first SET landed,
            # the key holds this call's own token, and this call is still the first.
            return bool(self._redis.get(name) == token)
        except redis.RedisError as exc:
            raise self._unavailable(exc) from exc

    def remember(self, key: str, value: str, ttl_seconds: float | None = None) -> None:
        ttl = self.ttl_seconds if ttl_seconds is None else checked_ttl(ttl_seconds)
        try:
            self._redis.set(self.prefix + key, value, ex=_seconds(ttl))
        except redis.RedisError as exc:
            raise self._unavailable(exc) from exc

    def recall(self, key: str) -> str | None:
        try:
            value = self._redis.get(self.prefix + key)
        except redis.RedisError as exc:
            raise self._unavailable(exc) from exc
        return None if value is None else str(value)

    def __len__(self) -> int:
        pattern = re.sub(r"([*?\[\]\\])", r"\\\1", self.prefix) + "*"
        try:
            return sum(1 for _ in self._redis.scan_iter(match=pattern, count=1000))
        except redis.RedisError as exc:
            raise self._unavailable(exc) from exc

    def close(self) -> None:
        self._redis.close()

    def _unavailable(self, exc: redis.RedisError) -> StoreUnavailable:
        return StoreUnavailable(f"Redis store {self.backend}: {type(exc).__name__}: {exc}")


def _seconds(ttl: float) -> int:
    return max(1, math.ceil(ttl))
