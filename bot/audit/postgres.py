"""The audit trail as one hash-chained PostgreSQL table, shared by every process and replica.

The records are the file trail's (``bot.audit``): refused, scrubbed, stamped, linked and
rendered in canonical JSON by the same functions, and each row keeps that exact line in
``record`` (text, not jsonb, which would reorder keys and so change the bytes that were
hashed). ``seq``, ``ts``, ``event``, ``prev_hash`` and ``hash`` are copies for indexing;
``audit verify`` checks that they agree with the line.

An append is one transaction: a transaction-scoped advisory lock queues every writer
(threads, worker processes, replicas on other hosts) on one chain; the head is read
after the lock is held, the next row inserted, and the record counts only once COMMIT
has returned, with ``synchronous_commit`` forced on for the session so COMMIT means
"flushed to the server's WAL", exactly as the file trail fsyncs before answering. Any
failure raises ``AuditUnavailable`` and marks the trail unhealthy, so callers withhold
the answer. The primary key on ``seq`` is the backstop: two rows can never claim one
place in the chain, even from a writer that skipped the lock.

The table (``licensebot_audit`` in the first schema of the connection's search_path)
is created on first use, under the same lock, so replicas starting together create it
once. Ordinary UPDATE, DELETE and TRUNCATE are refused by a trigger; an owner who
disables it can still edit rows, which is what ``audit verify`` is for.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass
from types import MappingProxyType
from typing import IO, Any

import structlog
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from bot import __version__
from bot.audit.chain import GENESIS_HASH, canonical_json, check_event, link, scrub_fields, stamp
from bot.audit.head import ChainedTrail
from bot.audit.verify import BadRecord, ChainChecker, VerifyResult
from bot.redact import Redactor
from bot.settings import DATABASE_SCHEMES
from handlers.deps import AuditUnavailable

TABLE = "licensebot_audit"
# A stuck writer (a paused process holding the lock, a hung server) must not stall every
# replica's answers forever: its statement or idle transaction is cut off after this.
WRITER_TIMEOUT_MS = 10_000
CONNECT_TIMEOUT_S = 5
# Rows fetched per round trip when reading the whole trail.
_BATCH = 1000

_LOCK = text(
    "SELECT pg_advisory_xact_lock(hashtextextended(coalesce(current_schema(), '') || :name, 0))"
).bindparams(name="." + TABLE)
_EXISTS = text("SELECT to_regclass(:name) IS NOT NULL").bindparams(name=TABLE)
_HEAD = text(f"SELECT seq, hash FROM {TABLE} ORDER BY seq DESC LIMIT 1")  # noqa: S608
_INSERT = text(
    f"INSERT INTO {TABLE} (seq, ts, event, prev_hash, hash, record) "  # noqa: S608
    "VALUES (:seq, :ts, :event, :prev_hash, :hash, :record)"
)
_ROWS = text(
    f"SELECT seq, prev_hash, hash, record FROM {TABLE} ORDER BY seq"  # noqa: S608
)
_ONE = text(f"SELECT record FROM {TABLE} WHERE seq = :seq")  # noqa: S608
_DDL = (
    f"""CREATE TABLE {TABLE} (
        seq bigint PRIMARY KEY CHECK (seq > 0),
        ts timestamptz NOT NULL,
        event text NOT NULL,
        prev_hash text NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{{64}}$'),
        hash text NOT NULL UNIQUE CHECK (hash ~ '^[0-9a-f]{{64}}$'),
        record text NOT NULL
    )""",
    f"CREATE INDEX {TABLE}_ts ON {TABLE} (ts)",
    f"""CREATE OR REPLACE FUNCTION {TABLE}_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'the audit trail is append-only (% refused)', TG_OP;
        END $$""",
    f"""CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE}
        FOR EACH ROW EXECUTE FUNCTION {TABLE}_append_only()""",
    f"""CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE}
        FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_append_only()""",
)

_log = structlog.get_logger("licensebot.audit")


class DatabaseUnreadable(OSError):
    """The audit database cannot be reached or read: an I/O error, as for a file."""


def driver_url(url: str) -> str:
    """``url`` for SQLAlchemy with psycopg 3, whichever PostgreSQL scheme it was given in."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in DATABASE_SCHEMES:
        raise ValueError("not a PostgreSQL URL (postgresql://user@host:5432/dbname)")
    return "postgresql+psycopg://" + rest


def display_url(url: str) -> str:
    """``url`` without its password, for logs and messages."""
    try:
        return make_url(driver_url(url)).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "(unparseable database URL)"


def _describe(exc: BaseException) -> str:
    """The driver's first line, not SQLAlchemy's statement dump and help link."""
    orig = getattr(exc, "orig", None)
    lines = str(orig if orig is not None else exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _writer_session(dbapi_connection: Any, _record: object) -> None:
    """Session settings every writer connection gets once, on connect."""
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    with dbapi_connection.cursor() as cur:
        # Durable COMMIT even where the server's default was turned off.
        cur.execute("SET synchronous_commit = on")
        cur.execute(f"SET statement_timeout = {WRITER_TIMEOUT_MS}")
        cur.execute(f"SET idle_in_transaction_session_timeout = {WRITER_TIMEOUT_MS}")
        cur.execute("SET application_name = 'licensebot'")
    dbapi_connection.autocommit = autocommit


# A server that vanished (host down, network cut) is noticed within seconds instead of
# TCP's minutes: unanswered keepalives and unacknowledged writes end the connection.
_WRITER_CONNECT_ARGS = {
    "connect_timeout": CONNECT_TIMEOUT_S,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": WRITER_TIMEOUT_MS,
}


def writer_engine(url: str) -> Engine:
    engine = create_engine(
        driver_url(url),
        pool_size=2,
        max_overflow=2,
        pool_pre_ping=True,
        connect_args=_WRITER_CONNECT_ARGS,
    )
    event.listen(engine, "connect", _writer_session)
    return engine


def reader_engine(url: str) -> Engine:
    return create_engine(
        driver_url(url), poolclass=NullPool, connect_args={"connect_timeout": CONNECT_TIMEOUT_S}
    )


def _ensure_table(conn: Connection) -> None:
    """Create the table unless it exists; the caller holds the append lock."""
    if not conn.execute(_EXISTS).scalar_one():
        for statement in _DDL:
            conn.execute(text(statement))
        _log.info("audit.table_created", table=TABLE)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class PostgresTrail(ChainedTrail):
    """Append-only, hash-chained audit table (implements ``handlers.deps.Auditor``)."""

    def __init__(
        self,
        url: str,
        *,
        bot_version: str = __version__,
        clock: Callable[[], dt.datetime] = _utcnow,
        secrets: Iterable[str] = (),
    ) -> None:
        """``secrets``: values never to be recorded (``Settings.secret_values``)."""
        super().__init__()
        self.where = display_url(url)
        self._redactor = Redactor(secrets)
        self.bot_version = bot_version
        self._clock = clock
        self._engine = writer_engine(url)
        self._pid = os.getpid()
        self._table_ready = False
        self.probe()

    # -- public API (as the file trail's) -----------------------------------------------

    def record(self, event: str, **fields: Any) -> Mapping[str, Any]:
        """Append one record; it is committed when this returns.

        Raises ``AuditUnavailable`` if it could not be committed; nothing of it is then
        part of the chain.
        """
        check_event(event, fields)
        with self._lock:
            try:
                with self._transaction() as conn:
                    seq, prev = self._read_head(conn)
                    moment = self._clock()
                    rec = link(
                        stamp(
                            scrub_fields({**fields, "event": event}, self._redactor),
                            moment,
                            self.bot_version,
                        ),
                        seq + 1,
                        prev,
                    )
                    conn.execute(
                        _INSERT,
                        {
                            "seq": rec["seq"],
                            "ts": moment,
                            "event": event,
                            "prev_hash": prev,
                            "hash": rec["hash"],
                            "record": canonical_json(rec),
                        },
                    )
            except SQLAlchemyError as exc:
                self._fail(exc, event)
                raise AuditUnavailable(
                    f"audit database {self.where} cannot be written: {_describe(exc)}"
                ) from exc
            self._seq, self._head = int(rec["seq"]), str(rec["hash"])
            self._healthy = True
            self._last_error = None
            return MappingProxyType(rec)

    def probe(self) -> bool:
        """Readiness check: the server answers and the table is there (created if not).

        Unlike the file trail's, this asks the server every time: a replica that lost
        its database must leave the load balancer before an answer finds out.
        """
        try:
            with self._transaction(lock=not self._table_ready) as conn:
                seq, digest = self._read_head(conn)
        except SQLAlchemyError as exc:
            self._fail(exc, None)
            return False
        with self._lock:
            self._seq, self._head = seq, digest
        self._healthy = True
        self._last_error = None
        return True

    def close(self) -> None:
        self._engine.dispose()

    # -- internals -------------------------------------------------------------------------

    @contextmanager
    def _transaction(self, *, lock: bool = True) -> Iterator[Connection]:
        """One transaction (holding the append lock); committed when the block ends."""
        if self._pid != os.getpid():
            # A forked child must not share its parent's connections.
            self._engine.dispose(close=False)
            self._pid = os.getpid()
        with self._engine.begin() as conn:
            if lock:
                conn.execute(_LOCK)
            if not self._table_ready:
                _ensure_table(conn)
            yield conn
        self._table_ready = True

    def _read_head(self, conn: Connection) -> tuple[int, str]:
        row = conn.execute(_HEAD).first()
        return (0, GENESIS_HASH) if row is None else (int(row.seq), str(row.hash))

    def _fail(self, exc: BaseException, event: str | None) -> None:
        # Look for the table again next time, as a restarted process would.
        self._table_ready = False
        self._healthy = False
        self._last_error = _describe(exc)
        _log.error(
            "audit.unavailable", database=self.where, error=self._last_error, failed_event=event
        )


# -- reading the table back: verify, show, replay, export ----------------------------------


@dataclass(frozen=True)
class Row:
    seq: int
    prev_hash: str
    hash: str
    record: str


@contextmanager
def _snapshot(url: str) -> Iterator[Connection]:
    """A read-only, repeatable-read transaction: one consistent view while appends go on."""
    engine = reader_engine(url)
    try:
        with engine.connect() as plain:
            conn = plain.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
            with conn.begin():
                if not conn.execute(_EXISTS).scalar_one():
                    raise DatabaseUnreadable(
                        f"no audit table {TABLE} in {display_url(url)} (nothing recorded yet?)"
                    )
                yield conn
    except SQLAlchemyError as exc:
        raise DatabaseUnreadable(f"cannot read {display_url(url)}: {_describe(exc)}") from exc
    finally:
        engine.dispose()


def rows(url: str) -> Generator[Row]:
    """Every row in chain order, streamed from one snapshot."""
    with (
        _snapshot(url) as conn,
        conn.execution_options(stream_results=True, yield_per=_BATCH).execute(_ROWS) as result,
    ):
        for seq, prev_hash, digest, record in result:
            yield Row(int(seq), str(prev_hash), str(digest), str(record))


def line(row: Row) -> bytes:
    """The row as the file trail stores it: its record and a newline."""
    # Not ASCII-only means edited; the verifier says so, and an export keeps the evidence.
    return row.record.encode("utf-8") + b"\n"


def _columns_disagree(row: Row, rec: Mapping[str, Any]) -> bool:
    return (row.seq, row.prev_hash, row.hash) != (rec.get("seq"), rec["prev_hash"], rec["hash"])


def check_rows(
    source: Generator[Row], checker: ChainChecker, *, each: Callable[[bytes], object] | None = None
) -> VerifyResult:
    """Feed ``source`` to ``checker`` (``each`` gets every line, e.g. to export it)."""
    with closing(source):
        return _check_rows(source, checker, each)


def _check_rows(
    source: Iterator[Row], checker: ChainChecker, each: Callable[[bytes], object] | None
) -> VerifyResult:
    for number, row in enumerate(source, start=1):
        raw = line(row)
        if each is not None:
            each(raw)
        if checker.bad is not None:
            continue  # exporting goes on past a bad record; judging does not
        rec = checker.feed(TABLE, number, raw)
        if rec is not None and _columns_disagree(row, rec):
            checker.fail(
                BadRecord(TABLE, number, row.seq, "row's seq/prev_hash/hash columns differ from it")
            )
        if checker.bad is not None and each is None:
            break
    return checker.result(TABLE)


def verify_database(url: str, *, anchors: Mapping[int, str] | None = None) -> VerifyResult:
    """Verify the table as the file verifier does a file (raises ``DatabaseUnreadable``)."""
    return check_rows(rows(url), ChainChecker(anchors=anchors))


def read_records(url: str) -> Iterator[dict[str, Any]]:
    """Every parseable record in chain order (for show; verify is what judges)."""
    for row in rows(url):
        try:
            rec = json.loads(row.record)
        except ValueError:
            continue
        if isinstance(rec, dict):
            yield rec


def find_record(url: str, seq: int) -> dict[str, Any] | None:
    with _snapshot(url) as conn:
        record = conn.execute(_ONE, {"seq": seq}).scalar_one_or_none()
    if record is None:
        return None
    rec = json.loads(record)
    return rec if isinstance(rec, dict) else None


def export(url: str, out: IO[bytes]) -> VerifyResult:
    """Write every row's line to ``out`` in chain order; the chain's verdict comes back."""
    return check_rows(rows(url), ChainChecker(), each=out.write)
