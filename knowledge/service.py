"""The knowledge-base service: load, answer, reload — the one entry point callers use."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import structlog

from knowledge.answering.answer import compose_answer
from knowledge.answering.answer_types import is_place
from knowledge.answering.claims import ClaimCheck, check_claims
from knowledge.answering.context import (
    PassageText,
    article_subjects,
    capitalised_runs,
    name_terms,
    ordinary_word,
)
from knowledge.answering.prompts import MAX_PROMPTS, Prompt, example_prompts
from knowledge.answering.timeline import Timeline, build_timeline, filter_timeline
from knowledge.ingest.loader import LoadedKB, load_kb_dir
from knowledge.ingest.passages import split_all
from knowledge.ingest.sentences import split_sentences
from knowledge.models import Answer, Article, Passage, Problem
from knowledge.retrieval.expansion import instance_index
from knowledge.retrieval.index import Bm25Index, Bm25Params
from knowledge.retrieval.index_store import load_or_build
from knowledge.retrieval.spelling import Speller
from knowledge.retrieval.synonyms import compile_rules
from knowledge.retrieval.tokenizer import WEAK_WORDS, Analyzer, Token, default_analyzer
from knowledge.store.loaded import SentenceTerms, Snapshot
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
    passages = tuple(split_all(loaded.articles))
    analysed = [analyzer.analyze(p.text) for p in passages]
    tokens = [[t.term for t in a] for a in analysed]
    sentences: list[tuple[SentenceTerms, ...]] = []
    sentence_starts: list[list[int]] = []
    for p in passages:
        spans = split_sentences(p.text) or [(0, len(p.text))]
        sentence_starts.append([s for s, _ in spans])
        sentences.append(
            tuple(
                SentenceTerms(p.start + s, p.start + e, frozenset(analyzer.tokenize(p.text[s:e])))
                for s, e in spans
            )
        )
    # A saved index is reused per kb_version; the signature covers how text becomes terms
    # and passages, which the content hash does not.
    index = (
        load_or_build(
            data_dir,
            loaded.kb_version,
            f"{analyzer.signature}|passages:{PASSAGING_VERSION}",
            lambda: tokens,
            params,
            expected_n_docs=len(passages),
        )
        if data_dir is not None
        else Bm25Index(tokens, params)
    )
    if index.n_postings >= PREPARE_FROM_POSTINGS:
        # Large enough for queries to reach the compiled search: compile it now,
        # off the serving path, rather than on someone's question.
        index.prepare(wait=False)
    passage_terms = tuple(frozenset(t) for t in tokens)
    vocabulary = _Vocabulary.of(analyzer, passages, analysed, sentence_starts)
    synonyms, _ = compile_rules(loaded.manifest.synonyms, analyzer.tokenize)
    return Snapshot(
        kb_dir=kb_dir,
        kb_version=loaded.kb_version,
        articles=articles,
        passages=passages,
        index=index,
        analyzer=analyzer,
        passage_terms=passage_terms,
        passage_sentences=tuple(sentences),
        loaded_at=dt.datetime.now(dt.UTC),
        loaded_by=loaded_by,
        load_seconds=time.perf_counter() - started,
        passage_pos={p.passage_id: i for i, p in enumerate(passages)},
        weak_terms=frozenset(t for w in WEAK_WORDS for t in analyzer.tokenize(w)),
        passage_tokens=tuple(tuple(t) for t in tokens),
        names=vocabulary.names,
        name_surfaces=vocabulary.surfaces,
        places=vocabulary.places,
        subjects=article_subjects(articles, passages, passage_terms, vocabulary.names, analyzer),
        synonyms=synonyms,
        instances=vocabulary.instances,
        speller=Speller(vocabulary.words.items),
    )


@dataclass(frozen=True)
class _Vocabulary:
    """The words of a knowledge base, read once when it is indexed."""

    names: frozenset[str]
    surfaces: dict[str, str]  # name term -> the commonest way the articles write it
    places: frozenset[str]
    instances: dict[str, tuple[tuple[tuple[str, ...], str], ...]]
    words: dict[str, str]  # every word (lower case) and stem -> its index term

    @classmethod
    def of(
        cls,
        analyzer: Analyzer,
        passages: tuple[Passage, ...],
        analysed: list[list[Token]],
        sentence_starts: list[list[int]],
    ) -> _Vocabulary:
        texts = [p.text for p in passages]
        lexicon = analyzer.lexicon
        names = name_terms(
            (
                (text, PassageText(a, starts))
                for text, a, starts in zip(texts, analysed, sentence_starts, strict=True)
            ),
            lambda word: ordinary_word(lexicon, word),
        )
        written: dict[str, Counter[str]] = {}
        words: dict[str, str] = {}
        runs: dict[tuple[str, ...], str] = {}
        for text, a in zip(texts, analysed, strict=True):
            for tok in a:
                if tok.term in names and tok.surface[:1].isupper():
                    written.setdefault(tok.term, Counter())[tok.surface] += 1
                if tok.surface.isalpha():
                    words.setdefault(tok.surface.casefold(), tok.term)
                    # Stems too: "aquire" is two edits from "acquired", one from "acquir".
                    words.setdefault(tok.term, tok.term)
            for terms, surface in capitalised_runs(text, a):
                runs.setdefault(terms, surface)
        surfaces = {t: c.most_common(1)[0][0] for t, c in written.items()}
        if lexicon is None:
            return cls(names, surfaces, frozenset(), {}, words)
        places = frozenset(t for t, w in surfaces.items() if is_place(lexicon, w))
        return cls(names, surfaces, places, instance_index(lexicon, runs.items()), words)


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
        self._prompts_cache: tuple[Snapshot, tuple[Prompt, ...]] | None = None
        self._listeners: list[Callable[[ReloadResult], None]] = []

    def on_reloaded(self, listener: Callable[[ReloadResult], None]) -> Callable[[], None]:
        """Call ``listener`` after every reload that swapped a snapshot in, whoever
        asked for it (e.g. to tell other replicas); its failures are logged, never raised.
        Returns the function that stops it."""
        self._listeners.append(listener)

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return remove

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

    def answer(self, question: str, top: int = 3, *, skip: int = 0) -> Answer:
        """The answer with ``top`` quotes, of which the first ``skip`` are left out (the
        pages of it already shown)."""
        # One snapshot reference per question: a concurrent reload cannot mix versions.
        answer = compose_answer(self._snapshot, question, top)
        return answer.model_copy(update={"quotes": answer.quotes[skip:]}) if skip else answer

    def timeline(self, topic: str | None = None) -> Timeline:
        snap = self._snapshot  # one snapshot per request, as for answers
        return filter_timeline(self._full_timeline(snap), topic, snap)

    def _full_timeline(self, snap: Snapshot) -> Timeline:
        cached = self._timeline_cache
        if cached is None or cached[0] is not snap:
            cached = (snap, build_timeline(snap))
            self._timeline_cache = cached
        return cached[1]

    def check_claims(self, text: str, *, said_on: dt.date | None = None) -> ClaimCheck:
        return check_claims(self._snapshot, text, said_on=said_on)

    def example_prompts(self, limit: int = MAX_PROMPTS) -> tuple[Prompt, ...]:
        """Questions the knowledge base answers, from its main names and latest events."""
        snap = self._snapshot
        cached = self._prompts_cache
        if cached is None or cached[0] is not snap:
            cached = (snap, example_prompts(snap, self._full_timeline(snap), MAX_PROMPTS * 2))
            self._prompts_cache = cached
        return cached[1][:limit]

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
        finally:
            self._reload_lock.release()
        for listener in list(self._listeners):
            try:
                listener(result)
            except Exception as exc:
                log.warning("kb.reload_listener_failed", error=repr(exc))
        return result

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
