"""``TtlStore`` in one SQLite file: shared by every worker process on one host.

WAL lets readers and the one writer proceed together; each claim is a single
statement, so two processes racing for a key cannot both win. Expiry uses the wall
clock because it is the one clock every process (and a restarted one) shares.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import structlog

from bot.stores.memory import SEEN
from bot.stores.ttl import checked_max_entries, checked_namespace, checked_ttl
from handlers.deps import StoreUnavailable

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ttl_entries (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (namespace, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ttl_entries_expiry ON ttl_entries (namespace, expires_at);
"""

# INSERT OR IGNORE, except that an expired row counts as absent: one atomic statement.
_CLAIM = """
INSERT INTO ttl_entries (namespace, key, value, expires_at) VALUES (?, ?, ?, ?)
ON CONFLICT (namespace, key) DO UPDATE
    SET value = excluded.value, expires_at = excluded.expires_at
    WHERE ttl_entries.expires_at <= ?
"""
_SET = """
INSERT INTO ttl_entries (namespace, key, value, expires_at) VALUES (?, ?, ?, ?)
ON CONFLICT (namespace, key) DO UPDATE
    SET value = excluded.value, expires_at = excluded.expires_at
"""
_GET = "SELECT value FROM ttl_entries WHERE namespace = ? AND key = ? AND expires_at > ?"
_COUNT = "SELECT count(*) FROM ttl_entries WHERE namespace = ? AND expires_at > ?"
_PURGE_EXPIRED = "DELETE FROM ttl_entries WHERE namespace = ? AND expires_at <= ?"
# Over the cap, the rows closest to expiry go first (max(0, …): a negative LIMIT means none).
_PURGE_OVERFLOW = """
DELETE FROM ttl_entries WHERE namespace = ?1 AND key IN (
    SELECT key FROM ttl_entries WHERE namespace = ?1 ORDER BY expires_at
    LIMIT max(0, (SELECT count(*) FROM ttl_entries WHERE namespace = ?1) - ?2)
)
"""

_T = TypeVar("_T")

log = structlog.get_logger("licensebot.store")

DEFAULT_PURGE_EVERY = 256
# Another process's write takes well under a millisecond; waiting longer means trouble.
BUSY_TIMEOUT_S = 1.0


class SqliteTtlStore:
    """Rows expire ``ttl_seconds`` after they were set; at most about ``max_entries`` stay.

    Expired rows are deleted, and the table trimmed to ``max_entries``, on the first
    write and then every ``purge_every`` writes of this process, so the file stays
    bounded by ``max_entries`` plus ``purge_every`` writes per process. The database
    is opened on first use; any SQLite error (locked past the busy timeout, disk full,
    unreadable file) raises ``StoreUnavailable``.
    """

    def __init__(
        self,
        path: Path,
        namespace: str,
        ttl_seconds: float = 3600.0,
        *,
        max_entries: int = 100_000,
        purge_every: int = DEFAULT_PURGE_EVERY,
        busy_timeout_s: float = BUSY_TIMEOUT_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.busy_timeout_s = busy_timeout_s
        self.namespace = checked_namespace(namespace)
        self.ttl_seconds = checked_ttl(ttl_seconds)
        self.max_entries = checked_max_entries(max_entries)
        if purge_every < 1:
            raise ValueError("purge_every must be at least 1")
        self.purge_every = purge_every
        self._clock = clock
        self._db: sqlite3.Connection | None = None
        self._writes = 0
        self._lock = threading.Lock()

    @property
    def backend(self) -> str:
        return f"sqlite:{self.path}"

    def first_time(self, key: str) -> bool:
        now = self._clock()
        with self._session() as db:
            claimed = db.execute(
                _CLAIM, (self.namespace, key, SEEN, now + self.ttl_seconds, now)
            ).rowcount
            self._after_write(db, now)
        return claimed == 1

    def remember(self, key: str, value: str, ttl_seconds: float | None = None) -> None:
        ttl = self.ttl_seconds if ttl_seconds is None else checked_ttl(ttl_seconds)
        now = self._clock()
        with self._session() as db:
            db.execute(_SET, (self.namespace, key, value, now + ttl))
            self._after_write(db, now)

    def recall(self, key: str) -> str | None:
        with self._session() as db:
            row = db.execute(_GET, (self.namespace, key, self._clock())).fetchone()
        return None if row is None else str(row[0])

    def __len__(self) -> int:
        with self._session() as db:
            return int(db.execute(_COUNT, (self.namespace, self._clock())).fetchone()[0])

    def rows(self) -> int:
        """Rows of this namespace on disk, expired ones included (what the bound is about)."""
        with self._session() as db:
            query = "SELECT count(*) FROM ttl_entries WHERE namespace = ?"
            return int(db.execute(query, (self.namespace,)).fetchone()[0])

    def purge(self) -> None:
        with self._session() as db:
            self._purge(db, self._clock())

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    @contextmanager
    def _session(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._connection()
            except (sqlite3.Error, OSError) as exc:
                raise StoreUnavailable(f"SQLite store {self.path}: {exc}") from exc

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = retry_while_busy(self._open, self.busy_timeout_s)
        return self._db

    def _open(self) -> sqlite3.Connection:
        # Autocommit (isolation_level=None): each statement is its own transaction
        # unless a BEGIN says otherwise.
        db = sqlite3.connect(
            self.path,
            timeout=self.busy_timeout_s,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            db.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL survives a process crash; only a power loss can drop
            # the last claims, and then the process that made them is gone too.
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
        except BaseException:
            db.close()
            raise
        return db

    def _after_write(self, db: sqlite3.Connection, now: float) -> None:
        due = self._writes % self.purge_every == 0
        self._writes += 1
        if not due:
            return
        try:
            self._purge(db, now)
        except sqlite3.Error as exc:
            # The write itself has landed: failing the call now would make the caller
            # treat a claimed key as unclaimed. The next write tries again.
            self._writes = 0
            log.warning("store.purge_failed", backend=self.backend, error=str(exc))

    def _purge(self, db: sqlite3.Connection, now: float) -> None:
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(_PURGE_EXPIRED, (self.namespace, now))
            db.execute(_PURGE_OVERFLOW, (self.namespace, self.max_entries))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


def is_busy(exc: sqlite3.OperationalError) -> bool:
    message = str(exc)
    return "locked" in message or "busy" in message


def retry_while_busy(action: Callable[[], _T], timeout_s: float) -> _T:
    """``action()``, retried briefly while SQLite says the file is busy.

    Switching a new file to WAL and creating its schema take locks that SQLite reports
    as busy at once, without calling its busy handler, when other processes open the
    same new file together; those races last microseconds, so a short retry ends them.
    """
    deadline = time.monotonic() + timeout_s
    pause = 0.001
    while True:
        try:
            return action()
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
