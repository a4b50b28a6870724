"""Which ``TtlStore`` backs the Slack event dedupe, from the settings and the worker count."""

from __future__ import annotations

import structlog

from bot.settings import Settings
from bot.stores.memory import TtlEventDedupe
from bot.stores.redis import RedisTtlStore
from bot.stores.sqlite import SqliteTtlStore
from bot.stores.ttl import TtlStore

DEDUPE_NAMESPACE = "dedupe"
# Under LICENSEBOT_DATA_DIR; one file for every namespace on this host.
SQLITE_FILE = "state.sqlite3"

log = structlog.get_logger("licensebot.store")


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
        store = RedisTtlStore(
            settings.redis_url.get_secret_value(),
            DEDUPE_NAMESPACE,
            ttl,
            key_prefix=settings.redis_key_prefix,
        )
    elif workers > 1:
        store = SqliteTtlStore(settings.data_dir / SQLITE_FILE, DEDUPE_NAMESPACE, ttl)
    else:
        store = TtlEventDedupe(ttl)
    log.info("dedupe.store", backend=store.backend, workers=workers, ttl_seconds=ttl)
    return store
