"""Load and analyse article files, in worker processes when there are many.

Reading, cleaning, deriving metadata and tokenizing are pure Python and independent
per article; a first build of a large knowledge base spreads them over the cores (one
process each: threads would share one interpreter lock). Few files are done here.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import structlog

from knowledge.ingest.analysis import ArticleAnalysis, analyse_text
from knowledge.ingest.loader import build_article
from knowledge.ingest.manifest import ManifestEntry
from knowledge.models import Article, Problem
from knowledge.retrieval.tokenizer import Analyzer

log = structlog.get_logger("licensebot.knowledge.jobs")

# Below this many files to analyse, worker processes cost more to start than they save.
PARALLEL_FROM = 400
_CHUNK = 64
_MAX_WORKERS = 8


@dataclass(frozen=True)
class ArticleJob:
    """One article file to load: its bytes, or where to read them (checked against
    ``digest``, the SHA-256 the directory scan gave it)."""

    name: str
    key: bytes
    digest: bytes
    path: Path
    entry: ManifestEntry | None
    extra_patterns: tuple[str, ...]
    data: bytes | None = None


@dataclass(frozen=True)
class ArticleResult:
    name: str
    key: bytes
    problems: tuple[Problem, ...]
    article: Article | None
    analysis: ArticleAnalysis | None


def run_job(job: ArticleJob, analyzer: Analyzer) -> ArticleResult:
    data = job.data
    if data is None:
        try:
            data = job.path.read_bytes()
        except OSError as exc:
            return _failed(job, f"cannot read: {exc.strerror}")
        if hashlib.sha256(data).digest() != job.digest:
            return _failed(job, "changed while the knowledge base was loading; try again")
    article, problems = build_article(job.name, data, job.entry, job.extra_patterns)
    if article is None:
        return ArticleResult(job.name, job.key, tuple(problems), None, None)
    return ArticleResult(
        job.name, job.key, tuple(problems), article, analyse_text(article.text, analyzer)
    )


def _failed(job: ArticleJob, reason: str) -> ArticleResult:
    return ArticleResult(job.name, job.key, (Problem(file=job.name, reason=reason),), None, None)


def run_jobs(
    jobs: Sequence[ArticleJob],
    analyzer: Analyzer,
    *,
    on_done: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> list[ArticleResult]:
    """Every job's result, in order; ``on_done`` hears how many are done so far."""
    count = workers if workers is not None else _default_workers(len(jobs))
    results: list[ArticleResult] = []
    try:
        for batch in _batches(jobs, analyzer, count):
            results.extend(batch)
            if on_done is not None:
                on_done(len(results))
    except (BrokenProcessPool, OSError) as exc:
        # Workers could not start or died (a main module without a ``__main__`` guard,
        # no process limit left): do the rest here.
        log.warning("kb.workers_failed", error=repr(exc), done=len(results))
        for batch in _batches(jobs[len(results) :], analyzer, 1):
            results.extend(batch)
            if on_done is not None:
                on_done(len(results))
    return results


def _batches(
    jobs: Sequence[ArticleJob], analyzer: Analyzer, workers: int
) -> Iterator[list[ArticleResult]]:
    chunks = [list(jobs[i : i + _CHUNK]) for i in range(0, len(jobs), _CHUNK)]
    if workers <= 1:
        for chunk in chunks:
            yield [run_job(j, analyzer) for j in chunk]
        return
    # "spawn": the caller may be a server with threads, which a forked child would
    # inherit in whatever state they were.
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(
        workers, mp_context=context, initializer=_set_analyzer, initargs=(analyzer,)
    ) as pool:
        yield from pool.map(_run_chunk, chunks)


_worker_analyzer: Analyzer | None = None


def _set_analyzer(analyzer: Analyzer) -> None:
    global _worker_analyzer  # noqa: PLW0603 (one per worker process, set once)
    _worker_analyzer = analyzer


def _run_chunk(chunk: list[ArticleJob]) -> list[ArticleResult]:
    assert _worker_analyzer is not None
    return [run_job(j, _worker_analyzer) for j in chunk]


def _default_workers(n_jobs: int) -> int:
    if n_jobs < PARALLEL_FROM:
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(_MAX_WORKERS, cores))
