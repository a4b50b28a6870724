"""Compose an answer: verbatim quotes, attribution, corroboration, or a plain refusal.

Whether the knowledge base answers is decided by *what matched* — which content terms
of the question a passage contains, weighted by how rare each term is — never by a raw
BM25 score, which is positive even for passages that only share ubiquitous words.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from knowledge.models import Answer, Quote, SourceRef
from knowledge.snapshot import Snapshot
from knowledge.tokenizer import Token

MAX_QUESTION_CHARS = 1000
# Share of the question's rarity-weighted content a passage must contain to be quoted.
MIN_COVERAGE = 0.5
CANDIDATES = 40
# Two sentences carry "the same statement" when most of the shorter one's terms recur.
SAME_STATEMENT_OVERLAP = 0.6
SAME_STATEMENT_MIN_SHARED = 4

USAGE_HINT = (
    "Ask a question in words, for example: “Which US companies is Huawei talking to?” "
    "— `/kb sources` lists what the knowledge base covers."
)
NOT_FOUND_HINT = "`/kb sources` lists the articles the knowledge base holds."


@dataclass(frozen=True)
class QueryTerm:
    term: str
    surface: str
    weight: float
    df: int
    proper: bool  # capitalised mid-question: a name the articles must mention


# A word no article contains is weak evidence either way: a paraphrase ("shown" vs "show")
# or the subject the knowledge base lacks. It weighs as much as a word seen once, discounted.
UNKNOWN_TERM_DISCOUNT = 0.6


def _weight(n_docs: int, df: int) -> float:
    if df == 0:
        return UNKNOWN_TERM_DISCOUNT * math.log(1.0 + n_docs / 1.5)
    return math.log(1.0 + n_docs / (df + 0.5))


def _query_terms(snap: Snapshot, tokens: list[Token], question: str) -> list[QueryTerm]:
    first_word_at = len(question) - len(question.lstrip(" \t\n\"'“‘(*_>"))
    shouting = question.upper() == question
    terms: dict[str, QueryTerm] = {}
    for tok in tokens:
        if tok.term in terms:
            continue
        df = snap.index.doc_freq(tok.term)
        proper = (
            not shouting and tok.start > first_word_at and tok.surface[:1].isupper()
        )
        terms[tok.term] = QueryTerm(tok.term, tok.surface, _weight(snap.index.n_docs, df), df,
                                    proper)
    return list(terms.values())


def _quoted(words: list[str]) -> str:
    quoted = [f"“{w}”" for w in words]
    if len(quoted) <= 2:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _refusal(question: str, snap: Snapshot, reason: str, *, truncated: bool,
             hint: str | None, unmatched: list[str]) -> Answer:
    return Answer(question=question, answered=False, reason=reason, kb_version=snap.kb_version,
                  truncated=truncated, hint=hint, unmatched_terms=tuple(unmatched))


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
        return _refusal(original, snap,
                        "The question has no words to look up." if question.strip()
                        else "The question is empty.",
                        truncated=truncated, hint=USAGE_HINT, unmatched=[])
    if not snap.passages:
        return _refusal(original, snap, "The knowledge base is empty.", truncated=truncated,
                        hint=NOT_FOUND_HINT, unmatched=[])
    qterms = _query_terms(snap, tokens, question)
    unknown = [q for q in qterms if q.df == 0]
    missing_names = [q.surface for q in unknown if q.proper]
    if missing_names:
        return _refusal(original, snap,
                        f"Not in the knowledge base: no article mentions {_quoted(missing_names)}.",
                        truncated=truncated, hint=NOT_FOUND_HINT,
                        unmatched=[q.surface for q in unknown])
    total = sum(q.weight for q in qterms)
    scored = []
    for i, bm25 in snap.index.top_k([q.term for q in qterms], CANDIDATES):
        present = snap.passage_terms[i]
        matched = [q for q in qterms if q.term in present]
        if not matched:
            continue  # BM25 can score a passage that shares no term with the question
        coverage = sum(q.weight for q in matched) / total
        scored.append((coverage, bm25, i, matched))
    best = max((c for c, *_ in scored), default=0.0)
    if best < MIN_COVERAGE:
        return _refusal(original, snap, _not_found_reason(qterms, unknown), truncated=truncated,
                        hint=NOT_FOUND_HINT, unmatched=[q.surface for q in unknown])
    eligible = [s for s in scored if s[0] >= MIN_COVERAGE]
    eligible.sort(key=lambda s: (-round(s[0], 6), -s[1], s[2]))
    quotes: list[Quote] = []
    used: set[int] = set()
    for coverage, bm25, i, matched in eligible:
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
    return Answer(question=original, answered=True, reason=None, kb_version=snap.kb_version,
                  quotes=tuple(quotes), truncated=truncated,
                  unmatched_terms=tuple(q.surface for q in qterms
                                        if q.term not in {m.term for m in eligible[0][3]}))


def _not_found_reason(qterms: list[QueryTerm], unknown: list[QueryTerm]) -> str:
    if unknown:
        return f"Not in the knowledge base: no article mentions {_quoted([q.surface for q in unknown])}."
    return ("Not in the knowledge base: the articles mention "
            f"{_quoted([q.surface for q in qterms])}, but no passage speaks of them together.")


def _corroborating(snap: Snapshot, i: int) -> list[int]:
    """Passages of *other* articles carrying a statement of passage ``i``."""
    doc = snap.passages[i].doc_id
    mine = snap.passage_sentences[i]
    found: dict[str, int] = {}
    # Retrieve likely carriers through the index, so this stays cheap on large KBs.
    for j, _ in snap.index.top_k(sorted(snap.passage_terms[i]), 25):
        other = snap.passages[j].doc_id
        if other == doc or other in found:
            continue
        if any(_same_statement(a.terms, b.terms) for a in mine for b in snap.passage_sentences[j]):
            found[other] = j
    return list(found.values())


def _same_statement(a: frozenset[str], b: frozenset[str]) -> bool:
    shared = len(a & b)
    return shared >= SAME_STATEMENT_MIN_SHARED and shared / min(len(a), len(b)) >= SAME_STATEMENT_OVERLAP


def _ref(snap: Snapshot, j: int) -> SourceRef:
    p = snap.passages[j]
    meta = snap.articles[p.doc_id].meta
    return SourceRef(doc_id=p.doc_id, passage_id=p.passage_id, title=meta.title,
                     publisher=meta.publisher, published=meta.published,
                     date_estimated=meta.date_estimated)


def _quote(snap: Snapshot, i: int, bm25: float, matched: list[QueryTerm],
           corroborating: list[int]) -> Quote:
    p = snap.passages[i]
    meta = snap.articles[p.doc_id].meta
    wanted = {q.term for q in matched}
    highlights = tuple((t.start, t.end) for t in snap.analyzer.analyze(p.text) if t.term in wanted)
    return Quote(
        text=p.text, doc_id=p.doc_id, passage_id=p.passage_id, title=meta.title,
        publisher=meta.publisher, published=meta.published, date_estimated=meta.date_estimated,
        url=meta.url, start=p.start, end=p.end, score=round(bm25, 6),
        matched_terms=tuple(q.surface for q in matched), highlights=highlights,
        also_reported_by=tuple(_ref(snap, j) for j in corroborating),
    )
