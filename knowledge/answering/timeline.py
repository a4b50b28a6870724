"""The events the articles report, oldest first, each with every article reporting it.

An *event* is a sentence that dates something: it holds a date expression
(``knowledge.answering.dates``), resolved against its article's publication date. One more
kind is dated without an expression, by the convention of news writing: an
article's lead (the first paragraph, at most two sentences) reports the news that
occasioned it, so a lead sentence that names no date is placed in the seven days
up to the publication date (``basis="lead"``, always estimated). Nothing else is
dated: a sentence without a date is no event, and an expression that needs a
publication date the manifest does not give stays undated (listed last), never
guessed.

Sentences from different articles that report the same event are merged into
one event listing every source. Whether two sentences report the same event is
judged from their dates and their wording: the IDF-weighted Jaccard overlap of
their Analyzer terms (date words left out; weights as in answers) must reach a
threshold that depends on how the dates relate. Equal day/week/month ranges need
the least shared wording, nested ranges more, and disjoint ranges the most: those
are the *same event with conflicting dates*, kept as one event flagged
``conflict`` with the other dates listed as ``alternatives`` (the event's own
date is the earliest), never silently merged into one date. A lead's week only
joins a date that lies inside it. Pairs must share a term that most passages do
not contain; clusters grow by average linkage and hold at most one sentence per
article. The event's sentence is its most precise source (then stated before
lead, then not estimated, then article order).

``filter_timeline`` keeps the events relevant to a topic with the answer engine's
rule: the topic's content terms, weighted by rarity in the knowledge base, must be
covered to ``MIN_COVERAGE`` by the event's sentences; events are scored with a
``Bm25Index`` over the event sentences.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

# The answer engine's own query analysis, so that a topic selects events by the rules
# that select passages for an answer (private there: if it moves, this import fails
# loudly rather than the two rule sets drifting apart).
from knowledge.answering.answer import MIN_COVERAGE, QueryTerm, name_groups
from knowledge.answering.dates import (
    Precision,
    ResolvedDate,
    find_date_expressions,
    news_window,
    resolve,
)
from knowledge.answering.query import read_query
from knowledge.models import Article, Attribution, Frozen, Passage
from knowledge.retrieval.index import Bm25Index
from knowledge.store.loaded import Snapshot

Basis = Literal["text", "lead"]

# Weighted Jaccard a pair of sentences needs, by how their dates relate. Equal
# day/week/month ranges are strong evidence on their own; nested ranges ("2019" and
# "May 2019", a lead's week and a day in it) less so; different dates for the same
# event must be carried by nearly the same wording before a conflict is claimed.
SAME_DATE_SIMILARITY = 0.10
NESTED_DATE_SIMILARITY = 0.15
CONFLICT_SIMILARITY = 0.35
# An undated sentence joins a dated event only on the same strong evidence.
UNDATED_SIMILARITY = 0.35

# News leads are one or two sentences; a longer first paragraph is not all lead.
LEAD_SENTENCES = 2
# A lead that does not end like a sentence is a caption or a heading, not news.
_SENTENCE_END_RE = re.compile(r"""[.!?…]["'”’)\]]*\Z""")

NO_WORDS_REASON = "The topic has no words to look up."
TOPIC_HINT = "Give a topic in words, for example `/timeline entity list` or `/timeline Ren`."


class TimelineSource(Attribution):
    """One article's sentence reporting an event."""

    doc_id: str
    passage_id: str
    text: str  # the sentence, verbatim: article.text[start:end]
    start: int
    end: int
    date_text: str  # the date expression as written; "" for a lead
    basis: Basis = "text"
    date: ResolvedDate | None = None


class DateAlternative(Frozen):
    """A date some sources give an event that disagrees with the event's own date."""

    date: ResolvedDate
    date_text: str
    doc_ids: tuple[str, ...]


class TimelineEvent(Frozen):
    date: ResolvedDate | None  # None: undated
    date_text: str
    basis: Basis
    text: str  # the representative sentence, verbatim (sources[0].text)
    sources: tuple[TimelineSource, ...]  # the representative first
    conflict: bool = False
    alternatives: tuple[DateAlternative, ...] = ()
    # Relevance to the topic when the timeline was filtered by one.
    score: float | None = None
    matched_terms: tuple[str, ...] = ()

    @property
    def doc_id(self) -> str:
        return self.sources[0].doc_id

    @property
    def passage_id(self) -> str:
        return self.sources[0].passage_id

    @property
    def iso_date(self) -> str | None:
        return self.date.iso if self.date is not None else None

    @property
    def precision(self) -> Precision | None:
        return self.date.precision if self.date is not None else None

    @property
    def estimated(self) -> bool:
        return self.date.estimated if self.date is not None else False

    @property
    def date_label(self) -> str:
        """Human wording of the date, e.g. ``≈ week of 16 Sep 2019`` or ``undated``."""
        return self.date.label if self.date is not None else "undated"

    def to_json_dict(self) -> dict[str, object]:
        return {
            "date": self.iso_date,
            "precision": self.precision.value if self.precision is not None else None,
            "estimated": self.estimated,
            "date_text": self.date_text,
            "text": self.text,
            "sources": [_source_json(s) for s in self.sources],
            "conflict": self.conflict,
            "alternatives": [
                {
                    "date": a.date.iso,
                    "precision": a.date.precision.value,
                    "estimated": a.date.estimated,
                    "date_text": a.date_text,
                    "doc_ids": list(a.doc_ids),
                }
                for a in self.alternatives
            ],
            "doc_id": self.doc_id,
            "passage_id": self.passage_id,
            "basis": self.basis,
            "date_end": self.date.end.isoformat() if self.date is not None else None,
            "score": self.score,
            "matched_terms": list(self.matched_terms),
        }


class Timeline(Frozen):
    kb_version: str
    topic: str | None = None
    events: tuple[TimelineEvent, ...] = ()
    # Why there are no events (a topic matching nothing, an empty knowledge base).
    reason: str | None = None
    hint: str | None = None
    unmatched_terms: tuple[str, ...] = ()

    @property
    def dated(self) -> tuple[TimelineEvent, ...]:
        return tuple(e for e in self.events if e.date is not None)

    @property
    def undated(self) -> tuple[TimelineEvent, ...]:
        return tuple(e for e in self.events if e.date is None)

    def audit_fields(self, *, truncated: bool = False) -> dict[str, object]:
        """What an ``answer.served`` record says of this timeline (``truncated``: the
        topic had to be shortened); replay rebuilds it from the topic."""
        return {
            "question": self.topic,
            "answered": bool(self.events),
            "reason": self.reason,
            "truncated": truncated,
            "kb_version": self.kb_version,
            "top": None,
            "quotes": self.audit_quotes(),
        }

    def audit_quotes(self) -> list[dict[str, object]]:
        """Every sentence shown, as spans of the articles (the audit trail's quotes)."""
        return [
            {
                "passage_id": s.passage_id,
                "doc_id": s.doc_id,
                "start": s.start,
                "end": s.end,
                "text": s.text,
                "date": s.date.iso if s.date is not None else None,
            }
            for e in self.events
            for s in e.sources
        ]

    def to_json_dict(self) -> dict[str, object]:
        """The public ``timeline --json`` shape (a contract: keep the listed keys stable)."""
        return {
            "topic": self.topic,
            "kb_version": self.kb_version,
            "events": [e.to_json_dict() for e in self.events],
            "reason": self.reason,
            "hint": self.hint,
            "unmatched_terms": list(self.unmatched_terms),
        }


def _source_json(s: TimelineSource) -> dict[str, object]:
    return {
        "doc_id": s.doc_id,
        "passage_id": s.passage_id,
        "title": s.title,
        "publisher": s.publisher,
        "published": s.published.isoformat() if s.published is not None else None,
        "published_estimated": s.date_estimated,
        "text": s.text,
        "start": s.start,
        "end": s.end,
        "date_text": s.date_text,
        "date": s.date.iso if s.date is not None else None,
        "precision": s.date.precision.value if s.date is not None else None,
        "estimated": s.date.estimated if s.date is not None else False,
        "basis": s.basis,
    }


# ------------------------------------------------------------------------ extraction


@dataclass(frozen=True)
class _Mention:
    """One dated (or undatable) sentence of one article: a candidate event source."""

    source: TimelineSource
    order: tuple[str, int, int]  # doc_id, sentence start, expression position
    terms: frozenset[str]

    @property
    def doc_id(self) -> str:
        return self.source.doc_id

    @property
    def date(self) -> ResolvedDate | None:
        return self.source.date


def _mentions(snapshot: Snapshot) -> list[_Mention]:
    by_doc: dict[str, list[tuple[Passage, int, int]]] = defaultdict(list)
    for i, passage in enumerate(snapshot.passages):
        for start, end in snapshot.sentence_spans(i):
            by_doc[passage.doc_id].append((passage, start, end))
    out: list[_Mention] = []
    for doc_id, sentences in by_doc.items():
        article = snapshot.articles.get(doc_id)
        if article is None:
            continue
        lead = _lead_starts(article.text, [start for _, start, _ in sentences])
        for passage, start, end in sentences:
            out.extend(
                _sentence_mentions(snapshot, article, passage, start, end, lead=start in lead)
            )
    return out


def _lead_starts(text: str, starts: Sequence[int]) -> set[int]:
    """The article's lead: its first paragraph, at most ``LEAD_SENTENCES`` sentences."""
    lead = list(starts[:1])
    for start in starts[1:LEAD_SENTENCES]:
        if "\n" in text[lead[0] : start]:
            break
        lead.append(start)
    return set(lead)


def _sentence_mentions(
    snapshot: Snapshot, article: Article, passage: Passage, start: int, end: int, *, lead: bool
) -> list[_Mention]:
    text = article.text[start:end]
    meta = article.meta
    exprs = [e for e in find_date_expressions(text) if not e.dateline]
    if not exprs and not lead:
        return []
    date_spans = [(e.start, e.end) for e in exprs]
    terms = frozenset(
        t.term
        for t in snapshot.analyzer.analyze(text)
        if not any(s < t.end and t.start < e for s, e in date_spans)
    )
    if not terms:
        return []  # a date on its own ("October 22, 2019") reports nothing

    def mention(date: ResolvedDate | None, date_text: str, basis: Basis, pos: int) -> _Mention:
        source = TimelineSource(
            **meta.attribution(),
            doc_id=article.doc_id,
            passage_id=passage.passage_id,
            text=text,
            start=start,
            end=end,
            date_text=date_text,
            basis=basis,
            date=date,
        )
        return _Mention(source=source, order=(article.doc_id, start, pos), terms=terms)

    if not exprs:
        if lead and meta.published is not None and _SENTENCE_END_RE.search(text):
            return [mention(news_window(meta.published), "", "lead", 0)]
        return []
    found: list[_Mention] = []
    seen: set[tuple[dt.date, dt.date, Precision] | None] = set()
    for expr in exprs:
        date = resolve(expr, meta.published, date_estimated=meta.date_estimated)
        key = (date.start, date.end, date.precision) if date is not None else None
        if key in seen:
            continue  # "In May ... in May": one sentence reports one event per date
        seen.add(key)
        found.append(mention(date, expr.text, "text", expr.start))
    return found


# -------------------------------------------------------------------------- merging


def _required_similarity(a: _Mention, b: _Mention) -> float | None:
    """How much wording two sentences must share to be one event; None: never."""
    da, db = a.date, b.date
    if da is None or db is None:
        return UNDATED_SIMILARITY
    lead_a, lead_b = a.source.basis == "lead", b.source.basis == "lead"
    if lead_a or lead_b:
        if lead_a and lead_b:
            return NESTED_DATE_SIMILARITY if da.overlaps(db) else None
        # A lead's week is an inference: it can only take a date that falls inside it.
        window, stated = (da, db) if lead_a else (db, da)
        inside = window.start <= stated.start and stated.end <= window.end
        return NESTED_DATE_SIMILARITY if inside else None
    if (da.start, da.end) == (db.start, db.end):
        # Many things happen in one year: a shared year is no more than nesting.
        return NESTED_DATE_SIMILARITY if da.precision is Precision.YEAR else SAME_DATE_SIMILARITY
    return NESTED_DATE_SIMILARITY if da.overlaps(db) else CONFLICT_SIMILARITY


class _Weights:
    """The answer engine's rarity weight of a term, from the passage index."""

    def __init__(self, snapshot: Snapshot) -> None:
        self._n = snapshot.index.n_docs
        self._index = snapshot.index

    def __call__(self, term: str) -> float:
        return math.log(1.0 + self._n / (self._index.doc_freq(term) + 0.5))

    def distinctive(self, term: str) -> bool:
        """A term most passages contain ("Huawei" here) identifies no event by itself."""
        return self._index.doc_freq(term) * 2 <= self._n


def _similar_pairs(
    mentions: Sequence[_Mention], weights: _Weights
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, weighted Jaccard) for pairs of different articles sharing a distinctive term.

    Computed with sparse products: a large knowledge base has many thousand mentions.
    """
    empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0))
    if len(mentions) < 2:
        return empty
    vocab: dict[str, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    for i, m in enumerate(mentions):
        for term in m.terms:
            rows.append(i)
            cols.append(vocab.setdefault(term, len(vocab)))
    terms = list(vocab)
    w = np.array([weights(t) for t in terms])
    keep = np.array([weights.distinctive(t) for t in terms], dtype=bool)
    # Imported here: scipy costs every start (a one-question CLI run) a tenth of a second.
    from scipy import sparse  # noqa: PLC0415

    x = sparse.csr_matrix(
        (np.ones(len(rows)), (np.array(rows), np.array(cols))), shape=(len(mentions), len(vocab))
    )
    xw = x.multiply(w.reshape(1, -1)).tocsr()
    shared = sparse.triu(xw[:, keep] @ x[:, keep].T, k=1).tocoo()
    i, j = shared.row.astype(np.int64), shared.col.astype(np.int64)
    doc_ids = {d: n for n, d in enumerate(sorted({m.doc_id for m in mentions}))}
    doc = np.array([doc_ids[m.doc_id] for m in mentions])
    other = doc[i] != doc[j]
    i, j = i[other], j[other]
    if i.size == 0:
        return empty
    common = ~keep
    inter = shared.data[other]
    if common.any():
        xc = xw[:, common]
        inter = inter + np.asarray(xc[i].multiply(x[:, common][j]).sum(axis=1)).ravel()
    total = np.asarray(xw.sum(axis=1)).ravel()
    return i, j, inter / (total[i] + total[j] - inter)


def _links(mentions: Sequence[_Mention], weights: _Weights) -> dict[tuple[int, int], float | None]:
    """Strength of each pair relative to what it needs (>= 1 links it); None: incompatible.

    Pairs sharing less than half of the smallest requirement are left out (strength 0).
    """
    floor = 0.5 * min(SAME_DATE_SIMILARITY, NESTED_DATE_SIMILARITY)
    out: dict[tuple[int, int], float | None] = {}
    for a, b, sim in zip(*_similar_pairs(mentions, weights), strict=True):
        if sim < floor:
            continue
        need = _required_similarity(mentions[a], mentions[b])
        out[(int(a), int(b))] = None if need is None else float(sim) / need
    return out


def _cluster(mentions: Sequence[_Mention], weights: _Weights) -> list[list[int]]:
    """Average-linkage clusters with at most one sentence per article.

    Pairs are considered strongest first; two clusters join when no known pair across
    them is incompatible and their average strength (pairs left out count 0) is at
    least 1. Link sums between clusters are kept up to date as clusters merge.
    """
    links = _links(mentions, weights)
    owner = list(range(len(mentions)))
    members: dict[int, list[int]] = {i: [i] for i in range(len(mentions))}
    docs: dict[int, set[str]] = {i: {m.doc_id} for i, m in enumerate(mentions)}
    sums: dict[int, dict[int, float]] = defaultdict(dict)
    bad: dict[int, set[int]] = defaultdict(set)
    for (a, b), strength in links.items():
        if strength is None:
            bad[a].add(b)
            bad[b].add(a)
        else:
            sums[a][b] = sums[b][a] = strength
    ranked = sorted((-s, a, b) for (a, b), s in links.items() if s is not None and s >= 1.0)
    for _neg, a, b in ranked:
        ci, cj = owner[a], owner[b]
        if ci == cj or cj in bad[ci] or not docs[ci].isdisjoint(docs[cj]):
            continue
        if sums[ci].get(cj, 0.0) / (len(members[ci]) * len(members[cj])) < 1.0:
            continue
        if len(members[ci]) < len(members[cj]):
            ci, cj = cj, ci
        _absorb(ci, cj, sums, bad)
        for k in members[cj]:
            owner[k] = ci
        members[ci].extend(members.pop(cj))
        docs[ci] |= docs.pop(cj)
    return [sorted(ids, key=lambda k: mentions[k].order) for ids in members.values()]


def _absorb(ci: int, cj: int, sums: dict[int, dict[int, float]], bad: dict[int, set[int]]) -> None:
    """Move cluster ``cj``'s link sums and incompatibilities onto ``ci``."""
    for k, v in sums.pop(cj, {}).items():
        del sums[k][cj]
        if k != ci:
            sums[ci][k] = sums[k][ci] = sums[ci].get(k, 0.0) + v
    for k in bad.pop(cj, set()):
        bad[k].discard(cj)
        if k != ci:
            bad[ci].add(k)
            bad[k].add(ci)


# ------------------------------------------------------------------------ assembling


@dataclass(frozen=True)
class _Dated:
    mention: _Mention
    date: ResolvedDate


def _rank_key(d: _Dated) -> tuple[int, bool, bool, tuple[str, int, int]]:
    """Which source speaks for an event: the most precise, stated, non-estimated date."""
    return (d.date.span_days, d.mention.source.basis == "lead", d.date.estimated, d.mention.order)


def _date_groups(dated: list[_Dated]) -> list[list[_Dated]]:
    """Sources whose dates overlap form one group; several groups are a conflict."""
    groups: list[list[_Dated]] = []
    for d in sorted(dated, key=lambda d: (d.date.start, d.date.end, d.mention.order)):
        for group in groups:
            if any(d.date.overlaps(g.date) for g in group):
                group.append(d)
                break
        else:
            groups.append([d])
    return groups


def _event(cluster: list[_Mention]) -> TimelineEvent:
    dated = [_Dated(m, m.date) for m in cluster if m.date is not None]
    if not dated:
        rep = min(cluster, key=lambda m: m.order)
        return _assemble(rep, cluster, None, ())
    groups = _date_groups(dated)
    reps = [min(g, key=_rank_key) for g in groups]
    # The earliest date speaks for the event; the others are shown beside it.
    primary = min(range(len(groups)), key=lambda k: (reps[k].date.start, _rank_key(reps[k])))
    alternatives = tuple(
        DateAlternative(
            date=r.date,
            date_text=r.mention.source.date_text,
            doc_ids=tuple(sorted({d.mention.doc_id for d in g})),
        )
        for k, (r, g) in enumerate(zip(reps, groups, strict=True))
        if k != primary
    )
    return _assemble(reps[primary].mention, cluster, reps[primary].date, alternatives)


def _assemble(
    rep: _Mention,
    cluster: list[_Mention],
    date: ResolvedDate | None,
    alternatives: tuple[DateAlternative, ...],
) -> TimelineEvent:
    others = sorted((m for m in cluster if m is not rep), key=lambda m: m.order)
    return TimelineEvent(
        date=date,
        date_text=rep.source.date_text,
        basis=rep.source.basis,
        text=rep.source.text,
        sources=(rep.source, *(m.source for m in others)),
        conflict=bool(alternatives),
        alternatives=alternatives,
    )


def _chronological(events: Iterable[TimelineEvent]) -> tuple[TimelineEvent, ...]:
    def key(e: TimelineEvent) -> tuple[int, dt.date, dt.date, str, int]:
        if e.date is None:
            return (1, dt.date.max, dt.date.max, e.doc_id, e.sources[0].start)
        return (0, e.date.start, e.date.end, e.doc_id, e.sources[0].start)

    return tuple(sorted(events, key=key))


def build_timeline(snapshot: Snapshot) -> Timeline:
    """Every event the knowledge base reports, oldest first, undated ones last."""
    mentions = _mentions(snapshot)
    clusters = _cluster(mentions, _Weights(snapshot))
    events = _chronological(_event([mentions[i] for i in ids]) for ids in clusters)
    reason = None if events else "The articles report no events."
    return Timeline(kb_version=snapshot.kb_version, events=events, reason=reason)


# ------------------------------------------------------------------------- filtering


def _quoted(words: Sequence[str]) -> str:
    quoted = [f"“{w}”" for w in words]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _relevant(
    snapshot: Snapshot,
    qterms: Sequence[QueryTerm],
    names: Sequence[frozenset[str]],
    present: frozenset[str],
) -> list[QueryTerm] | None:
    """The matched topic terms when the sentences are about the topic, else None.

    The answer engine's matched-content-terms rule: at least two topic terms (or the
    only one), not only everyday words, every name named, and ``MIN_COVERAGE`` of the
    topic's rarity-weighted content.
    """
    matched = [q for q in qterms if q.term in present]
    if not matched or len(matched) < min(2, len(qterms)):
        return None
    if all(q.term in snapshot.weak_terms for q in matched):
        return None
    if any(group.isdisjoint(present) for group in names):
        return None
    total = sum(q.weight for q in qterms)
    return matched if sum(q.weight for q in matched) / total >= MIN_COVERAGE else None


def filter_timeline(timeline: Timeline, topic: str | None, snapshot: Snapshot) -> Timeline:
    """The events whose sentences are about ``topic``; no topic (or blank) keeps all.

    Kept events stay in chronological order and carry their BM25 score (over the
    event sentences) and the topic words they matched.
    """
    if topic is None or not topic.strip():
        return timeline.model_copy(update={"topic": None})
    topic = " ".join(topic.split())
    empty = Timeline(kb_version=timeline.kb_version, topic=topic)
    tokens = snapshot.analyzer.analyze(topic)
    if not tokens:
        return empty.model_copy(update={"reason": NO_WORDS_REASON, "hint": TOPIC_HINT})
    query = read_query(snapshot, tokens, topic)
    qterms = query.terms
    unknown = tuple(q.surface for q in qterms if q.df == 0)
    if any(q.proper for q in qterms if q.df == 0):
        reason = f"No event in the timeline: no article mentions {_quoted(unknown)}."
        return empty.model_copy(update={"reason": reason, "unmatched_terms": unknown})
    names = name_groups(query)
    event_terms = [
        [t.term for s in e.sources for t in snapshot.analyzer.analyze(s.text)]
        for e in timeline.events
    ]
    scores = Bm25Index(event_terms).scores([q.term for q in qterms])
    kept: list[TimelineEvent] = []
    for e, terms, score in zip(timeline.events, event_terms, scores, strict=True):
        matched = _relevant(snapshot, qterms, names, frozenset(terms))
        if matched is None:
            continue
        update = {
            "score": round(float(score), 6),
            "matched_terms": tuple(q.surface for q in matched),
        }
        kept.append(e.model_copy(update=update))
    if kept:
        return empty.model_copy(update={"events": tuple(kept), "unmatched_terms": unknown})
    if unknown:
        reason = f"No event in the timeline: no article mentions {_quoted(unknown)}."
    else:
        reason = f"No event in the timeline is about {_quoted([topic])}."
    return empty.model_copy(update={"reason": reason, "unmatched_terms": unknown})
