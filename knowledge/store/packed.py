"""Loaded versions on disk, memory-mapped by the next start of the same knowledge base.

``<data_dir>/loaded/<kb_version>-<key>/`` holds one version's ``Contents`` arrays, its
``ArticleTable`` (each article's analysis key, cleaned text, metadata and words) and its
BM25 index as ``.npy`` files, the article ids in order, the sum of the articles' words
(``vocabulary.json``), and, in ``version.json``, the manifest's synonym rules and every
problem found in the directory (the invalid articles by key, so that an unchanged
invalid file is not analysed again). ``key`` hashes the formats, the analysis signature
and the BM25 parameters, so a version analysed differently is never reused. A version
that was refused (invalid articles) is stored too: the next attempt, or a start that
skips invalid articles, reuses its analyses.

A start maps the files instead of reading them: the pages a search touches are read
from the page cache (and shared between processes serving the same version), the rest
never. The next version of the same directory takes its unchanged articles from here
as array slices (``knowledge.store.assemble``). Why arrays and not SQLite is measured
in docs/benchmarks.md.

A directory is written under a temporary name, every file flushed to disk, and renamed
into place: it exists whole or not at all. The newest ``KEEP_VERSIONS`` are kept.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from knowledge.answering.vocabulary import Vocabulary, WordSums
from knowledge.ingest.analysis import ANALYSIS_VERSION
from knowledge.models import Problem
from knowledge.retrieval.index import FORMAT_VERSION, Bm25Index, Bm25Params, IndexFileError
from knowledge.retrieval.synonyms import SynonymRule
from knowledge.store.loaded import CONTENTS_ARRAYS, TABLE_ARRAYS, ArticleTable, Contents
from knowledge.store.saved import fsync_dir

log = structlog.get_logger("licensebot.knowledge.packed")

PACKED_DIR = "loaded"
FORMAT = 3
# Older versions kept so that replicas still serving them (mid-reload) can restart.
KEEP_VERSIONS = 3
_HEADER = "version.json"
_VOCABULARY = "vocabulary.json"
# The version's ``WordSums``: only a reload based on this version reads it.
SUMS_FILE = "wordsums.marshal"


class PackedError(Exception):
    """A packed version that cannot be used (missing, damaged, another format)."""


@dataclass(frozen=True)
class Packed:
    """A version as mapped from disk."""

    path: Path
    kb_version: str
    kb_dir: str
    contents: Contents
    table: ArticleTable
    index: Bm25Index
    vocabulary: Vocabulary
    # The manifest's synonym rules (a warm start does not read the manifest).
    synonyms: tuple[SynonymRule, ...]
    # Every problem of the directory (none: the version is valid), and the problems of
    # each invalid article by its analysis key.
    problems: tuple[Problem, ...]
    invalid: dict[bytes, tuple[Problem, ...]]


def version_key(signature: str, params: Bm25Params) -> str:
    """What, besides the content, a packed version depends on."""
    blob = json.dumps(
        {
            "format": FORMAT,
            "index": FORMAT_VERSION,
            "analysis": ANALYSIS_VERSION,
            "signature": signature,
            "params": params.model_dump(),
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def packed_path(data_dir: Path, kb_version: str, key: str) -> Path:
    return data_dir / PACKED_DIR / f"{kb_version}-{key}"


def write_packed(
    data_dir: Path,
    kb_version: str,
    key: str,
    *,
    kb_dir: Path,
    contents: Contents,
    table: ArticleTable,
    index: Bm25Index,
    vocabulary: Vocabulary,
    sums: WordSums | None = None,
    synonyms: Sequence[SynonymRule] = (),
    problems: Sequence[Problem] = (),
    invalid: Mapping[bytes, Sequence[Problem]] | None = None,
) -> Path:
    """Store a version; returns its directory. Idempotent: an existing copy stays."""
    final = packed_path(data_dir, kb_version, key)
    if (final / _HEADER).is_file():
        return final
    root = final.parent
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{kb_version}-", dir=root))
    try:
        for name, array in {**contents.arrays(), **table.arrays()}.items():
            np.save(tmp / f"{name}.npy", np.asarray(array), allow_pickle=False)
        (tmp / "doc_ids.txt").write_text("\n".join(contents.doc_ids), encoding="utf-8")
        index.save_arrays(tmp / "index")
        (tmp / _VOCABULARY).write_bytes(vocabulary.to_json())
        if sums is not None:
            (tmp / SUMS_FILE).write_bytes(sums.to_bytes())
        header = {
            "format": FORMAT,
            "kb_version": kb_version,
            "key": key,
            "kb_dir": str(kb_dir.resolve()),
            "n_docs": len(contents.doc_ids),
            "n_passages": contents.n_passages,
            "synonyms": [[r.text, r.sources, r.targets, r.line] for r in synonyms],
            "problems": [p.model_dump() for p in problems],
            "invalid": {k.hex(): [p.model_dump() for p in ps] for k, ps in (invalid or {}).items()},
            "written_at": time.time(),
        }
        (tmp / _HEADER).write_text(json.dumps(header), encoding="utf-8")
        _fsync_tree(tmp)
        try:
            os.rename(tmp, final)
        except OSError:
            # Another process stored the same version meanwhile (same content by key).
            if not (final / _HEADER).is_file():
                raise
        fsync_dir(root)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    _prune(root, keep=final)
    return final


def open_packed(data_dir: Path, kb_version: str, key: str) -> Packed | None:
    """The stored version, mapped; None when there is none. Raises ``PackedError``
    for one that exists but cannot be used."""
    return _open(packed_path(data_dir, kb_version, key), kb_version)


def newest_of_dir(data_dir: Path, kb_dir: Path, key: str) -> Packed | None:
    """The newest stored version of ``kb_dir`` analysed the same way, if any."""
    root = data_dir / PACKED_DIR
    if not root.is_dir():
        return None
    wanted = str(kb_dir.resolve())
    candidates = []
    for path in root.iterdir():
        if not path.name.endswith(f"-{key}"):
            continue
        try:
            header = json.loads((path / _HEADER).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(header, dict) and header.get("kb_dir") == wanted:
            candidates.append((_mtime(path), path, str(header.get("kb_version"))))
    for _, path, kb_version in sorted(candidates, reverse=True):
        try:
            return _open(path, kb_version)
        except PackedError as exc:
            log.warning("packed.unusable", path=str(path), error=str(exc))
    return None


def _open(path: Path, kb_version: str) -> Packed | None:
    if not (path / _HEADER).is_file():
        return None
    try:
        header = json.loads((path / _HEADER).read_text(encoding="utf-8"))
        if header.get("format") != FORMAT or header.get("kb_version") != kb_version:
            raise PackedError(f"{path}: another format or version")
        doc_ids = (path / "doc_ids.txt").read_text(encoding="utf-8")
        contents = Contents(
            doc_ids=tuple(doc_ids.split("\n")) if doc_ids else (),
            **{n: _load(path / f"{n}.npy") for n in CONTENTS_ARRAYS},
        )
        table = ArticleTable(**{n: _load(path / f"{n}.npy") for n in TABLE_ARRAYS})
        index = Bm25Index.open_arrays(path / "index")
        vocabulary = Vocabulary.from_json((path / _VOCABULARY).read_bytes())
        synonyms = tuple(
            SynonymRule(text, tuple(sources), tuple(targets), line)
            for text, sources, targets, line in header["synonyms"]
        )
        problems = tuple(Problem(**p) for p in header["problems"])
        invalid = {
            bytes.fromhex(k): tuple(Problem(**p) for p in ps) for k, ps in header["invalid"].items()
        }
        kb_dir = str(header["kb_dir"])
    except (OSError, ValueError, TypeError, KeyError, IndexFileError) as exc:
        raise PackedError(f"{path}: {exc}") from exc
    n_docs = len(contents.doc_ids)
    if (
        header.get("n_docs") != n_docs
        or contents.doc_passages.size != n_docs + 1
        or len(table) != n_docs
        or table.text_ends.size != n_docs
        or table.meta_ends.size != n_docs
        or table.words_ends.size != n_docs
        or index.n_docs != contents.n_passages
        or int(contents.passage_tokens[-1]) != contents.tokens.size
        or contents.token_spans.shape != (contents.tokens.size, 3)
    ):
        raise PackedError(f"{path}: arrays do not match each other")
    with contextlib.suppress(OSError):
        os.utime(path)  # the newest in use is kept longest
    return Packed(
        path, kb_version, kb_dir, contents, table, index, vocabulary, synonyms, problems, invalid
    )


def kept_versions(data_dir: Path) -> list[str]:
    """The ``<kb_version>-<key>`` names of the stored versions."""
    root = data_dir / PACKED_DIR
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / _HEADER).is_file())


def _load(path: Path) -> Any:
    return np.asarray(np.load(path, mmap_mode="c", allow_pickle=False))


def _fsync_tree(directory: Path) -> None:
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    for path in sorted(p for p in directory.rglob("*") if p.is_dir()):
        fsync_dir(path)
    fsync_dir(directory)


def _prune(root: Path, *, keep: Path) -> None:
    """Remove all but the newest stored versions, and leftovers of interrupted writes."""
    stored = sorted(
        (p for p in root.iterdir() if p != keep and (p / _HEADER).is_file()),
        key=_mtime,
        reverse=True,
    )
    stale = stored[KEEP_VERSIONS - 1 :]
    stale += [p for p in root.glob(".tmp-*") if time.time() - _mtime(p) > 3600]
    for old in stale:
        try:
            shutil.rmtree(old)
        except OSError as exc:
            log.warning("packed.prune_failed", path=str(old), error=str(exc))


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
