"""Load a knowledge-base directory as a version, reading and analysing only what changed.

Two steps, so that a reload can report them (and an admin see where the time goes):

* ``prepare`` (validate): scan the directory (``knowledge.store.scan``: unchanged files
  by size and times are not read), find the stored version of this content if there
  is one, otherwise parse the manifest and give every article file its analysis key;
  take the articles whose key the base version has (the version being served, or the
  newest stored one of the directory) and load and analyse the others. Every problem of
  the directory is collected.
* ``build`` (index): join the base's unchanged articles as array slices with the new
  ones, build the index from the token ids, store the version (``knowledge.store.packed``)
  and map it back.

Without a data directory the same steps run in memory (nothing is stored).
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import structlog

from knowledge.answering.vocabulary import NOWHERE, ArticleWords, Orphan, Vocabulary, WordSums
from knowledge.ingest.jobs import ArticleJob, run_jobs
from knowledge.ingest.loader import ArticleKeys
from knowledge.ingest.manifest import MANIFEST_NAME, Manifest, parse_manifest
from knowledge.models import Problem
from knowledge.retrieval.index import Bm25Index, Bm25Params
from knowledge.retrieval.synonyms import SynonymRule
from knowledge.retrieval.tokenizer import Analyzer
from knowledge.store.assemble import NewArticle, Numbering, Piece, assemble, piece_of, slice_of
from knowledge.store.loaded import ArticleTable, Contents
from knowledge.store.packed import (
    PACKED_DIR,
    SUMS_FILE,
    Packed,
    PackedError,
    newest_of_dir,
    open_packed,
    version_key,
    write_packed,
)
from knowledge.store.scan import ChangedWhileLoading, DirScan, read_checked, scan_dir

log = structlog.get_logger("licensebot.knowledge.versions")

# (stage, done, total): how far a long step is.
StepProgress = Callable[[str, int, int], None]


@dataclass(frozen=True, eq=False)
class Base:
    """A loaded version whose articles a new version may take unchanged."""

    contents: Contents
    table: ArticleTable
    terms: Sequence[str]  # its index's terms, by id (its tokens' numbering)
    invalid: Mapping[bytes, tuple[Problem, ...]] = field(default_factory=dict)
    vocabulary: Vocabulary | None = None  # its look-ups are not made again
    # Its stored ``WordSums`` (a stored version's), adjusted instead of adding up again.
    sums_path: Path | None = None

    @functools.cached_property
    def number(self) -> dict[bytes, int]:
        """Article position by analysis key."""
        return {bytes(k): d for d, k in enumerate(self.table.keys)}

    def sums(self) -> WordSums | None:
        """A fresh copy of its word sums, or None (not stored, or unreadable)."""
        if self.sums_path is None:
            return None
        try:
            return WordSums.from_bytes(self.sums_path.read_bytes())
        except (OSError, ValueError, EOFError, TypeError) as exc:
            log.warning("packed.sums_unusable", path=str(self.sums_path), error=str(exc))
            return None


def base_of(packed: Packed) -> Base:
    return Base(
        packed.contents,
        packed.table,
        packed.index.terms,
        packed.invalid,
        packed.vocabulary,
        sums_path=packed.path / SUMS_FILE,
    )


@dataclass(frozen=True, eq=False)
class Built:
    """A version's arrays, index and vocabulary."""

    contents: Contents
    table: ArticleTable
    index: Bm25Index
    vocabulary: Vocabulary


@dataclass(frozen=True, eq=False)
class Plan:
    """What ``prepare`` found: the version's content hash and problems, and where each
    valid article comes from (a position in the base, or analysed now)."""

    kb_dir: Path
    kb_version: str
    problems: tuple[Problem, ...]
    # True when even skipping invalid articles cannot help (no directory, no manifest).
    fatal: bool
    digests: Mapping[str, bytes] = field(default_factory=dict)
    parts: tuple[int | NewArticle, ...] = ()
    invalid: Mapping[bytes, tuple[Problem, ...]] = field(default_factory=dict)
    synonyms: tuple[SynonymRule, ...] = ()  # the manifest's
    base: Base | None = None
    packed: Packed | None = None  # the stored version of this very content
    analysed: int = 0  # articles read and analysed now
    hashed: int = 0  # files read and hashed by the scan

    @property
    def articles(self) -> int:
        if self.packed is not None:
            return len(self.packed.contents.doc_ids)
        return len(self.parts)


def prepare(
    kb_dir: Path,
    *,
    analyzer: Analyzer,
    params: Bm25Params,
    data_dir: Path | None = None,
    base: Base | None = None,
    progress: StepProgress | None = None,
) -> Plan:
    if not kb_dir.is_dir():
        problem = Problem(file=str(kb_dir), reason="not a directory")
        return Plan(kb_dir=kb_dir, kb_version="", problems=(problem,), fatal=True)
    say = progress or _quiet
    scan = scan_dir(kb_dir, data_dir / PACKED_DIR if data_dir is not None else None)
    say("scan", len(scan.names), len(scan.names))
    key = version_key(analyzer.signature, params)
    if data_dir is not None:
        stored = _open(lambda: open_packed(data_dir, scan.kb_version, key))
        if stored is not None:
            return Plan(
                kb_dir=kb_dir,
                kb_version=scan.kb_version,
                problems=stored.problems,
                fatal=False,
                digests=scan.digests,
                synonyms=stored.synonyms,
                packed=stored,
                hashed=scan.hashed,
            )
        if base is None:
            newest = _open(lambda: newest_of_dir(data_dir, kb_dir, key))
            base = base_of(newest) if newest is not None else None
    manifest, problems, fatal = _manifest(scan)
    # A manifest that cannot be read leaves every article without its metadata.
    fatal = fatal or any(p.file == MANIFEST_NAME for p in scan.problems)
    problems.extend(scan.problems)
    stems = {os.path.splitext(n)[0] for n in scan.names}
    for doc_id in manifest.entries:
        if doc_id not in stems:
            problems.append(
                Problem(file=MANIFEST_NAME, reason=f"entry {doc_id!r} has no article file")
            )
    parts: list[int | ArticleJob] = []
    invalid: dict[bytes, tuple[Problem, ...]] = {}
    keys = ArticleKeys(manifest.extra_patterns, analyzer.signature)
    for name in scan.names:
        doc_id = os.path.splitext(name)[0]
        if doc_id in manifest.invalid_entries:
            continue  # its entry is a problem already; without it the metadata is unknown
        k = keys.key(name, scan.digests[name], manifest.entries.get(doc_id))
        if base is not None and k in base.number:
            parts.append(base.number[k])
        elif base is not None and k in base.invalid:
            invalid[k] = base.invalid[k]
        else:
            parts.append(
                ArticleJob(
                    name=name,
                    key=k,
                    digest=scan.digests[name],
                    path=kb_dir / name,
                    entry=manifest.entries.get(doc_id),
                    extra_patterns=manifest.extra_patterns,
                    data=scan.read.get(name),
                )
            )
    jobs = [p for p in parts if isinstance(p, ArticleJob)]
    done: dict[bytes, NewArticle] = {}
    if jobs:
        say("analyse", 0, len(jobs))
        results = run_jobs(jobs, analyzer, on_done=lambda n: say("analyse", n, len(jobs)))
        for r in results:
            if r.article is None or r.analysis is None:
                invalid[r.key] = r.problems
                continue
            done[r.key] = NewArticle(
                doc_id=r.article.doc_id,
                key=r.key,
                content_hash=r.article.content_hash,
                meta=r.article.meta,
                text=r.article.text,
                analysis=r.analysis,
            )
    # Article problems in file order, after those of the directory and the manifest.
    order = {name: i for i, name in enumerate(scan.names)}
    article_problems = sorted(
        (p for ps in invalid.values() for p in ps), key=lambda p: order.get(p.file, len(order))
    )
    resolved = tuple(
        p if isinstance(p, int) else done[p.key]
        for p in parts
        if isinstance(p, int) or p.key in done
    )
    return Plan(
        kb_dir=kb_dir,
        kb_version=scan.kb_version,
        problems=(*problems, *article_problems),
        fatal=fatal,
        digests=scan.digests,
        parts=resolved,
        invalid=invalid,
        synonyms=manifest.synonyms,
        base=base,
        analysed=len(jobs),
        hashed=scan.hashed,
    )


def build(
    plan: Plan,
    *,
    analyzer: Analyzer,
    params: Bm25Params,
    data_dir: Path | None = None,
    progress: StepProgress | None = None,
) -> Built:
    """The version's arrays, index and vocabulary; stored (and mapped back) with a data
    directory."""
    if plan.packed is not None:
        p = plan.packed
        return Built(p.contents, p.table, p.index, p.vocabulary)
    say = progress or _quiet
    base = plan.base
    numbering = Numbering(base.terms if base is not None else ())
    pieces = _pieces(plan.parts, base, numbering)
    say("index", 0, len(plan.parts))
    started = time.perf_counter()
    contents, table, index = assemble(pieces, numbering, params)
    say("vocabulary", 0, len(plan.parts))
    vocabulary, sums = _vocabulary(plan, (contents, table, index), analyzer)
    log.info(
        "kb.index_built",
        kb_version=plan.kb_version,
        passages=contents.n_passages,
        postings=index.n_postings,
        seconds=round(time.perf_counter() - started, 3),
    )
    built = Built(contents, table, index, vocabulary)
    if data_dir is None:
        return built
    key = version_key(analyzer.signature, params)
    try:
        write_packed(
            data_dir,
            plan.kb_version,
            key,
            kb_dir=plan.kb_dir,
            contents=contents,
            table=table,
            index=index,
            vocabulary=vocabulary,
            sums=sums,
            synonyms=plan.synonyms,
            problems=plan.problems,
            invalid=plan.invalid,
        )
        stored = open_packed(data_dir, plan.kb_version, key)
    except (OSError, PackedError) as exc:
        # The version serves from memory; the next start builds it again.
        log.warning("kb.store_failed", data_dir=str(data_dir), error=str(exc))
        return built
    if stored is None:  # pragma: no cover - just written
        return built
    return Built(stored.contents, stored.table, stored.index, stored.vocabulary)


def _vocabulary(
    plan: Plan, built: tuple[Contents, ArticleTable, Bm25Index], analyzer: Analyzer
) -> tuple[Vocabulary, WordSums]:
    """The sum of the articles' stored words (``knowledge.answering.vocabulary``): the
    base's sums adjusted for what changed when the base has them, else added up."""
    contents, table, index = built
    occurrences = np.bincount(contents.tokens, minlength=len(index.terms))

    def count(term: str) -> int:
        tid = index.term_id(term)
        return int(occurrences[tid]) if tid is not None else 0

    base = plan.base
    sums = _adjusted(plan, base, contents, table, index) if base is not None else None
    if sums is None:
        sums = WordSums.of(ArticleWords.decode(table.words_bytes(d)) for d in range(len(table)))
    memo = base.vocabulary.memo if base is not None and base.vocabulary is not None else None
    return Vocabulary.of_sums(sums, analyzer.lexicon, count, memo), sums


def _adjusted(
    plan: Plan, base: Base, contents: Contents, table: ArticleTable, index: Bm25Index
) -> WordSums | None:
    sums = base.sums()
    if sums is None:
        return None
    new_of = {p: d for d, p in enumerate(plan.parts) if isinstance(p, int)}
    orphans: set[Orphan] = set()
    for d in range(len(base.table)):
        if d not in new_of:
            orphans |= sums.subtract(d, ArticleWords.decode(base.table.words_bytes(d)))
    sums.renumbered(lambda d: new_of.get(d, NOWHERE[0]))
    fresh = {d for d, p in enumerate(plan.parts) if not isinstance(p, int)}
    for d in sorted(fresh):
        sums.add(d, ArticleWords.decode(table.words_bytes(d)))
    # The next article showing each orphan: those containing its terms, in order.
    read: dict[int, ArticleWords] = {}
    for orphan in orphans:
        docs = np.unique(
            np.concatenate(
                [contents.passage_doc[index.passages_with(t)] for t in orphan.terms]
                or [np.zeros(0, dtype=np.int32)]
            )
        )
        for d in docs.tolist():
            if d >= sums.owner(orphan)[0]:
                break
            if d in fresh:
                continue
            words = read.get(d)
            if words is None:
                words = read[d] = ArticleWords.decode(table.words_bytes(d))
            if sums.find_first(orphan, d, words):
                break
    return sums


def _pieces(
    parts: Sequence[int | NewArticle], base: Base | None, numbering: Numbering
) -> list[Piece]:
    """Runs of consecutive base articles as slices, runs of new ones as pieces."""
    pieces: list[Piece] = []
    new: list[NewArticle] = []
    span: list[int] = []  # first and stop of the current run of base articles

    def end_span() -> None:
        if span and base is not None:
            pieces.append(slice_of(base.contents, base.table, span[0], span[1]))
        span.clear()

    def end_new() -> None:
        if new:
            pieces.append(piece_of(new, numbering))
        new.clear()

    for part in parts:
        if isinstance(part, NewArticle):
            end_span()
            new.append(part)
        elif span and part == span[1]:
            span[1] += 1
        else:
            end_new()
            end_span()
            span.extend((part, part + 1))
    end_span()
    end_new()
    return pieces


def _manifest(scan: DirScan) -> tuple[Manifest, list[Problem], bool]:
    if not scan.has_manifest:
        return Manifest(), [], False
    try:
        data = read_checked(scan, MANIFEST_NAME)
    except OSError as exc:
        reason = f"cannot read: {exc.strerror}"
        return Manifest(readable=False), [Problem(file=MANIFEST_NAME, reason=reason)], True
    except ChangedWhileLoading:
        reason = "changed while the knowledge base was loading; try again"
        return Manifest(readable=False), [Problem(file=MANIFEST_NAME, reason=reason)], True
    manifest, problems = parse_manifest(data)
    return manifest, problems, not manifest.readable


def _open(opener: Callable[[], Packed | None]) -> Packed | None:
    try:
        return opener()
    except PackedError as exc:
        log.warning("packed.unusable", error=str(exc))
        return None


def _quiet(_stage: str, _done: int, _total: int) -> None:
    return None
