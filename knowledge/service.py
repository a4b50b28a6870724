"""The knowledge-base service: load, answer, reload — the one entry point callers use."""

from __future__ import annotations

import collections
import datetime as dt
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
import structlog

from knowledge.answering.answer import compose_answer
from knowledge.answering.timeline import Timeline, build_timeline, filter_timeline
from knowledge.ingest.analysis import analyse_text
from knowledge.ingest.loader import LoadedKB, load_kb_dir
from knowledge.models import Answer, Article, Problem
from knowledge.retrieval.index import Bm25Index, Bm25Params
from knowledge.retrieval.tokenizer import WEAK_WORDS, Analyzer, default_analyzer
from knowledge.store.loaded import Snapshot, contents_of, renumbered
from knowledge.store.saved import SavedVersionError, SavedVersions

log = structlog.get_logger("licensebot.knowledge")


class KBInvalid(Exception):
    """The knowledge-base directory has problems; nothing of it was loaded."""

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems) or "invalid knowledge base")


class ReloadInProgress(RuntimeError):
    """Another reload is running; this one did nothing."""


@dataclass(frozen=True)
class ReloadResult:
    old_version: str
    new_version: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]
    passages_before: int
    passages_after: int
    articles_after: int
    seconds: float
    by: str
    articles_before: int = 0
    finished_at: dt.datetime | None = None

    @property
    def unchanged(self) -> bool:
        return self.old_version == self.new_version


@dataclass(frozen=True)
class ReloadRefusal:
    """The last reload that was refused: when, on whose behalf, and every problem."""

    at: dt.datetime
    by: str
    problems: tuple[Problem, ...]


ReloadStageName = Literal["validate", "index", "swap"]


@dataclass(frozen=True)
class ReloadStage:
    """A reload stage that has just finished, for progress reporting."""

    name: ReloadStageName
    seconds: float  # since the reload started
    detail: str


ReloadProgress = Callable[[ReloadStage], None]


@dataclass(frozen=True)
class KBStatus:
    """What this process serves right now and how the last reload went."""

    kb_dir: Path
    kb_version: str
    articles: int
    passages: int
    loaded_at: dt.datetime
    loaded_by: str
    load_seconds: float
    last_reload: ReloadResult | None
    last_refusal: ReloadRefusal | None
    reloading: bool
    bundled: bool

    @property
    def last_attempt_refused(self) -> bool:
        """True when the most recent reload attempt was refused."""
        if self.last_refusal is None:
            return False
        done = self.last_reload.finished_at if self.last_reload is not None else None
        return done is None or self.last_refusal.at >= done


def bundled_kb_dir() -> Path:
    return Path(str(resources.files("knowledge") / "articles"))


def check_kb_dir(kb_dir: Path) -> list[Problem]:
    return list(load_kb_dir(kb_dir).problems)


# Bump when passage splitting or cleaning changes, so saved indexes are rebuilt.
PASSAGING_VERSION = "1"
# Below this many postings no query has enough of them to leave exact scoring of
# every match, so the compiled search is never needed.
PREPARE_FROM_POSTINGS = 100_000


def build_snapshot(
    loaded: LoadedKB,
    kb_dir: Path,
    *,
    analyzer: Analyzer | None = None,
    params: Bm25Params | None = None,
    loaded_by: str = "startup",
    data_dir: Path | None = None,
) -> Snapshot:
    started = time.perf_counter()
    analyzer = analyzer or default_analyzer()
    articles = {a.doc_id: a for a in loaded.articles}
    analyses = [analyse_text(a.text, analyzer) for a in loaded.articles]
    numbering: collections.defaultdict[str, int] = collections.defaultdict(
        itertools.count().__next__
    )
    token_ids = [
        np.fromiter(map(numbering.__getitem__, a.terms), dtype=np.int32, count=len(a.terms))
        for a in analyses
    ]
    contents, tokens, lengths = contents_of(list(articles), analyses, token_ids)
    index, term_of = Bm25Index.from_token_ids(tokens, lengths, list(numbering), params)
    if index.n_postings >= PREPARE_FROM_POSTINGS:
        # Large enough for queries to reach the compiled search: compile it now,
        # off the serving path, rather than on someone's question.
        index.prepare(wait=False)
    return Snapshot(
        kb_dir=kb_dir,
        kb_version=loaded.kb_version,
        articles=articles,
        contents=renumbered(contents, term_of),
        index=index,
        analyzer=analyzer,
        loaded_at=dt.datetime.now(dt.UTC),
        loaded_by=loaded_by,
        load_seconds=time.perf_counter() - started,
        weak_terms=frozenset(t for w in WEAK_WORDS for t in analyzer.tokenize(w)),
    )


def load_snapshot(
    kb_dir: Path, *, loaded_by: str = "startup", data_dir: Path | None = None
) -> Snapshot:
    """Validate and build; with ``data_dir``, first keep the content for audit replay."""
    loaded = load_kb_dir(kb_dir)
    if loaded.problems:
        raise KBInvalid(loaded.problems)
    if data_dir is not None:
        # An answer must never come from a version that cannot be replayed later.
        try:
            SavedVersions(data_dir).save(kb_dir, loaded.kb_version, files=loaded.files)
        except SavedVersionError as exc:
            raise KBInvalid([Problem(file=str(kb_dir), reason=str(exc))]) from exc
    return build_snapshot(loaded, kb_dir, loaded_by=loaded_by, data_dir=data_dir)


class KnowledgeBase:
    """Serves answers from one snapshot at a time; reloads swap snapshots atomically."""

    def __init__(self, snapshot: Snapshot, *, data_dir: Path | None = None) -> None:
        self._snapshot = snapshot
        self.kb_dir = snapshot.kb_dir
        self.data_dir = data_dir
        self._reload_lock = threading.Lock()
        self.last_reload: ReloadResult | None = None
        self.last_reload_error: KBInvalid | None = None
        self.last_refusal: ReloadRefusal | None = None
        # The full timeline of one snapshot, built on first use and dropped with it.
        self._timeline_cache: tuple[Snapshot, Timeline] | None = None

    @classmethod
    def load(
        cls, kb_dir: Path | None = None, *, data_dir: Path | None = None, loaded_by: str = "startup"
    ) -> KnowledgeBase:
        kb_dir = kb_dir if kb_dir is not None else bundled_kb_dir()
        snapshot = load_snapshot(kb_dir, loaded_by=loaded_by, data_dir=data_dir)
        log.info(
            "kb.loaded",
            kb_version=snapshot.kb_version,
            articles=len(snapshot.articles),
            passages=len(snapshot.passages),
            seconds=round(snapshot.load_seconds, 3),
        )
        return cls(snapshot, data_dir=data_dir)

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    @property
    def kb_version(self) -> str:
        return self._snapshot.kb_version

    def answer(self, question: str, top: int = 3) -> Answer:
        # One snapshot reference per question: a concurrent reload cannot mix versions.
        return compose_answer(self._snapshot, question, top)

    def timeline(self, topic: str | None = None) -> Timeline:
        snap = self._snapshot  # one snapshot per request, as for answers
        cached = self._timeline_cache
        if cached is None or cached[0] is not snap:
            cached = (snap, build_timeline(snap))
            self._timeline_cache = cached
        return filter_timeline(cached[1], topic, snap)

    def article(self, doc_id: str) -> Article | None:
        return self._snapshot.articles.get(doc_id)

    def reload(
        self, by: str = "cli", *, progress: ReloadProgress | None = None, wait: float = 0.0
    ) -> ReloadResult:
        """Validate and index the directory off the serving path, then swap it in.

        ``progress`` hears about each finished stage (validate, index, swap); ``wait``
        is how long to wait for a running reload before raising ``ReloadInProgress``.
        """
        acquired = (
            self._reload_lock.acquire(timeout=wait)
            if wait > 0
            else self._reload_lock.acquire(blocking=False)
        )
        if not acquired:
            raise ReloadInProgress("a reload is already running")
        try:
            started = time.perf_counter()
            old = self._snapshot
            loaded = load_kb_dir(self.kb_dir)
            problems = list(loaded.problems) or self._keep_for_replay(loaded)
            if problems:
                exc = KBInvalid(problems)
                self.last_reload_error = exc
                self.last_refusal = ReloadRefusal(dt.datetime.now(dt.UTC), by, exc.problems)
                raise exc
            _report(
                progress,
                "validate",
                started,
                f"{len(loaded.articles)} articles, kb_version {loaded.kb_version}",
            )
            new = build_snapshot(loaded, self.kb_dir, loaded_by=by, data_dir=self.data_dir)
            _report(progress, "index", started, f"{len(new.passages)} passages indexed")
            result = diff_snapshots(old, new, by=by, seconds=time.perf_counter() - started)
            self._snapshot = new
            self.last_reload, self.last_reload_error = result, None
            _report(progress, "swap", started, f"now serving kb_version {new.kb_version}")
            return result
        finally:
            self._reload_lock.release()

    def _keep_for_replay(self, loaded: LoadedKB) -> list[Problem]:
        """Store the version before it can serve (as ``load_snapshot`` does); [] if stored."""
        if self.data_dir is None:
            return []
        try:
            SavedVersions(self.data_dir).save(self.kb_dir, loaded.kb_version, files=loaded.files)
        except SavedVersionError as exc:
            return [Problem(file=str(self.kb_dir), reason=str(exc))]
        return []

    @property
    def reloading(self) -> bool:
        return self._reload_lock.locked()

    def status(self) -> KBStatus:
        snap = self._snapshot
        return KBStatus(
            kb_dir=self.kb_dir,
            kb_version=snap.kb_version,
            articles=len(snap.articles),
            passages=len(snap.passages),
            loaded_at=snap.loaded_at,
            loaded_by=snap.loaded_by,
            load_seconds=snap.load_seconds,
            last_reload=self.last_reload,
            last_refusal=self.last_refusal,
            reloading=self.reloading,
            bundled=_same_dir(self.kb_dir, bundled_kb_dir()),
        )


def _same_dir(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _report(
    progress: ReloadProgress | None, name: ReloadStageName, started: float, detail: str
) -> None:
    if progress is None:
        return
    try:
        progress(ReloadStage(name, round(time.perf_counter() - started, 3), detail))
    except Exception as exc:
        # A failed progress message (e.g. Slack unreachable) must not abort the reload.
        log.warning("kb.reload_progress_failed", stage=name, error=repr(exc))


def diff_snapshots(old: Snapshot, new: Snapshot, *, by: str, seconds: float) -> ReloadResult:
    # An article changes with its bytes or with its manifest metadata.
    old_hashes = {d: (a.content_hash, a.meta) for d, a in old.articles.items()}
    new_hashes = {d: (a.content_hash, a.meta) for d, a in new.articles.items()}
    return ReloadResult(
        old_version=old.kb_version,
        new_version=new.kb_version,
        added=tuple(sorted(new_hashes.keys() - old_hashes.keys())),
        removed=tuple(sorted(old_hashes.keys() - new_hashes.keys())),
        changed=tuple(
            sorted(
                d for d in new_hashes.keys() & old_hashes.keys() if new_hashes[d] != old_hashes[d]
            )
        ),
        passages_before=len(old.passages),
        passages_after=len(new.passages),
        articles_after=len(new.articles),
        seconds=round(seconds, 3),
        by=by,
        articles_before=len(old.articles),
        finished_at=dt.datetime.now(dt.UTC),
    )
