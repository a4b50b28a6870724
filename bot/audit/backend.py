"""Where the audit trail lives: the file trail (default) or the PostgreSQL table.

``open_audit_trail(settings)`` gives the trail this process writes, and a
``TrailSource`` the one a ``licensebot audit`` command reads; both follow
``LICENSEBOT_DATABASE_URL`` unless told otherwise, so every surface and every command
agree on one chain.

``bot.audit.postgres`` is imported only where a database is used: SQLAlchemy adds about
0.2 s to the start of every command, which a file-trail user should not pay.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Protocol, Self

from bot import __version__
from bot.audit.files import fsync_dir
from bot.audit.trail import open_trail
from bot.audit.verify import VerifyResult, read_records, trail_files, verify_trail
from bot.settings import Settings
from handlers.deps import Auditor


class Trail(Auditor, Protocol):
    """What the composition root needs from either trail, beyond the ``Auditor`` port."""

    def probe(self) -> bool: ...

    @property
    def healthy(self) -> bool: ...

    @property
    def last_error(self) -> str | None: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


def open_audit_trail(settings: Settings, *, bot_version: str = __version__) -> Trail:
    """The trail answers go to. Never raises for I/O or database problems: such a trail
    is unhealthy and refuses every record until it can write again."""
    if settings.database_url is not None:
        from bot.audit.postgres import PostgresTrail  # noqa: PLC0415  (see the module doc)

        return PostgresTrail(
            settings.database_url.get_secret_value(),
            bot_version=bot_version,
            secrets=settings.secret_values,
        )
    return open_trail(settings, bot_version=bot_version)


def trail_location(settings: Settings) -> str:
    """The configured trail, for logs: a file path or a password-free database URL."""
    return source_for(settings).describe()


@dataclass(frozen=True)
class TrailSource:
    """The trail a command reads: an audit file (with its rotated segments) or the table.

    Reading a database raises ``bot.audit.postgres.DatabaseUnreadable`` (an ``OSError``)
    when it cannot be reached or holds no trail.
    """

    path: Path | None = None
    database_url: str | None = None

    def describe(self) -> str:
        if self.database_url is not None:
            from bot.audit.postgres import TABLE, display_url  # noqa: PLC0415

            return f"PostgreSQL table {TABLE} at {display_url(self.database_url)}"
        return f"audit file {self.path}"

    @property
    def is_database(self) -> bool:
        return self.database_url is not None

    def exists(self) -> bool:
        """False for a file trail with no file yet (a database is asked when read)."""
        return self.is_database or bool(trail_files(self._path)[0])

    def verify(self, *, anchors: Mapping[int, str] | None = None) -> VerifyResult:
        if self.database_url is not None:
            from bot.audit.postgres import verify_database  # noqa: PLC0415

            return verify_database(self.database_url, anchors=anchors)
        return verify_trail(self._path, anchors=anchors)

    def records(self) -> Iterator[dict[str, Any]]:
        """Every parseable record, in chain order (for show and replay)."""
        if self.database_url is not None:
            from bot.audit.postgres import read_records as read_rows  # noqa: PLC0415

            return read_rows(self.database_url)
        return read_records(self._path)

    def find(self, seq: int) -> dict[str, Any] | None:
        if self.database_url is not None:
            from bot.audit.postgres import find_record  # noqa: PLC0415

            return find_record(self.database_url, seq)
        return next((r for r in read_records(self._path) if r.get("seq") == seq), None)

    def export(self, out: IO[bytes]) -> VerifyResult:
        """Every stored line, verbatim and in chain order, then the chain's verdict."""
        if self.database_url is not None:
            from bot.audit.postgres import export  # noqa: PLC0415

            return export(self.database_url, out)
        for segment in trail_files(self._path)[0]:
            with segment.open("rb") as fh:
                shutil.copyfileobj(fh, out)
        return verify_trail(self._path)

    @property
    def _path(self) -> Path:
        assert self.path is not None, "a file source has a path"
        return self.path


def source_for(
    settings: Settings, *, path: Path | None = None, database_url: str | None = None
) -> TrailSource:
    """An explicit file or database first, then ``LICENSEBOT_DATABASE_URL``, then the file."""
    if path is not None:
        return TrailSource(path=path)
    if database_url is not None:
        return TrailSource(database_url=database_url)
    if settings.database_url is not None:
        return TrailSource(database_url=settings.database_url.get_secret_value())
    return TrailSource(path=settings.resolved_audit_path)


def write_export(source: TrailSource, output: Path, *, force: bool = False) -> VerifyResult:
    """Export to ``output`` atomically: a complete, fsynced file appears, or none does.

    Raises ``FileExistsError`` unless ``force`` (an export must never clobber a trail by
    accident), and ``OSError`` (``DatabaseUnreadable`` included) as they come.
    """
    if output.exists() and not force:
        raise FileExistsError(f"{output} exists (use --force to replace it)")
    partial = output.with_name(f".{output.name}.partial-{os.getpid()}")
    try:
        with partial.open("xb") as out:
            result = source.export(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, output)
        fsync_dir(output.absolute().parent)
    finally:
        partial.unlink(missing_ok=True)
    return result
