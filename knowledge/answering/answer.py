"""Compose an answer: verbatim quotes, attribution, corroboration, or a plain refusal.

Whether the knowledge base answers is decided by *what matched* — which content terms
of the question a passage contains, weighted by how rare each term is — never by a raw
BM25 score, which is positive even for passages that only share ubiquitous words.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from knowledge.models import NOT_IN_KB, Answer, Quote, Refusal, SourceRef
from knowledge.retrieval.tokenizer import Token
from knowledge.store.loaded import Snapshot

MAX_QUESTION_CHARS = 1000
# Share of the question's rarity-weighted content a passage must contain to be quoted;
# chosen on the bundled question set (docs/retrieval.md has the sweep).
MIN_COVERAGE = 0.25
CANDIDATES = 40
# ln(1 + N / (df + 0.5)) at df ≈ N/2: terms at least this common are the KB's topic.
_TOPIC_WEIGHT = math.log(3.0)
# Two sentences carry "the same statement" when most of the shorter one's terms recur.
SAME_STATEMENT_OVERLAP = 0.6
SAME_STATEMENT_MIN_SHARED = 4

USAGE_HINT = (
    "Ask a question in words, for example: “Which US companies is Huawei talking to?” "
    "— `/kb sources` lists what the knowledge base covers."
)
NOT_FOUND_HINT = "`/kb sources` lists the articles the knowledge base holds."


# What a question asks for: "how many X", "what is the X of Y", "Y's X". When the articles
# never mention X, passages about Y do not answer it, however well they match Y.
_FOCUS_RES = (
    re.compile(r"\bhow\s+(?:many|much)\s+(?P<focus>[^\W\d_][\w-]*)", re.IGNORECASE),
    re.compile(
        r"\b(?:what|who|which)(?:'s|\s+(?:is|was|are|were))\s+(?:the|a|an)\s+"
        r"(?P<focus>[\w-]+(?:\s+[\w-]+)?)\s+(?:of|for|at|in)\b",
        re.IGNORECASE,
    ),
    re.compile(
        r"\b(?:what|which)\s+(?:is|was|are|were)\s+\w+['’]s\s+(?P<focus>[\w-]+)", re.IGNORECASE
    ),
)


_COMMAND_WORDS = frozenset(
    """
    describe explain list summarize summarise give show find name compare outline define
    detail recap quote cite
    """.split()
)


@dataclass(frozen=True)
class QueryTerm:
    term: str
    surface: str
    weight: float
    df: int
    proper: bool  # capitalised mid-question: a name the articles must mention


# A word no article contains is either a paraphrase ("shown" vs "show") or the subject the
# knowledge base lacks; it weighs as much as a word seen once, discounted (docs/retrieval.md).
UNKNOWN_TERM_DISCOUNT = 0.8


def _weight(n_docs: int, df: int) -> float:
    if df == 0:
        return UNKNOWN_TERM_DISCOUNT * math.log(1.0 + n_docs / 1.5)
    return math.log(1.0 + n_docs / (df + 0.5))


def query_terms(snap: Snapshot, tokens: list[Token], question: str) -> list[QueryTerm]:
    first_word_at = len(question) - len(question.lstrip(" \t\n\"'“‘(*_>"))
    shouting = question.upper() == question
    terms: dict[str, QueryTerm] = {}
    for tok in tokens:
        if tok.term in terms:
            continue
        df = snap.index.doc_freq(tok.term)
        proper = (
            not shouting
            and tok.surface[:1].isupper()
            # Question words are stopwords; a capitalised first word that is not a
            # command ("Explain …") is a name, as in "McCaskill's career".
            and (tok.start > first_word_at or tok.surface.casefold() not in _COMMAND_WORDS)
        )
        terms[tok.term] = QueryTerm(
            tok.term, tok.surface, _weight(snap.index.n_docs, df), df, proper
        )
    return list(terms.values())


def _focus_terms(snap: Snapshot, question: str) -> set[str]:
    for pattern in _FOCUS_RES:
        m = pattern.search(question)
        if m:
            return set(snap.analyzer.tokenize(m.group("focus")))
    return set()


def name_groups(tokens: list[Token], qterms: list[QueryTerm]) -> list[frozenset[str]]:
    """Runs of capitalised question words ("Vincent Pang"); a passage must name each run
    with at least one of its words."""
    # A name in most passages is the knowledge base's own subject, not a constraint.
    proper = {q.term for q in qterms if q.proper and q.df > 0 and q.weight > _TOPIC_WEIGHT}
    groups: list[set[str]] = []
    prev_end: int | None = None
    for tok in tokens:
        if tok.term not in proper:
            prev_end = None
            continue
        if prev_end is not None and groups and tok.start - prev_end <= 1:
            groups[-1].add(tok.term)
        else:
            groups.append({tok.term})
        prev_end = tok.end
    return [frozenset(g) for g in groups]


def _names_in_context(snap: Snapshot, i: int, names: list[frozenset[str]]) -> bool:
    """News text names someone once, then says "he" or "the company": a name counts when
    the passage or the one before it in the same article carries it."""
    context = snap.terms_of(i)
    if i > 0 and snap.doc_of(i - 1) == snap.doc_of(i):
        context = context | snap.terms_of(i - 1)
    return all(not context.isdisjoint(group) for group in names)


def _quoted(words: list[str]) -> str:
    quoted = [f"“{w}”" for w in words]
    if len(quoted) <= 2:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _refusal(
    question: str,
    snap: Snapshot,
    kind: Refusal,
    reason: str,
    *,
    truncated: bool,
    hint: str | None,
    unmatched: list[str],
) -> Answer:
    return Answer(
        question=question,
        answered=False,
        reason=reason,
        refusal=kind,
        kb_version=snap.kb_version,
        truncated=truncated,
        hint=hint,
        unmatched_terms=tuple(unmatched),
    )


def _truncate(question: str) -> tuple[str, bool]:
    question = " ".join(question.split())
    if len(question) <= MAX_QUESTION_CHARS:
        return question, False
    cut = question.rfind(" ", 0, MAX_QUESTION_CHARS)
    return question[: cut if cut > MAX_QUESTION_CHARS // 2 else MAX_QUESTION_CHARS], True


def compose_answer(snap: Snapshot, question: str, top: int = 3) -> Answer:
    top = max(1, min(top, 10))
    original = question
    question, truncated = _truncate(question)
    tokens = snap.analyzer.analyze(question)
    if not tokens:
        if question.strip():
            kind, reason = Refusal.NO_WORDS, "The question has no words to look up."
        else:
            kind, reason = Refusal.EMPTY_QUESTION, "The question is empty."
        return _refusal(
            original,
            snap,
            kind,
            reason,
            truncated=truncated,
            hint=USAGE_HINT,
            unmatched=[],
        )
    if not snap.contents.n_passages:
        return _refusal(
            original,
            snap,
            Refusal.EMPTY_KB,
            "The knowledge base is empty.",
            truncated=truncated,
            hint=NOT_FOUND_HINT,
            unmatched=[],
        )
    qterms = query_terms(snap, tokens, question)
    unknown = [q for q in qterms if q.df == 0]
    missing_names = [q.surface for q in unknown if q.proper]
    if missing_names:
        return _refusal(
            original,
            snap,
            Refusal.UNKNOWN_NAME,
            f"{NOT_IN_KB}: no article mentions {_quoted([q.surface for q in unknown])}.",
            truncated=truncated,
            hint=NOT_FOUND_HINT,
            unmatched=[q.surface for q in unknown],
        )
    focus = _focus_terms(snap, question)
    if focus and all(snap.index.doc_freq(t) == 0 for t in focus):
        shown = [q.surface for q in qterms if q.term in focus]
        return _refusal(
            original,
            snap,
            Refusal.UNKNOWN_FOCUS,
            f"{NOT_IN_KB}: no article mentions {_quoted(shown)}.",
            truncated=truncated,
            hint=NOT_FOUND_HINT,
            unmatched=[q.surface for q in unknown],
        )
    names = name_groups(tokens, qterms)
    total = sum(q.weight for q in qterms)
    scored = []
    for i, bm25 in snap.index.top_k([q.term for q in qterms], CANDIDATES):
        present = snap.terms_of(i)
        matched = [q for q in qterms if q.term in present]
        if not matched:
            continue  # BM25 can score a passage that shares no term with the question
        if len(matched) < min(2, len(qterms)) or all(q.term in snap.weak_terms for q in matched):
            continue  # one shared everyday word ("like", "time") is a coincidence, not an answer
        if names and not _names_in_context(snap, i, names):
            continue  # a passage that does not name who or what was asked about
        coverage = sum(q.weight for q in matched) / total
        scored.append((coverage, bm25, i, matched))
    best = max((c for c, *_ in scored), default=0.0)
    if best < MIN_COVERAGE:
        return _refusal(
            original,
            snap,
            Refusal.NOT_FOUND,
            _not_found_reason(qterms, unknown),
            truncated=truncated,
            hint=NOT_FOUND_HINT,
            unmatched=[q.surface for q in unknown],
        )
    eligible = [s for s in scored if s[0] >= MIN_COVERAGE]
    eligible.sort(key=lambda s: (-round(s[0], 6), -s[1], s[2]))
    quotes: list[Quote] = []
    used: set[int] = set()
    for _coverage, bm25, i, matched in eligible:
        if len(quotes) >= top:
            break
        if i in used:
            continue
        corroborating = _corroborating(snap, i)
        if used.intersection(corroborating):
            continue  # the same statement is already quoted from another article
        used.add(i)
        used.update(corroborating)
        quotes.append(_quote(snap, i, bm25, matched, corroborating))
    return Answer(
        question=original,
        answered=True,
        reason=None,
        kb_version=snap.kb_version,
        quotes=tuple(quotes),
        truncated=truncated,
        unmatched_terms=tuple(
            q.surface for q in qterms if q.term not in {m.term for m in eligible[0][3]}
        ),
    )


def _not_found_reason(qterms: list[QueryTerm], unknown: list[QueryTerm]) -> str:
    if unknown:
        missing = _quoted([q.surface for q in unknown])
        return f"{NOT_IN_KB}: no article mentions {missing}."
    return (
        f"{NOT_IN_KB}: the articles mention "
        f"{_quoted([q.surface for q in qterms])}, but no passage speaks of them together."
    )


def _corroborating(snap: Snapshot, i: int) -> list[int]:
    """Passages of *other* articles carrying a statement of passage ``i``."""
    doc = snap.doc_of(i)
    mine = snap.sentences_of(i)
    found: dict[str, int] = {}
    # Retrieve likely carriers through the index, so this stays cheap on large KBs.
    for j, _ in snap.index.top_k(sorted(snap.terms_of(i)), 25):
        other = snap.doc_of(j)
        if other == doc or other in found:
            continue
        if any(_same_statement(a.terms, b.terms) for a in mine for b in snap.sentences_of(j)):
            found[other] = j
    return list(found.values())


def _same_statement(a: frozenset[str], b: frozenset[str]) -> bool:
    shared = len(a & b)
    return (
        shared >= SAME_STATEMENT_MIN_SHARED
        and shared / min(len(a), len(b)) >= SAME_STATEMENT_OVERLAP
    )


def _ref(snap: Snapshot, j: int) -> SourceRef:
    p = snap.passage_at(j)
    meta = snap.articles[p.doc_id].meta
    return SourceRef(doc_id=p.doc_id, passage_id=p.passage_id, **meta.attribution())


def _quote(
    snap: Snapshot, i: int, bm25: float, matched: list[QueryTerm], corroborating: list[int]
) -> Quote:
    p = snap.passage_at(i)
    meta = snap.articles[p.doc_id].meta
    wanted = {q.term for q in matched}
    highlights = tuple((t.start, t.end) for t in snap.analyzer.analyze(p.text) if t.term in wanted)
    return Quote(
        **meta.attribution(),
        text=p.text,
        doc_id=p.doc_id,
        passage_id=p.passage_id,
        start=p.start,
        end=p.end,
        score=round(bm25, 6),
        matched_terms=tuple(q.surface for q in matched),
        highlights=highlights,
        also_reported_by=tuple(_ref(snap, j) for j in corroborating),
    )
