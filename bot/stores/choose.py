"""Which ``TtlStore`` backs the Slack event dedupe and the conversations the bot is in,
from the settings (and, for the dedupe, the worker count)."""

from __future__ import annotations

import structlog

from bot.settings import Settings
from bot.stores.memory import TtlEventDedupe
from bot.stores.redis import RedisTtlStore
from bot.stores.sqlite import SqliteTtlStore
from bot.stores.ttl import TtlStore

DEDUPE_NAMESPACE = "dedupe"
CONVERSATIONS_NAMESPACE = "conversations"
DAY_SECONDS = 86_400.0
# Under LICENSEBOT_DATA_DIR; one file for every namespace on this host.
SQLITE_FILE = "state.sqlite3"

log = structlog.get_logger("licensebot.store")


def _redis(settings: Settings, namespace: str, ttl: float) -> RedisTtlStore:
    assert settings.redis_url is not None
    return RedisTtlStore(
        settings.redis_url.get_secret_value(), namespace, ttl, key_prefix=settings.redis_key_prefix
    )


def dedupe_store(settings: Settings, workers: int = 1) -> TtlStore:
    """Redis when ``LICENSEBOT_REDIS_URL`` is set (every worker and replica shares it);
    otherwise SQLite under the data directory when ``workers`` processes on this host
    must agree; otherwise in-process memory.

    Nothing is connected or opened here: a store that is down when the bot starts
    fails the requests that need it, not the start.
    """
    if workers < 1:
        raise ValueError("workers must be at least 1")
    ttl = settings.dedupe_ttl_seconds
    store: TtlStore
    if settings.redis_url is not None:
        store = _redis(settings, DEDUPE_NAMESPACE, ttl)
    elif workers > 1:
        store = SqliteTtlStore(settings.data_dir / SQLITE_FILE, DEDUPE_NAMESPACE, ttl)
    else:
        store = TtlEventDedupe(ttl)
    log.info("dedupe.store", backend=store.backend, workers=workers, ttl_seconds=ttl)
    return store


def conversation_store(settings: Settings) -> TtlStore:
    """Redis when ``LICENSEBOT_REDIS_URL`` is set, else SQLite under the data directory —
    never memory: which threads the bot answered in must survive a restart and be the
    same for every worker process. Entries expire ``LICENSEBOT_THREAD_TTL_DAYS`` after
    their last write."""
    ttl = settings.thread_ttl_days * DAY_SECONDS
    store: TtlStore
    if settings.redis_url is not None:
        store = _redis(settings, CONVERSATIONS_NAMESPACE, ttl)
    else:
        store = SqliteTtlStore(settings.data_dir / SQLITE_FILE, CONVERSATIONS_NAMESPACE, ttl)
    log.info("conversations.store", backend=store.backend, ttl_days=settings.thread_ttl_days)
    return store
