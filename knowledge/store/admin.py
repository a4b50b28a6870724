"""Knowledge-base administration: directory state, and adding an article atomically.

``add_article`` validates the uploaded bytes before anything touches the directory,
writes the article and the extended manifest each through a temporary file and
``os.replace``, then loads the result through ``KnowledgeBase.reload``. If the manifest
write or that reload fails, both files are put back as they were: the directory never
keeps half of an addition. Writers on one directory (several replicas on a shared
volume, or several threads) are serialised by an ``flock`` on a hidden lock file, which
the loader ignores like every dot-file.

The knowledge base bundled with the package is never written to: it is replaced on
upgrade and read-only in the container image. Adding needs ``LICENSEBOT_KB_DIR``
pointing at a writable copy.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import os
import re
import tempfile
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import structlog

from knowledge.ingest.formats import SUPPORTED_SUFFIXES
from knowledge.ingest.loader import article_files, build_article, kb_version_of, read_contents
from knowledge.ingest.manifest import MANIFEST_NAME, ManifestEntry, read_manifest, render_entry
from knowledge.models import Article, Problem
from knowledge.service import (
    KBInvalid,
    KnowledgeBase,
    ReloadInProgress,
    ReloadProgress,
    ReloadResult,
)
from knowledge.store.saved import fsync_dir

LOCK_NAME = ".licensebot-admin.lock"
# How long an addition waits for a reload that is already running (e.g. a poll).
ADD_RELOAD_WAIT_SECONDS = 60.0
METADATA_KEYS: tuple[str, ...] = ("title", "publisher", "author", "date", "url")
_DOC_ID_MAX = 100
_KEY_RE = re.compile(r"(?:(?<=\s)|^)(" + "|".join(METADATA_KEYS) + r")\s*=", re.IGNORECASE)
_UNKNOWN_KEY_RE = re.compile(r"(?:(?<=\s)|^)([A-Za-z_]+)=\S")
_ESTIMATE_MARKS = ("≈", "~", "ca.", "c.")
_thread_lock = threading.Lock()

log = structlog.get_logger("licensebot.knowledge.admin")


class AddRefused(Exception):
    """The article was not added; the directory is as it was before."""

    def __init__(self, reason: str, problems: tuple[Problem, ...] = ()) -> None:
        self.reason = reason
        self.problems = problems
        detail = "; ".join(str(p) for p in problems)
        super().__init__(f"{reason}: {detail}" if detail else reason)


@dataclass(frozen=True)
class ArticleFields:
    """Metadata an admin gave for an upload; ``None`` means "derive it from the text"."""

    title: str | None = None
    publisher: str | None = None
    author: str | None = None
    published: dt.date | None = None
    date_estimated: bool = False
    url: str | None = None


@dataclass(frozen=True)
class AddResult:
    doc_id: str
    file_name: str
    article: Article  # as served after the reload (cleaned text, final metadata)
    reload: ReloadResult


# -- directory state -----------------------------------------------------------------------


def dir_fingerprint(kb_dir: Path) -> str:
    """A cheap change detector: names, sizes, mtimes and inodes of the visible files.

    Dot-files (temporary files, the admin lock) are left out, as the loader ignores
    them. Any write through ``os.replace`` changes the inode, so even a same-size
    rewrite within the file system's timestamp granularity is seen.
    """
    digest = hashlib.sha256()
    for entry in sorted(os.scandir(kb_dir), key=lambda e: e.name):
        if entry.name.startswith("."):
            continue
        try:
            st = entry.stat()
        except FileNotFoundError:
            continue
        digest.update(f"{entry.name}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}\n".encode())
    return digest.hexdigest()[:16]


def directory_version(kb_dir: Path) -> str:
    """The kb_version the directory would load as now, without validating or indexing.

    Reads the same files the loader hashes, so it equals ``KnowledgeBase.kb_version``
    exactly when a reload would change nothing.
    """
    files, _ = article_files(kb_dir)
    contents, _ = read_contents(kb_dir, files)
    return kb_version_of(contents.items())


def not_writable_reason(kb: KnowledgeBase) -> str | None:
    """Why articles cannot be added to ``kb``'s directory, or ``None`` if they can."""
    if kb.status().bundled:
        return (
            "the knowledge base in use is the one bundled with licensebot, which is read-only; "
            "set LICENSEBOT_KB_DIR to a writable copy of it to add articles"
        )
    if not kb.kb_dir.is_dir() or not os.access(kb.kb_dir, os.W_OK | os.X_OK):
        return f"the knowledge-base directory {kb.kb_dir} is not writable by the bot"
    return None


# -- metadata from a message ------------------------------------------------------------------


def parse_fields(text: str) -> tuple[ArticleFields, list[str]]:
    """Read ``title=… publisher=… author=… date=YYYY-MM-DD url=…`` from free text.

    A value runs to the next ``key=`` or the end and may be quoted. ``date=~2019-10-18``
    (or ``≈``) marks the date as estimated. Text before the first key is ignored, so
    "add this title=…" works. Returns the fields and one message per mistake.
    """
    errors: list[str] = []
    matches = list(_KEY_RE.finditer(text))
    head = text[: matches[0].start()] if matches else text
    for m in _UNKNOWN_KEY_RE.finditer(head):
        errors.append(f"unknown field {m.group(1)!r} (use {', '.join(METADATA_KEYS)})")
    values: dict[str, str] = {}
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        key = m.group(1).casefold()
        value = _unquote(text[m.end() : end].strip())
        if key in values:
            errors.append(f"{key} is given twice")
        if value:
            values[key] = value
    published, estimated = None, False
    raw_date = values.get("date")
    if raw_date is not None:
        published, estimated, date_error = _parse_date(raw_date)
        if date_error:
            errors.append(date_error)
    fields = ArticleFields(
        title=values.get("title"),
        publisher=values.get("publisher"),
        author=values.get("author"),
        published=published,
        date_estimated=estimated,
        url=values.get("url"),
    )
    return fields, errors


def _unquote(value: str) -> str:
    for left, right in (('"', '"'), ("'", "'"), ("“", "”"), ("‘", "’")):
        if len(value) >= 2 and value.startswith(left) and value.endswith(right):
            return value[1:-1].strip()
    return value


def _parse_date(raw: str) -> tuple[dt.date | None, bool, str | None]:
    value, estimated = raw.strip(), False
    for mark in _ESTIMATE_MARKS:
        if value.casefold().startswith(mark):
            value, estimated = value[len(mark) :].strip(), True
            break
    try:
        return dt.date.fromisoformat(value), estimated, None
    except ValueError:
        return None, False, f"date {raw!r} is not YYYY-MM-DD (prefix ~ for an estimate)"


# -- adding an article ------------------------------------------------------------------------


def doc_id_for(filename: str) -> tuple[str, str]:
    """The article id and stored file name for an uploaded file name.

    Raises ``AddRefused`` for a file type the loader does not read.
    """
    path = Path(Path(filename).name)
    suffix = path.suffix.casefold()
    if suffix not in SUPPORTED_SUFFIXES:
        allowed = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise AddRefused(f"{filename!r} is not a supported file type (use {allowed})")
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", path.stem).strip("-._")[:_DOC_ID_MAX]
    if not stem:
        digest = hashlib.sha256(filename.encode()).hexdigest()[:12]
        stem = f"upload-{digest}"
    return stem, stem + suffix


def add_article(
    kb: KnowledgeBase,
    filename: str,
    data: bytes,
    fields: ArticleFields,
    *,
    by: str,
    progress: ReloadProgress | None = None,
    wait: float = ADD_RELOAD_WAIT_SECONDS,
) -> AddResult:
    """Validate, write and load one article; all or nothing.

    Raises ``AddRefused`` (with every problem) and leaves the directory unchanged when
    the file is invalid, its id is taken, the directory is not writable, or the
    knowledge base with it does not load.
    """
    reason = not_writable_reason(kb)
    if reason is not None:
        raise AddRefused(reason)
    doc_id, file_name = doc_id_for(filename)
    kb_dir = kb.kb_dir
    with _directory_lock(kb_dir):
        _check_free(kb_dir, doc_id)
        manifest, manifest_problems = read_manifest(kb_dir)
        if manifest_problems:
            raise AddRefused(
                "the knowledge base's manifest is invalid; fix it first",
                tuple(manifest_problems),
            )
        entry = ManifestEntry(
            doc_id=doc_id,
            title=fields.title,
            publisher=fields.publisher,
            author=fields.author,
            published=fields.published,
            date_estimated=fields.date_estimated,
            url=fields.url,
        )
        _, problems = build_article(file_name, data, entry, manifest.extra_patterns)
        if problems:
            raise AddRefused(f"{filename} cannot be added", tuple(problems))
        manifest_path = kb_dir / MANIFEST_NAME
        old_manifest = manifest_path.read_bytes() if manifest_path.exists() else None
        new_manifest = _extended_manifest(old_manifest, entry, by)
        article_path = kb_dir / file_name
        _atomic_write(article_path, data)
        try:
            _atomic_write(manifest_path, new_manifest)
            result = kb.reload(by=by, progress=progress, wait=wait)
        except KBInvalid as exc:
            _restore(article_path, manifest_path, old_manifest)
            raise AddRefused(
                "the knowledge base would not load with this file", exc.problems
            ) from exc
        except ReloadInProgress as exc:
            _restore(article_path, manifest_path, old_manifest)
            raise AddRefused("another reload is still running; try again shortly") from exc
        except BaseException:
            _restore(article_path, manifest_path, old_manifest)
            raise
    article = kb.article(doc_id)
    if article is None:  # pragma: no cover - the reload above loaded the directory we wrote
        raise AddRefused(f"{file_name} was written but is not in the reloaded knowledge base")
    return AddResult(doc_id=doc_id, file_name=file_name, article=article, reload=result)


def _check_free(kb_dir: Path, doc_id: str) -> None:
    taken = [p.name for p in kb_dir.iterdir() if p.stem.casefold() == doc_id.casefold()]
    if taken:
        raise AddRefused(
            f"an article with id {doc_id!r} already exists ({taken[0]}); "
            "rename the file to add it as a new article"
        )
    manifest, _ = read_manifest(kb_dir)
    if doc_id in manifest.entries:
        raise AddRefused(f"the manifest already has an entry {doc_id!r}")


def _extended_manifest(old: bytes | None, entry: ManifestEntry, by: str) -> bytes:
    given = [k for k in ("title", "publisher", "author", "published", "url") if getattr(entry, k)]
    note = f"# Added by {by} on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC. " + (
        f"Given: {', '.join(given)}; anything else is derived from the text."
        if given
        else "No metadata given: everything is derived from the text."
    )
    prefix = old.decode("utf-8") if old else ""
    if prefix and not prefix.endswith("\n"):
        prefix += "\n"
    text = f"{prefix}{chr(10) if prefix else ''}{_one_line(note)}\n{render_entry(entry)}"
    # The reload validates fully; this catches a malformed append before anything is written.
    parsed = tomllib.loads(text)
    if entry.doc_id not in parsed.get("articles", {}):
        raise AddRefused(f"the manifest entry for {entry.doc_id!r} could not be written")
    return text.encode("utf-8")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=f".tmp-{path.name}-", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    fsync_dir(path.parent)


def _restore(article_path: Path, manifest_path: Path, old_manifest: bytes | None) -> None:
    """Undo an addition; every step is tried even if an earlier one fails."""
    failures: list[OSError] = []
    try:
        current = manifest_path.read_bytes() if manifest_path.exists() else None
        if current != old_manifest:
            if old_manifest is None:
                manifest_path.unlink()
            else:
                _atomic_write(manifest_path, old_manifest)
    except OSError as exc:
        failures.append(exc)
    try:
        article_path.unlink(missing_ok=True)
        fsync_dir(article_path.parent)
    except OSError as exc:
        failures.append(exc)
    for failure in failures:
        log.error("kb.add_rollback_failed", path=str(article_path.parent), error=str(failure))


@contextlib.contextmanager
def _directory_lock(kb_dir: Path) -> Iterator[None]:
    with _thread_lock:
        fd = os.open(kb_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


@contextlib.contextmanager
def no_addition_running(kb_dir: Path) -> Iterator[bool]:
    """Yield False while an ``add_article`` (in any process) is writing to ``kb_dir``.

    A poller checks this before reloading, so that it never loads the moment between the
    article and the manifest being written. Holding the shared lock for the ``with``
    block keeps a new addition from starting meanwhile. A directory whose lock file
    cannot be opened (never written to, or mounted read-only) has no addition running here.
    """
    try:
        fd = os.open(kb_dir / LOCK_NAME, os.O_RDONLY)
    except OSError:
        yield True
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            free = False
        else:
            free = True
        yield free
    finally:
        os.close(fd)
