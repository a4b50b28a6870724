"""The knowledge-base service: load, answer, reload — the one entry point callers use."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import structlog

from knowledge.answering.answer import compose_answer
from knowledge.answering.claims import ClaimCheck, check_claims
from knowledge.answering.prompts import MAX_PROMPTS, Prompt, example_prompts
from knowledge.answering.timeline import Timeline, build_timeline, filter_timeline
from knowledge.models import Answer, Article, Problem
from knowledge.retrieval.index import Bm25Params
from knowledge.retrieval.spelling import Speller
from knowledge.retrieval.synonyms import compile_rules
from knowledge.retrieval.tokenizer import WEAK_WORDS, Analyzer, default_analyzer
from knowledge.store.loaded import Snapshot
from knowledge.store.saved import SavedVersionError, SavedVersions
from knowledge.store.versions import Base, Plan, build, prepare

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
    # Invalid articles left out (a reload that skips them); empty otherwise.
    skipped: tuple[Problem, ...] = ()

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
    """A load or reload stage that has just finished, or (``finished`` False) how far
    a long one has come: ``done`` of ``total`` articles."""

    name: ReloadStageName
    seconds: float  # since the reload started
    detail: str
    done: int | None = None
    total: int | None = None
    finished: bool = True


ReloadProgress = Callable[[ReloadStage], None]
# Updates of a running stage: the first after this long (short reloads show none), then
# at most one per interval; in the logs, one per LOG_PROGRESS_EVERY_S.
PROGRESS_AFTER_S = 1.0
PROGRESS_EVERY_S = 1.0
LOG_PROGRESS_EVERY_S = 5.0


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
    # Articles left out of the version served because they are invalid.
    skipped: tuple[Problem, ...] = ()

    @property
    def last_attempt_refused(self) -> bool:
        """True when the most recent reload attempt was refused."""
        if self.last_refusal is None:
            return False
        done = self.last_reload.finished_at if self.last_reload is not None else None
        return done is None or self.last_refusal.at >= done


def bundled_kb_dir() -> Path:
    return Path(str(resources.files("knowledge") / "articles"))


def check_kb_dir(kb_dir: Path, *, data_dir: Path | None = None) -> list[Problem]:
    """Every problem of the directory; with ``data_dir``, unchanged files are not read
    again (their analysis is stored)."""
    analyzer, params = default_analyzer(), Bm25Params()
    return list(prepare(kb_dir, analyzer=analyzer, params=params, data_dir=data_dir).problems)


# Below this many postings no query has enough of them to leave exact scoring of
# every match, so the compiled search is never needed.
PREPARE_FROM_POSTINGS = 100_000


class _Stages:
    """Reports the stages of one load: to the caller's progress callback (running
    stages throttled) and to the log."""

    def __init__(self, progress: ReloadProgress | None, *, by: str, kb_dir: Path) -> None:
        self.started = time.perf_counter()
        self._progress = progress
        self._by = by
        self._kb_dir = kb_dir
        self._last_sent = self._last_logged = self.started

    def finish(self, name: ReloadStageName, detail: str) -> None:
        seconds = round(time.perf_counter() - self.started, 3)
        log.info("kb.stage", stage=name, seconds=seconds, detail=detail, by=self._by)
        self._send(ReloadStage(name, seconds, detail))

    def step(self, what: str, done: int, total: int) -> None:
        """A ``StepProgress`` callback of ``knowledge.store.versions``."""
        now = time.perf_counter()
        name: ReloadStageName = "index" if what in ("index", "vocabulary") else "validate"
        detail = _STEP_DETAIL[what].format(done=done, total=total)
        if now - self._last_logged >= LOG_PROGRESS_EVERY_S:
            self._last_logged = now
            log.info("kb.progress", stage=name, done=done, total=total, detail=detail)
        if now - self.started < PROGRESS_AFTER_S or now - self._last_sent < PROGRESS_EVERY_S:
            return
        self._last_sent = now
        seconds = round(now - self.started, 3)
        self._send(ReloadStage(name, seconds, detail, done, total, finished=False))

    def _send(self, stage: ReloadStage) -> None:
        if self._progress is None:
            return
        try:
            self._progress(stage)
        except Exception as exc:
            # A failed progress message (e.g. Slack unreachable) must not abort the reload.
            log.warning("kb.reload_progress_failed", stage=stage.name, error=repr(exc))


_STEP_DETAIL = {
    "scan": "{total:,} article files found",
    "analyse": "analysing changed articles: {done:,} of {total:,}",
    "index": "building the index of {total:,} articles",
    "vocabulary": "counting the names and words of {total:,} articles",
}


def _accept(plan: Plan, skip_invalid: bool) -> tuple[Problem, ...]:
    """The problems to skip, or ``KBInvalid`` when the version must be refused."""
    if not plan.problems:
        return ()
    if skip_invalid and not plan.fatal and plan.articles > 0:
        return plan.problems
    raise KBInvalid(plan.problems)


def _keep_analyses(
    plan: Plan, *, analyzer: Analyzer, params: Bm25Params, data_dir: Path | None
) -> None:
    """Store a refused version's articles (not served): the next attempt, once the
    problems are fixed, reads and analyses only the files that changed since."""
    if data_dir is None or plan.packed is not None or plan.fatal or not plan.analysed:
        return
    try:
        build(plan, analyzer=analyzer, params=params, data_dir=data_dir)
    except Exception as exc:
        # Only a cache: the refusal itself must reach the caller.
        log.warning("kb.refused_version_unstored", error=repr(exc))


def _keep_for_replay(plan: Plan, data_dir: Path | None) -> None:
    """Store the version before it can serve: an answer must never come from a version
    that cannot be replayed later."""
    if data_dir is None:
        return
    try:
        SavedVersions(data_dir).save(plan.kb_dir, plan.kb_version, digests=plan.digests)
    except SavedVersionError as exc:
        raise KBInvalid([Problem(file=str(plan.kb_dir), reason=str(exc))]) from exc


def build_snapshot(
    plan: Plan,
    kb_dir: Path,
    *,
    analyzer: Analyzer,
    params: Bm25Params,
    loaded_by: str = "startup",
    data_dir: Path | None = None,
    skipped: tuple[Problem, ...] = (),
    stages: _Stages | None = None,
) -> Snapshot:
    """The index stage: the version's arrays and index (stored with ``data_dir``)."""
    started = time.perf_counter()
    built = build(
        plan,
        analyzer=analyzer,
        params=params,
        data_dir=data_dir,
        progress=stages.step if stages is not None else None,
    )
    index = built.index
    if index.n_postings >= PREPARE_FROM_POSTINGS:
        # Large enough for queries to reach the compiled search: compile it now,
        # off the serving path, rather than on someone's question.
        index.prepare(wait=False)
    synonyms, _ = compile_rules(plan.synonyms, analyzer.tokenize)
    words = built.vocabulary.words
    return Snapshot(
        kb_dir=kb_dir,
        kb_version=plan.kb_version,
        contents=built.contents,
        table=built.table,
        index=index,
        analyzer=analyzer,
        loaded_at=dt.datetime.now(dt.UTC),
        loaded_by=loaded_by,
        load_seconds=time.perf_counter() - (stages.started if stages else started),
        weak_terms=frozenset(t for w in WEAK_WORDS for t in analyzer.tokenize(w)),
        vocabulary=built.vocabulary,
        synonyms=synonyms,
        speller=Speller(words.items),
        skipped=skipped,
        invalid=dict(plan.invalid),
    )


def load_snapshot(
    kb_dir: Path,
    *,
    loaded_by: str = "startup",
    data_dir: Path | None = None,
    skip_invalid: bool = False,
    progress: ReloadProgress | None = None,
    shown_dir: Path | None = None,
) -> Snapshot:
    """Validate and build; with ``data_dir``, keep the content for audit replay first,
    reuse what is stored and store what is new.

    ``skip_invalid`` serves the valid articles of a directory with invalid ones (listed
    in ``Snapshot.skipped``); otherwise any problem raises ``KBInvalid``. ``shown_dir``
    is the directory the snapshot says it comes from (default ``kb_dir``).
    """
    stages = _Stages(progress, by=loaded_by, kb_dir=kb_dir)
    return _load(
        kb_dir,
        stages,
        loaded_by=loaded_by,
        data_dir=data_dir,
        skip_invalid=skip_invalid,
        shown_dir=shown_dir,
    )


def _load(
    kb_dir: Path,
    stages: _Stages,
    *,
    loaded_by: str,
    data_dir: Path | None,
    skip_invalid: bool,
    base: Snapshot | None = None,
    shown_dir: Path | None = None,
) -> Snapshot:
    """Prepare (validate), keep for replay, build (index). Without a data directory the
    unchanged articles of ``base`` are reused; with one, those of the newest stored
    version of the directory."""
    analyzer, params = default_analyzer(), Bm25Params()
    plan = prepare(
        kb_dir,
        analyzer=analyzer,
        params=params,
        data_dir=data_dir,
        base=_base_of(base) if base is not None and data_dir is None else None,
        progress=stages.step,
    )
    try:
        skipped = _accept(plan, skip_invalid)
    except KBInvalid:
        _keep_analyses(plan, analyzer=analyzer, params=params, data_dir=data_dir)
        raise
    _keep_for_replay(plan, data_dir)
    stages.finish("validate", _validated(plan, skipped))
    snapshot = build_snapshot(
        plan,
        shown_dir or kb_dir,
        analyzer=analyzer,
        params=params,
        loaded_by=loaded_by,
        data_dir=data_dir,
        skipped=skipped,
        stages=stages,
    )
    stages.finish("index", f"{snapshot.contents.n_passages:,} passages indexed")
    return snapshot


def _loaded(snapshot: Snapshot, data_dir: Path | None) -> None:
    log.info(
        "kb.loaded",
        kb_version=snapshot.kb_version,
        articles=len(snapshot.contents.doc_ids),
        passages=snapshot.contents.n_passages,
        skipped=len(snapshot.skipped),
        seconds=round(snapshot.load_seconds, 3),
    )
    if data_dir is not None and not snapshot.skipped:
        remember_good_version(data_dir, snapshot.kb_dir, snapshot.kb_version)


LAST_GOOD_FILE = "kb-last-good.json"


def remember_good_version(data_dir: Path, kb_dir: Path, kb_version: str) -> None:
    """Record ``kb_version`` as the last valid version of ``kb_dir`` (best effort)."""
    path = data_dir / LAST_GOOD_FILE
    try:
        known = json.loads(path.read_text(encoding="utf-8"))
        known = known if isinstance(known, dict) else {}
    except (OSError, ValueError):
        known = {}
    key = str(kb_dir.resolve())
    if known.get(key, {}).get("kb_version") == kb_version:
        return
    known[key] = {"kb_version": kb_version, "at": dt.datetime.now(dt.UTC).isoformat()}
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{LAST_GOOD_FILE}-", dir=data_dir)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(known, fh, indent=2, sort_keys=True)
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("kb.last_good_unrecorded", path=str(path), error=str(exc))


def last_good_version(data_dir: Path, kb_dir: Path) -> str | None:
    try:
        known = json.loads((data_dir / LAST_GOOD_FILE).read_text(encoding="utf-8"))
        version = known[str(kb_dir.resolve())]["kb_version"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return version if isinstance(version, str) else None


def _base_of(snap: Snapshot) -> Base:
    return Base(snap.contents, snap.table, snap.index.terms, snap.invalid, snap.vocabulary)


def _validated(plan: Plan, skipped: tuple[Problem, ...]) -> str:
    detail = f"{plan.articles:,} articles, kb_version {plan.kb_version}"
    if plan.packed is None:
        detail += f" ({plan.analysed:,} analysed, {plan.articles - plan.analysed:,} unchanged)"
    if skipped:
        detail += f"; {len(skipped)} problem(s) skipped"
    return detail


class KnowledgeBase:
    """Serves answers from one snapshot at a time; reloads swap snapshots atomically."""

    def __init__(
        self, snapshot: Snapshot, *, data_dir: Path | None = None, kb_dir: Path | None = None
    ) -> None:
        self._snapshot = snapshot
        self.kb_dir = kb_dir if kb_dir is not None else snapshot.kb_dir
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
        cls,
        kb_dir: Path | None = None,
        *,
        data_dir: Path | None = None,
        loaded_by: str = "startup",
        skip_invalid: bool = False,
        progress: ReloadProgress | None = None,
    ) -> KnowledgeBase:
        kb_dir = kb_dir if kb_dir is not None else bundled_kb_dir()
        snapshot = load_snapshot(
            kb_dir,
            loaded_by=loaded_by,
            data_dir=data_dir,
            skip_invalid=skip_invalid,
            progress=progress,
        )
        _loaded(snapshot, data_dir)
        return cls(snapshot, data_dir=data_dir)

    @classmethod
    def load_serving(
        cls, kb_dir: Path | None, *, data_dir: Path, skip_invalid: bool = False
    ) -> KnowledgeBase:
        """What a server's other processes (workers, the answerer) serve: the directory
        (its valid articles with ``skip_invalid``) or, while it is invalid, its last valid
        version, as ``licensebot serve`` does; raises ``KBInvalid`` when there is none."""
        try:
            return cls.load(kb_dir, data_dir=data_dir, skip_invalid=skip_invalid)
        except KBInvalid:
            kb = cls.load_last_good(kb_dir or bundled_kb_dir(), data_dir=data_dir)
            if kb is None:
                raise
            return kb

    @classmethod
    def load_last_good(
        cls, kb_dir: Path, *, data_dir: Path, loaded_by: str = "startup"
    ) -> KnowledgeBase | None:
        """The last version of ``kb_dir`` that loaded without problems, from its stored
        copy, or None when there is none: what a restart serves while the directory is
        invalid (reloads still read ``kb_dir``)."""
        version = last_good_version(data_dir, kb_dir)
        stored = SavedVersions(data_dir).path(version) if version else None
        if stored is None:
            return None
        try:
            snapshot = load_snapshot(
                stored, loaded_by=loaded_by, data_dir=data_dir, shown_dir=kb_dir
            )
        except KBInvalid as exc:
            log.warning("kb.last_good_unusable", kb_version=version, error=str(exc))
            return None
        log.warning(
            "kb.serving_last_good",
            kb_dir=str(kb_dir),
            kb_version=snapshot.kb_version,
            articles=len(snapshot.contents.doc_ids),
        )
        return cls(snapshot, data_dir=data_dir, kb_dir=kb_dir)

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
        self,
        by: str = "cli",
        *,
        progress: ReloadProgress | None = None,
        wait: float = 0.0,
        skip_invalid: bool = False,
    ) -> ReloadResult:
        """Validate and index the directory off the serving path, then swap it in.

        ``progress`` hears about each finished stage (validate, index, swap) and, in a
        long one, how far it has come; ``wait`` is how long to wait for a running
        reload before raising ``ReloadInProgress``. ``skip_invalid`` serves the valid
        articles when some are invalid (they are listed in the result's ``skipped``);
        otherwise any problem refuses the reload and the old version keeps serving.
        """
        acquired = (
            self._reload_lock.acquire(timeout=wait)
            if wait > 0
            else self._reload_lock.acquire(blocking=False)
        )
        if not acquired:
            raise ReloadInProgress("a reload is already running")
        try:
            old = self._snapshot
            stages = _Stages(progress, by=by, kb_dir=self.kb_dir)
            try:
                new = _load(
                    self.kb_dir,
                    stages,
                    loaded_by=by,
                    data_dir=self.data_dir,
                    skip_invalid=skip_invalid,
                    base=old,
                )
            except KBInvalid as exc:
                self.last_reload_error = exc
                self.last_refusal = ReloadRefusal(dt.datetime.now(dt.UTC), by, exc.problems)
                raise
            seconds = time.perf_counter() - stages.started
            result = diff_snapshots(old, new, by=by, seconds=seconds)
            self._snapshot = new
            self.last_reload, self.last_reload_error = result, None
            stages.finish("swap", f"now serving kb_version {new.kb_version}")
            _loaded(new, self.data_dir)
        finally:
            self._reload_lock.release()
        for listener in list(self._listeners):
            try:
                listener(result)
            except Exception as exc:
                log.warning("kb.reload_listener_failed", error=repr(exc))
        return result

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
            skipped=snap.skipped,
        )


def _same_dir(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def diff_snapshots(old: Snapshot, new: Snapshot, *, by: str, seconds: float) -> ReloadResult:
    # An article changes with its bytes or with its metadata (fingerprints hash both).
    old_hashes = old.fingerprints()
    new_hashes = new.fingerprints()
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
        skipped=new.skipped,
    )
