"""Checking a message against the knowledge base: which quotes support each statement,
which report the same thing differently.

A message is split into sentences; a *statement* is a sentence that is no question and
has at least two content terms. For each statement:

- **Candidates** come from the answer engine (``compose_answer``), asked with the
  statement's words minus its dates and numbers, in lower case: a quote that gives
  another date, number or name must still be found, so neither the statement's values
  nor its names may decide the search. Each candidate is a passage (with every other
  article carrying the same statement, as in answers).
- In each candidate the **sentence** sharing most of the statement's rarity-weighted
  terms is compared with it; its *coverage* is that shared weight over the statement's.
- A sentence **differs** when it looks like the same event — coverage of at least
  ``SAME_EVENT_COVERAGE`` by the statement's terms other than its dates, numbers and
  names — and gives another value:
  *date*: both give a date (the timeline's date extraction; the statement's relative
  dates resolved against the day the message was written, the quote's against its
  article's publication date) and no two of them overlap;
  *number*: both give numbers of one kind (amounts of money, percentages, counts) and
  none of the statement's is among the quote's;
  *name*: a name of the statement is missing from the passage (and the passage before
  it) while the sentence names someone or something the statement does not.
- A sentence **supports** when it differs in nothing and covers at least
  ``SUPPORT_COVERAGE`` of the statement with every name of the statement in its
  passage's context.
- Neither: the quote is not shown. A statement with neither kind says so.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from knowledge.answering.answer import compose_answer
from knowledge.answering.dates import ResolvedDate, find_date_expressions, resolve
from knowledge.answering.names import is_topic, name_runs, surface, without_titles
from knowledge.ingest.sentences import split_sentences
from knowledge.models import Frozen, Quote
from knowledge.retrieval.tokenizer import Token
from knowledge.store.loaded import Snapshot

MAX_MESSAGE_CHARS = 4000
MAX_STATEMENTS = 8
CANDIDATES_PER_STATEMENT = 6
# Shown per statement and kind; the rest are counted.
MAX_EVIDENCE = 3
SUPPORT_COVERAGE = 0.6
SAME_EVENT_COVERAGE = 0.5
MIN_STATEMENT_TERMS = 2

DifferenceKind = Literal["date", "number", "name"]
NumberKind = Literal["money", "percent", "count"]


class Difference(Frozen):
    kind: DifferenceKind
    claimed: str  # as the message writes it
    reported: str  # as the quote writes it


class Evidence(Frozen):
    """One quote about a statement, with the sentence of it that was compared."""

    quote: Quote
    sentence: str  # verbatim: article.text[sentence_start:sentence_end]
    sentence_start: int
    sentence_end: int
    coverage: float
    differences: tuple[Difference, ...] = ()


class StatementCheck(Frozen):
    text: str
    start: int  # offsets into the checked text
    end: int
    supporting: tuple[Evidence, ...] = ()
    differing: tuple[Evidence, ...] = ()

    @property
    def matched(self) -> bool:
        return bool(self.supporting or self.differing)


class ClaimCheck(Frozen):
    kb_version: str
    text: str  # the message as checked (whitespace kept, cut to MAX_MESSAGE_CHARS)
    statements: tuple[StatementCheck, ...] = ()
    truncated: bool = False
    # Why nothing was checked: no statement in the message.
    reason: str | None = None

    def audit_quotes(self) -> list[dict[str, Any]]:
        """Every quote shown, as spans of the articles, with what it was to the statement."""
        out: list[dict[str, Any]] = []
        for n, statement in enumerate(self.statements):
            for verdict, evidence in (
                ("supports", statement.supporting),
                ("differs", statement.differing),
            ):
                for e in evidence:
                    out.append(
                        {
                            **e.quote.audit_fields(),
                            "statement": n,
                            "verdict": verdict,
                            "differences": [d.model_dump() for d in e.differences],
                        }
                    )
        return out

    def audit_statements(self) -> list[dict[str, Any]]:
        return [
            {
                "text": s.text,
                "supporting": len(s.supporting),
                "differing": len(s.differing),
            }
            for s in self.statements
        ]


# --------------------------------------------------------------------------- values

_SCALES = {
    "thousand": 1e3, "k": 1e3, "million": 1e6, "m": 1e6, "mn": 1e6, "billion": 1e9,
    "bn": 1e9, "b": 1e9, "trillion": 1e12, "tn": 1e12,
}  # fmt: skip
_NUMBER_WORDS = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "dozen": 12,
    "hundred": 100, "hundreds": 100, "thousands": 1000, "millions": 1e6, "billions": 1e9,
}  # fmt: skip
_NUMBER_RE = re.compile(
    r"""
    (?P<cur>US\$|\$|€|£|¥)?\s?
    (?:(?P<num>\d+(?:[.,]\d+)*)|(?P<word>(?i:two|three|four|five|six|seven|eight|nine|ten
        |eleven|twelve|dozen|hundreds|thousands|millions|billions))(?![\w-]))
    (?:\s?(?P<scale>(?i:thousand|million|billion|trillion|bn|mn|tn|[kmb]))(?![\w]))?
    (?:\s?(?P<pct>%|(?i:per\s?cent|percent)(?![\w])))?
    (?:\s?(?P<curword>(?i:dollars?|usd|euros?|yuan|pounds?))(?![\w]))?
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Number:
    value: float
    kind: NumberKind
    text: str
    start: int
    end: int


def _numbers(text: str, skip: Sequence[tuple[int, int]]) -> list[_Number]:
    """Numbers with their scale and kind, outside ``skip`` (date expressions); a number
    glued to letters that are no scale ("5G", "Mate30") is part of a name."""
    out: list[_Number] = []
    for m in _NUMBER_RE.finditer(text):
        start = m.start("cur") if m["cur"] else m.start("num") if m["num"] else m.start("word")
        end = m.end()
        if any(s < end and start < e for s, e in skip):
            continue
        if m["num"] and not m["scale"] and re.match(r"[^\W\d_]", text[m.end("num") :]):
            continue
        if m["num"]:
            try:
                value = float(m["num"].replace(",", ""))
            except ValueError:
                continue
        else:
            value = float(_NUMBER_WORDS[m["word"].lower()])
        if m["scale"]:
            value *= _SCALES[m["scale"].lower()]
        kind: NumberKind = (
            "money" if m["cur"] or m["curword"] else "percent" if m["pct"] else "count"
        )
        out.append(_Number(value, kind, text[start:end].strip(), start, end))
    return out


def _dates(
    text: str, published: dt.date | None, estimated: bool
) -> list[tuple[ResolvedDate, str, int, int]]:
    found = []
    for expr in find_date_expressions(text):
        if expr.dateline:
            continue
        date = resolve(expr, published, date_estimated=estimated)
        if date is not None:
            found.append((date, expr.text, expr.start, expr.end))
    return found


# ------------------------------------------------------------------------ statements


@dataclass(frozen=True)
class _Statement:
    text: str
    start: int
    end: int
    dates: tuple[tuple[ResolvedDate, str, int, int], ...]
    numbers: tuple[_Number, ...]
    # Terms standing for the event (no date or number terms), and the names among them.
    event_terms: frozenset[str]
    names: tuple[tuple[Token, ...], ...]  # runs of capitalised words ("Wall Street Journal")

    @property
    def name_terms(self) -> frozenset[str]:
        return frozenset(t.term for run in self.names for t in run)


def _value_spans(
    dates: Sequence[tuple[Any, str, int, int]], numbers: Sequence[_Number]
) -> list[tuple[int, int]]:
    return [(s, e) for *_, s, e in dates] + [(n.start, n.end) for n in numbers]


def _outside(tokens: Sequence[Token], spans: Sequence[tuple[int, int]]) -> list[Token]:
    return [t for t in tokens if not any(s < t.end and t.start < e for s, e in spans)]


def _statement(
    snap: Snapshot, text: str, start: int, end: int, said_on: dt.date | None
) -> _Statement | None:
    sentence = text[start:end]
    if sentence.rstrip().endswith("?"):
        return None
    dates = tuple(_dates(sentence, said_on, False))
    date_spans = [(s, e) for *_, s, e in dates]
    numbers = tuple(_numbers(sentence, date_spans))
    tokens = tuple(snap.analyzer.analyze(sentence))
    event = _outside(tokens, _value_spans(dates, numbers))
    if len({t.term for t in event}) < MIN_STATEMENT_TERMS:
        return None
    return _Statement(
        text=sentence,
        start=start,
        end=end,
        dates=dates,
        numbers=numbers,
        event_terms=frozenset(t.term for t in event),
        names=tuple(tuple(run) for run in name_runs(event, sentence)),
    )


def _search_text(st: _Statement) -> str:
    """The statement without its dates and numbers, in lower case (see module doc)."""
    spans = sorted(_value_spans(st.dates, st.numbers))
    parts, pos = [], 0
    for s, e in spans:
        parts.append(st.text[pos:s])
        pos = max(pos, e)
    parts.append(st.text[pos:])
    return " ".join(" ".join(parts).split()).lower()


# -------------------------------------------------------------------------- judging


class _Weights:
    def __init__(self, snap: Snapshot) -> None:
        self._index = snap.index
        self._n = snap.index.n_docs

    def __call__(self, terms: frozenset[str] | set[str]) -> float:
        return sum(math.log(1.0 + self._n / (self._index.doc_freq(t) + 0.5)) for t in terms)


def _context_terms(snap: Snapshot, i: int) -> frozenset[str]:
    context = snap.terms_of(i)
    if i > 0 and snap.doc_of(i - 1) == snap.doc_of(i):
        context = context | snap.terms_of(i - 1)
    return context


def _join(words: Sequence[str]) -> str:
    unique = list(dict.fromkeys(words))
    return unique[0] if len(unique) == 1 else ", ".join(unique[:-1]) + " and " + unique[-1]


def _date_difference(st: _Statement, sentence: str, quote: Quote) -> Difference | None:
    reported = _dates(sentence, quote.published, quote.date_estimated)
    if not st.dates or not reported:
        return None
    if any(a.overlaps(b) for a, *_ in st.dates for b, *_ in reported):
        return None
    return Difference(
        kind="date",
        claimed=_join([text for _, text, *_ in st.dates]),
        reported=_join([f"{text} ({d.label})" for d, text, *_ in reported]),
    )


def _number_differences(st: _Statement, sentence: str) -> list[Difference]:
    found = []
    skip = [(s, e) for *_, s, e in _dates(sentence, None, False)]
    numbers = _numbers(sentence, skip)
    for kind in ("money", "percent", "count"):
        claimed = [n for n in st.numbers if n.kind == kind]
        reported = [n for n in numbers if n.kind == kind]
        if not claimed or not reported:
            continue
        if any(math.isclose(a.value, b.value, rel_tol=1e-9) for a in claimed for b in reported):
            continue
        found.append(
            Difference(
                kind="number",
                claimed=_join([n.text for n in claimed]),
                reported=_join([n.text for n in reported]),
            )
        )
    return found


def _name_difference(
    snap: Snapshot, st: _Statement, sentence: str, tokens: Sequence[Token], doc_id: str
) -> Difference | None:
    # A name counts as given when the article names it anywhere: news text names
    # someone once and then says "he" or "the company".
    article = _article_terms(snap, doc_id)
    missing = [surface(run) for run in st.names if all(t.term not in article for t in run)]
    if not missing:
        return None
    runs = [without_titles(run) for run in name_runs(tokens, sentence)]
    extra = [
        surface(run)
        for run in runs
        if run and not any(t.term in st.event_terms or is_topic(snap, t.term) for t in run)
    ]
    if not extra:
        return None
    return Difference(kind="name", claimed=_join(missing), reported=_join(extra))


def _article_terms(snap: Snapshot, doc_id: str) -> frozenset[str]:
    """Every term of the article: its passages are consecutive, from ``<doc_id>#1``."""
    terms: set[str] = set()
    first = snap.passage_number(f"{doc_id}#1")
    i = first if first is not None else len(snap.passages)
    while i < len(snap.passages) and snap.doc_of(i) == doc_id:
        terms |= snap.terms_of(i)
        i += 1
    return frozenset(terms)


def _best_sentence(
    snap: Snapshot, i: int, terms: frozenset[str], weights: _Weights
) -> tuple[int, int, float]:
    passage = snap.passage_at(i)
    best = (passage.start, passage.end, 0.0)
    total = weights(terms) or 1.0
    for sentence in snap.sentences_of(i):
        covered = weights(terms & sentence.terms) / total
        if covered > best[2]:
            best = (sentence.start, sentence.end, covered)
    return best


def _judge(
    snap: Snapshot, st: _Statement, quote: Quote, weights: _Weights
) -> tuple[Literal["supports", "differs"] | None, Evidence]:
    i = snap.passage_number(quote.passage_id)
    if i is None:  # quotes come from this snapshot's own answers
        raise KeyError(quote.passage_id)
    article = snap.articles[quote.doc_id]
    start, end, coverage = _best_sentence(snap, i, st.event_terms, weights)
    sentence = article.text[start:end]
    s_tokens = snap.analyzer.analyze(sentence)
    differences = [
        d
        for d in (
            _date_difference(st, sentence, quote),
            *_number_differences(st, sentence),
            _name_difference(snap, st, sentence, s_tokens, quote.doc_id),
        )
        if d is not None
    ]
    evidence = Evidence(
        quote=quote,
        sentence=sentence,
        sentence_start=start,
        sentence_end=end,
        coverage=round(coverage, 4),
        differences=tuple(differences),
    )
    unnamed = st.event_terms - st.name_terms
    present = frozenset(t.term for t in s_tokens)
    event_coverage = weights(unnamed & present) / (weights(unnamed) or 1.0) if unnamed else 0.0
    if differences and event_coverage >= SAME_EVENT_COVERAGE:
        return "differs", evidence
    # Support is judged on the passage and the one before it (as names are in answers):
    # a statement's words may be spread over neighbouring sentences.
    context = _context_terms(snap, i)
    names_present = all(any(t.term in context for t in run) for run in st.names)
    supported = weights(st.event_terms & context) / (weights(st.event_terms) or 1.0)
    if not differences and supported >= SUPPORT_COVERAGE and names_present:
        return "supports", evidence
    return None, evidence


def _check(snap: Snapshot, st: _Statement, weights: _Weights) -> StatementCheck:
    answer = compose_answer(snap, _search_text(st), CANDIDATES_PER_STATEMENT)
    supporting: list[Evidence] = []
    differing: list[Evidence] = []
    for quote in answer.quotes:
        verdict, evidence = _judge(snap, st, quote, weights)
        if verdict == "supports":
            supporting.append(evidence)
        elif verdict == "differs":
            differing.append(evidence)
    order = lambda e: -e.coverage  # noqa: E731 - the one sort key of both lists
    return StatementCheck(
        text=st.text,
        start=st.start,
        end=st.end,
        supporting=tuple(sorted(supporting, key=order)[:MAX_EVIDENCE]),
        differing=tuple(sorted(differing, key=order)[:MAX_EVIDENCE]),
    )


NO_STATEMENTS = (
    "The message makes no statement to check (questions and one-word lines are skipped)."
)


def check_claims(snap: Snapshot, text: str, *, said_on: dt.date | None = None) -> ClaimCheck:
    """Check each statement of ``text``; ``said_on`` dates its relative dates ("last May")."""
    truncated = len(text) > MAX_MESSAGE_CHARS
    text = text[:MAX_MESSAGE_CHARS]
    statements: list[_Statement] = []
    for start, end in split_sentences(text):
        st = _statement(snap, text, start, end, said_on)
        if st is not None:
            statements.append(st)
        if len(statements) >= MAX_STATEMENTS:
            truncated = True
            break
    if not statements or not snap.passages:
        reason = NO_STATEMENTS if not statements else "The knowledge base is empty."
        return ClaimCheck(kb_version=snap.kb_version, text=text, truncated=truncated, reason=reason)
    weights = _Weights(snap)
    return ClaimCheck(
        kb_version=snap.kb_version,
        text=text,
        statements=tuple(_check(snap, st, weights) for st in statements),
        truncated=truncated,
    )
