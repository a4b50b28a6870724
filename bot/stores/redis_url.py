"""Validation of ``LICENSEBOT_REDIS_URL`` at startup, by the client's own URL parser."""

from __future__ import annotations

from redis.connection import parse_url


def check_redis_url(url: str) -> None:
    """Raise ValueError (with a message free of credentials) unless redis-py accepts ``url``."""
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("must be a redis://, rediss:// or unix:// URL")
    try:
        parse_url(url)  # type: ignore[no-untyped-call]
    except ValueError as exc:
        raise ValueError(str(exc)) from None
