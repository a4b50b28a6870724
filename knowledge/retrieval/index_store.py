"""Saved BM25 indexes under the data directory, one per knowledge-base version.

A start or reload loads the saved index when one exists for the same content
(``kb_version``), the same analysis (the analyzer's ``signature``) and the same
BM25 parameters; otherwise it builds, saves and returns a new one. A file that
cannot be read or does not match is rebuilt, never trusted. Saving is best
effort: a read-only or full disk costs the next start a rebuild, not this one.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import structlog

from knowledge.retrieval.index import (
    FORMAT_VERSION,
    Bm25Index,
    Bm25Params,
    IndexFileError,
    read_header,
)

log = structlog.get_logger("licensebot.knowledge.index_store")

INDEX_DIR = "index"
# Older versions kept so that replicas still serving them (mid-reload) can restart.
KEEP_VERSIONS = 3

CorpusFactory = Callable[[], Sequence[Sequence[str]]]


def index_path(data_dir: Path, kb_version: str, signature: str, params: Bm25Params) -> Path:
    """Where the index for this content, analysis and parameters is saved."""
    return data_dir / INDEX_DIR / f"bm25-{kb_version}-{_build_key(signature, params)}.npz"


def load_or_build(
    data_dir: Path,
    kb_version: str,
    signature: str,
    corpus_tokens_factory: CorpusFactory,
    params: Bm25Params | None = None,
    *,
    expected_n_docs: int | None = None,
) -> Bm25Index:
    """The saved index for ``kb_version``, or a freshly built (and saved) one.

    ``corpus_tokens_factory`` is only called when building. ``expected_n_docs``,
    when given, is checked against a saved index as one more guard against
    reusing an index built from differently split passages.
    """
    params = params or Bm25Params()
    path = index_path(data_dir, kb_version, signature, params)
    meta = _meta(kb_version, signature, params)
    index = _load_matching(path, meta, expected_n_docs)
    if index is not None:
        return index
    started = time.perf_counter()
    index = Bm25Index(corpus_tokens_factory(), params)
    log.info(
        "index.built",
        kb_version=kb_version,
        docs=index.n_docs,
        terms=index.n_terms,
        seconds=round(time.perf_counter() - started, 3),
    )
    try:
        index.save(path, meta=meta)
    except OSError as exc:
        log.warning("index.save_failed", path=str(path), error=str(exc))
    else:
        log.info("index.saved", path=str(path), bytes=path.stat().st_size)
        _prune(path.parent, keep=path)
    return index


def _load_matching(
    path: Path, meta: dict[str, Any], expected_n_docs: int | None
) -> Bm25Index | None:
    if not path.exists():
        return None
    started = time.perf_counter()
    try:
        header = read_header(path)
        if header.get("meta") != meta:
            log.warning("index.stale", path=str(path))
            return None
        index = Bm25Index.load(path)
    except IndexFileError as exc:
        log.warning("index.unreadable", path=str(path), error=str(exc))
        return None
    if expected_n_docs is not None and index.n_docs != expected_n_docs:
        log.warning("index.stale", path=str(path), docs=index.n_docs, expected_docs=expected_n_docs)
        return None
    log.info(
        "index.loaded",
        path=str(path),
        docs=index.n_docs,
        seconds=round(time.perf_counter() - started, 3),
    )
    return index


def _meta(kb_version: str, signature: str, params: Bm25Params) -> dict[str, Any]:
    return {"kb_version": kb_version, "signature": signature, "params": params.model_dump()}


def _build_key(signature: str, params: Bm25Params) -> str:
    blob = json.dumps(
        {"format": FORMAT_VERSION, "signature": signature, "params": params.model_dump()},
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _prune(directory: Path, *, keep: Path) -> None:
    """Remove all but the newest saved indexes (and leftovers of interrupted saves)."""
    saved = sorted(
        (p for p in directory.glob("bm25-*.npz") if p != keep),
        key=_mtime,
        reverse=True,
    )
    stale = saved[KEEP_VERSIONS - 1 :]
    # A temp file older than a minute belongs to a save that died.
    stale += [t for t in directory.glob(".bm25-*.tmp") if time.time() - _mtime(t) > 60]
    for old in stale:
        try:
            old.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("index.prune_failed", path=str(old), error=str(exc))


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
