"""The tamper-evident audit trail: every answer the bot gives, durably, before it is given.

``AuditTrail.record(event, **fields)`` appends one JSON line through a dedicated
structlog logger whose processors scrub secrets, stamp the UTC time, chain the record
(``seq``, ``prev_hash``, ``hash``; see ``bot.audit.chain``) and render canonical JSON;
its "logger" is the active file, which writes, flushes and fsyncs each line. Only
when that returns is the record part of the chain; otherwise ``AuditUnavailable`` is
raised, the trail reports itself unhealthy, and callers must not answer.

One thread lock plus an ``flock`` on ``<audit path>.lock`` keep concurrent writers
(Bolt's listener threads, a CLI ``ask`` next to the server) on one chain.

What the records say (``served``, ``delivered``, …) is in ``bot.audit.records``.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, BinaryIO

import structlog
from structlog import BoundLoggerBase
from structlog.typing import EventDict

from bot import __version__
from bot.audit.chain import GENESIS_HASH, canonical_json, check_event, link, scrub_fields, stamp
from bot.audit.files import (
    InterProcessLock,
    Segment,
    chain_segments,
    fsync_dir,
    move_torn_tail,
    open_append,
    read_tail,
    rotate,
)
from bot.audit.head import ChainedTrail
from bot.redact import Redactor
from bot.settings import Settings
from handlers.deps import AuditUnavailable

_HASH_RE = re.compile(r"[0-9a-f]{64}")
# Below this much free space an unhealthy trail is not declared healthy again.
_MIN_FREE_BYTES = 1024 * 1024

_log = structlog.get_logger("licensebot.audit")


class AuditCorrupt(Exception):
    """The end of the existing trail cannot be read, so the chain cannot be continued."""


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class _AuditLogger(BoundLoggerBase):
    """The structlog wrapper for the trail: one typed method, no log levels."""

    def write(self, event: str, **fields: Any) -> None:
        self._proxy_to_logger("write", event, **fields)


class _LineSink:
    """The structlog "logger" at the end of the pipeline: hands the rendered line on."""

    def __init__(self, append: Callable[[str], None]) -> None:
        self._append = append

    def write(self, line: str) -> None:
        self._append(line)


class AuditTrail(ChainedTrail):
    """Append-only, hash-chained JSON-lines audit file (implements ``handlers.deps.Auditor``)."""

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = 50 * 1024 * 1024,
        bot_version: str = __version__,
        clock: Callable[[], dt.datetime] = _utcnow,
        opener: Callable[[Path], BinaryIO] = open_append,
        secrets: Iterable[str] = (),
    ) -> None:
        """``secrets``: values never to be recorded (``Settings.secret_values``)."""
        super().__init__()
        self.path = Path(path)
        self._redactor = Redactor(secrets)
        self.max_bytes = max_bytes
        self.bot_version = bot_version
        self._clock = clock
        self._opener = opener
        self._flock = InterProcessLock(self.path.with_name(self.path.name + ".lock"))
        self._segment: Segment | None = None
        self._pending: dict[str, Any] | None = None
        self._log = structlog.wrap_logger(
            _LineSink(self._append_line),
            processors=[self._scrub, self._stamp, self._chain, self._render],
            wrapper_class=_AuditLogger,
            context_class=dict,
            cache_logger_on_first_use=False,
        )
        self._check(write_probe=False)

    # -- public API ---------------------------------------------------------------------

    def record(self, event: str, **fields: Any) -> Mapping[str, Any]:
        """Append one record; it is on disk (fsynced) when this returns.

        Raises ``AuditUnavailable`` if it could not be made durable; nothing of it is
        then part of the chain.
        """
        check_event(event, fields)
        with self._lock:
            try:
                with self._flock.held():
                    self._sync_locked()
                    written = self._emit_locked(event, fields)
            except (OSError, AuditCorrupt) as exc:
                self._fail_locked(exc, event)
                raise AuditUnavailable(f"audit trail {self.path} cannot be written: {exc}") from exc
            self._healthy = True
            self._last_error = None
            return MappingProxyType(written)

    def probe(self) -> bool:
        """Readiness check: an unhealthy trail is re-opened and its directory test-written."""
        if self._healthy:
            return True
        return self._check(write_probe=True)

    def close(self) -> None:
        with self._lock:
            self._close_segment()
            self._flock.close()

    # -- structlog processors (run under the trail lock) ----------------------------------

    def _scrub(self, _logger: object, _method: str, event_dict: EventDict) -> EventDict:
        return scrub_fields(event_dict, self._redactor)

    def _stamp(self, _logger: object, _method: str, event_dict: EventDict) -> EventDict:
        return stamp(event_dict, self._clock(), self.bot_version)

    def _chain(self, _logger: object, _method: str, event_dict: EventDict) -> EventDict:
        link(event_dict, self._seq + 1, self._head)
        self._pending = dict(event_dict)
        return event_dict

    def _render(self, _logger: object, _method: str, event_dict: EventDict) -> str:
        return canonical_json(event_dict) + "\n"

    # -- internals (all called with self._lock held) ----------------------------------------

    def _emit_locked(self, event: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        self._pending = None
        self._log.write(event, **fields)
        written = self._pending
        assert written is not None  # set by _chain on the way to the sink
        self._seq = int(written["seq"])
        self._head = str(written["hash"])
        return written

    def _append_line(self, line: str) -> None:
        data = line.encode("ascii")
        segment = self._segment
        if segment is None:
            raise OSError(errno.EBADF, "audit file is not open")
        if segment.size > 0 and segment.size + len(data) > self.max_bytes:
            segment = self._rotate_locked(segment)
        segment.append(data)

    def _rotate_locked(self, segment: Segment) -> Segment:
        segment.close()
        self._segment = None
        rotated_to = rotate(self.path)
        fresh = Segment(self.path, self._opener(self.path))
        fsync_dir(self.path.parent)
        self._segment = fresh
        _log.info("audit.rotated", path=str(self.path), rotated_to=str(rotated_to), seq=self._seq)
        return fresh

    def _sync_locked(self) -> None:
        """Open the active file, recovering a torn tail, unless ours is still current."""
        if self._segment is not None and self._segment.is_current():
            return
        self._close_segment()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tail = read_tail(self.path)
        torn_report: dict[str, Any] | None = None
        if tail.torn:
            aside = move_torn_tail(self.path, tail)
            torn_report = {"moved_to": aside.name, "bytes": len(tail.torn), "after_seq": None}
        last_line = tail.last_line
        if last_line is None:
            earlier = [p for p in chain_segments(self.path) if p != self.path]
            if earlier:
                last_line = read_tail(earlier[-1]).last_line
        self._seq, self._head = self._parse_head(last_line)
        created = not self.path.exists()
        self._segment = Segment(self.path, self._opener(self.path))
        if created:
            fsync_dir(self.path.parent)
        if torn_report is not None:
            torn_report["after_seq"] = self._seq
            _log.warning("audit.torn_line", path=str(self.path), **torn_report)
            self._emit_locked("audit.torn_line", torn_report)

    def _parse_head(self, line: bytes | None) -> tuple[int, str]:
        if line is None:
            return 0, GENESIS_HASH
        try:
            head = json.loads(line)
            seq, digest = head["seq"], head["hash"]
        except (ValueError, TypeError, KeyError) as exc:
            raise AuditCorrupt(
                f"last record of {self.path} is unreadable ({exc}); run `licensebot audit verify`"
            ) from None
        if not (isinstance(seq, int) and isinstance(digest, str) and _HASH_RE.fullmatch(digest)):
            raise AuditCorrupt(f"last record of {self.path} has no valid seq/hash")
        return seq, digest

    def _check(self, *, write_probe: bool) -> bool:
        with self._lock:
            try:
                with self._flock.held():
                    self._sync_locked()
                if write_probe:
                    self._probe_directory()
            except (OSError, AuditCorrupt) as exc:
                self._fail_locked(exc, None)
                return False
            self._healthy = True
            self._last_error = None
            return True

    def _probe_directory(self) -> None:
        probe = self.path.with_name(f".{self.path.name}.probe-{os.getpid()}")
        try:
            with probe.open("wb") as fh:
                fh.write(b"\0" * 4096)
                fh.flush()
                os.fsync(fh.fileno())
        finally:
            probe.unlink(missing_ok=True)
        st = os.statvfs(self.path.parent)
        if st.f_bavail * st.f_frsize < _MIN_FREE_BYTES:
            raise OSError(errno.ENOSPC, "less than 1 MiB free for the audit trail")

    def _fail_locked(self, exc: BaseException, event: str | None) -> None:
        self._close_segment()
        self._healthy = False
        self._last_error = str(exc)
        _log.error("audit.unavailable", path=str(self.path), error=str(exc), failed_event=event)

    def _close_segment(self) -> None:
        if self._segment is not None:
            self._segment.close()
            self._segment = None


def open_trail(settings: Settings, *, bot_version: str = __version__) -> AuditTrail:
    """The trail configured by ``LICENSEBOT_AUDIT_PATH`` / ``LICENSEBOT_DATA_DIR``.

    Never raises for I/O problems: a trail that cannot be opened is unhealthy and
    refuses every record until it can.
    """
    return AuditTrail(
        settings.resolved_audit_path,
        max_bytes=settings.audit_max_bytes,
        bot_version=bot_version,
        secrets=settings.secret_values,
    )
