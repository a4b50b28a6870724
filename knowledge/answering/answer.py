"""Compose an answer: verbatim quotes, attribution, corroboration, or a plain refusal.

Whether the knowledge base answers is decided by *what matched* — which content terms
of the question a passage carries, weighted by how rare each term is — never by a raw
BM25 score, which is positive even for passages that only share ubiquitous words. A
term is carried by the passage itself (full weight), by another word for it (an
expansion, knowledge/retrieval/expansion.py, at its reduced weight), or, for a name, by
the article's context (its subject, or the passage before: reduced weight).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from knowledge.answering.answer_types import AnswerType, holds, question_type
from knowledge.answering.forms import writes_form, writes_weak_word
from knowledge.answering.locality import holds_in_sentence
from knowledge.answering.misspelt import writes_misspelt
from knowledge.answering.phrases import holds_near, holds_phrase, phrase_holders, phrase_span
from knowledge.answering.query import (
    TOPIC_WEIGHT,
    Focus,
    Phrase,
    Query,
    QueryTerm,
    query_terms,
    question_focus,
    read_query,
    term_weight,
)
from knowledge.models import NOT_IN_KB, Answer, ExpandedTerm, Quote, Refusal, SourceRef
from knowledge.retrieval.expansion import (
    DEFAULT_WEIGHTS,
    Expansion,
    ExpansionContext,
    ExpansionWeights,
    Source,
    expand_question,
)
from knowledge.retrieval.tokenizer import WEAK_WORDS, Token
from knowledge.store.loaded import Snapshot

__all__ = [
    "MIN_COVERAGE",
    "TOPIC_WEIGHT",
    "AnswerWeights",
    "QueryTerm",
    "compose_answer",
    "name_groups",
    "query_terms",
]

MAX_QUESTION_CHARS = 1000
# Share of the question's rarity-weighted content a passage must carry to be quoted;
# chosen on the dev split (docs/answers.md has the sweep).
MIN_COVERAGE = 0.2
CANDIDATES = 40
# Two sentences carry "the same statement" when most of the shorter one's terms recur.
SAME_STATEMENT_OVERLAP = 0.6
SAME_STATEMENT_MIN_SHARED = 4

USAGE_HINT = (
    "Ask a question in words, for example: “Which US companies is Huawei talking to?” "
    "— `/kb sources` lists what the knowledge base covers."
)
NOT_FOUND_HINT = "`/kb sources` lists the articles the knowledge base holds."

_TYPE_WORDS = {
    AnswerType.DATE: "a date",
    AnswerType.NUMBER: "a number",
    AnswerType.NAME: "a name",
    AnswerType.PLACE: "a place",
    AnswerType.REASON: "a reason",
}
# Stand-ins that are the asker's word itself: its other forms, the knowledge base's declared
# equivalents, the article word a typo meant.
_OWN = frozenset({Source.INFLECTION, Source.KB_SYNONYM, Source.SPELLING})
# What an attribute question asks for must be the asker's word itself, a form of it or
# a synonym the knowledge base declares: a thesaurus synonym of another sense ("part" for
# "share") would answer a question the passage does not.
_SAME_MEANING = frozenset({Source.DERIVED, Source.KB_SYNONYM, Source.SPELLING})


@dataclass(frozen=True)
class AnswerWeights:
    """Every weight and threshold of answering; chosen on the dev split."""

    min_coverage: float = MIN_COVERAGE
    # A name carried by the article's subject or by the passage before, not the passage.
    context: float = 0.5
    # Ranking bonus for a passage holding the kind of answer asked for (a date for "when").
    type_bonus: float = 0.2
    # Kinds of answer without which a question is refused ("when" and no passage holds a
    # date about it).
    type_required: frozenset[AnswerType] = frozenset({AnswerType.DATE, AnswerType.NUMBER})
    expansion: ExpansionWeights = field(default_factory=lambda: DEFAULT_WEIGHTS)
    expand: bool = True
    # A quote carries at least one of the asker's own words.
    own_word: bool = True
    # What counts as a term the passage shares (for "two terms in common"): a share of
    # the term's weight above this (a broader term, 0.3, is no shared term).
    shared_credit: float = 0.3
    # Quotes after the first carry at least this share of the first one's coverage: a
    # passage matching one word and a broader term for another does not pad an answer.
    relative_coverage: float = 0.4
    # Between passages of equal coverage, the one carrying more of the question in one
    # sentence first (then BM25).
    together: bool = True
    # "Why …?": the passage after a statement carries its terms at the context's weight.
    reason_follows: bool = True
    # A date or number answers only in a sentence carrying a specific word of the asker's
    # itself or by a stand-in of at least this weight (answering/locality.py); None: anywhere
    # in the passage.
    typed_sentence: float | None = 0.8


DEFAULT_ANSWER_WEIGHTS = AnswerWeights()


def name_groups(query: Query) -> list[frozenset[str]]:
    """Names a text must carry, each by at least one of its words (the timeline's rule)."""
    return [*query.names, *(frozenset(p.terms) for p in query.phrases)]


def _quoted(words: Iterable[str]) -> str:
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
    unmatched: Sequence[str],
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


# ------------------------------------------------------------------ matching one passage


@dataclass
class _Match:
    """How one passage carries the question."""

    i: int
    credit: dict[str, float]  # question term -> share of its weight carried
    own: set[str]  # terms the passage carries itself
    expanded: dict[str, Expansion]  # term -> the expansion that carries it
    coverage: float = 0.0
    bm25: float = 0.0
    typed: bool = False


@dataclass(frozen=True)
class _Plan:
    """Everything about the question that does not depend on the passage."""

    query: Query
    total: float
    expansions: dict[str, list[Expansion]]  # question term -> its expansions, best first
    phrase_docs: dict[tuple[str, ...], set[str]]  # phrase -> articles that hold it
    phrase_holders: dict[tuple[str, ...], set[int]]
    focus: Focus | None
    kind: AnswerType | None
    weights: AnswerWeights
    term_weights: dict[str, float]  # BM25 weight per index term (own 1.0, expansions less)
    # Question term -> the first terms of its expansions: one holds only in a passage
    # that has its first term, so most passages need no look at each expansion.
    leads: dict[str, frozenset[str]]
    # Only names asked ("Who is Vincent Pang?", "Pang?"): the passage introducing them wins.
    introduce: bool = False
    # Names that answer no "who"/"which": the question's own, and the topic's.
    not_answers: frozenset[str] = frozenset()


def _topic_names(snap: Snapshot) -> frozenset[str]:
    """The names in most passages (the knowledge base's topic): one set per snapshot,
    not a look at every name per question."""
    n = snap.index.n_docs
    return frozenset(
        t for t in snap.names if term_weight(n, snap.index.doc_freq(t)) <= TOPIC_WEIGHT
    )


def _expansion_holds(snap: Snapshot, i: int, exp: Expansion, present: frozenset[str]) -> bool:
    """``present``: passage ``i``'s terms."""
    if len(exp.terms) == 1:
        return exp.terms[0] in present and writes_form(snap, i, exp)
    return set(exp.terms) <= present and holds_phrase(snap.token_terms(i), exp.terms)


def _before(snap: Snapshot, i: int) -> frozenset[str]:
    """The terms of the passage before ``i`` in its article (none for its first)."""
    if i > 0 and snap.doc_of(i - 1) == snap.doc_of(i):
        return snap.terms_of(i - 1)
    return frozenset()


def _in_context(snap: Snapshot, i: int, terms: Iterable[str]) -> bool:
    """Names the article is about, or that the passage before carries (he, the company)."""
    subject = snap.subjects.get(snap.doc_of(i), frozenset())
    before = _before(snap, i)
    return all(t in subject or t in before for t in terms)


def _match(snap: Snapshot, plan: _Plan, i: int) -> _Match | None:
    present = snap.terms_of(i)
    query = plan.query
    w = plan.weights
    m = _Match(i=i, credit={}, own=set(), expanded={})
    for q in query.terms:
        if q.term in present and (
            q.term not in snap.weak_terms or writes_weak_word(snap, i, q.term, q.surface)
        ):
            m.credit[q.term] = 1.0
            m.own.add(q.term)
            continue
        leads = plan.leads.get(q.term)
        if leads is not None and present.isdisjoint(leads):
            continue
        for exp in plan.expansions.get(q.term, ()):
            if _expansion_holds(snap, i, exp, present):
                m.credit[q.term] = exp.weight
                m.expanded[q.term] = exp
                break
    inherited = False  # terms carried by the statement before, for "why"
    if plan.kind is AnswerType.REASON and w.reason_follows:
        # A reason often follows the statement it explains ("… expressed skepticism." /
        # "“It's not realistic …,” said this person."): the passage after carries what the
        # statement's passage carries, at the context's weight.
        before = _before(snap, i)
        for q in query.terms:
            if q.term not in m.credit and q.term in before:
                m.credit[q.term] = w.context
                inherited = True
    # A name the article is about, or that the passage before carries ("he", "the
    # company"), is carried here too, at reduced weight.
    for q in query.terms:
        if q.term not in m.credit and q.term in snap.names and _in_context(snap, i, (q.term,)):
            m.credit[q.term] = w.context
    # Names: each must be carried by the passage, another word for it, or the context.
    for group in query.names:
        if any(t in m.credit for t in group):
            continue
        if not _in_context(snap, i, group) and not all(writes_misspelt(snap, i, t) for t in group):
            return None
        for t in group:
            m.credit[t] = w.context
    for phrase in query.phrases:
        if not _phrase_carried(snap, plan, m, phrase):
            return None
    matched = [q for q in query.terms if m.credit.get(q.term, 0.0) > w.shared_credit]
    if len(matched) < min(2, len(query.terms)) or all(q.term in snap.weak_terms for q in matched):
        return None  # one shared everyday word ("like", "time") is a coincidence
    if w.own_word and not (
        m.own or inherited or any(e.source in _OWN for e in m.expanded.values())
    ):
        return None  # other words and context alone: none of the asker's own words
    if plan.focus is not None and plan.focus.attribute and not _carries_focus(m, plan.focus):
        return None
    m.coverage = sum(q.weight * m.credit.get(q.term, 0.0) for q in query.terms) / plan.total
    m.bm25 = _bm25(snap, i, plan.term_weights)
    if plan.introduce:
        m.typed = _introduces(snap, i, [q.term for q in query.terms])
    elif plan.kind is not None and not inherited:
        # (a passage standing in for the statement before it gets no bonus over it)
        m.typed = _typed(snap, plan, m)
    return m


def _typed(snap: Snapshot, plan: _Plan, m: _Match) -> bool:
    """Whether passage ``m.i`` holds the kind of answer asked for."""
    assert plan.kind is not None
    kind = plan.kind
    i = m.i
    text = (
        _without_asked(snap, i, plan.not_answers)
        if kind is AnswerType.NUMBER
        else snap.passage_at(i).text
    )

    def kind_in(part: str) -> bool:
        return holds(
            kind,
            part,
            snap.terms_of(i),
            names=snap.names,
            asked=plan.not_answers,
            places=snap.places,
        )

    least = plan.weights.typed_sentence
    if least is None or kind not in (AnswerType.DATE, AnswerType.NUMBER):
        return kind_in(text)
    specific = {t for t in m.own if t not in snap.weak_terms} | {
        t
        for q, e in m.expanded.items()
        if e.weight >= least and q not in snap.weak_terms
        for t in e.terms
    }
    return holds_in_sentence(snap, i, text, specific, kind_in)


def _without_asked(snap: Snapshot, i: int, asked: frozenset[str]) -> str:
    """Passage ``i``'s text with the question's own words blanked: the 30 of "How much
    does the Mate 30 cost?" is no answer to it."""
    text = list(snap.passage_at(i).text)
    for tok in snap.analysed(i):
        if tok.term in asked:
            text[tok.start : tok.end] = " " * (tok.end - tok.start)
    return "".join(text)


def _introduces(snap: Snapshot, i: int, names: Sequence[str]) -> bool:
    """Passage ``i`` is where its article first names them ("Vincent Pang, senior vice
    president …"): what "Who is …?" and a bare name ask for."""
    if not all(t in snap.terms_of(i) for t in names):
        return False
    doc = snap.doc_of(i)
    j = i - 1
    while j >= 0 and snap.doc_of(j) == doc:
        if any(t in snap.terms_of(j) for t in names):
            return False
        j -= 1
    return True


def _phrase_carried(snap: Snapshot, plan: _Plan, m: _Match, phrase: Phrase) -> bool:
    """A multi-word name (one the articles write, words adjacent): in the passage, its
    words adjacent or reworded close together; or some of its words there and the whole
    name elsewhere in the article ("Pang" after "Vincent Pang"); or the context."""
    terms = phrase.terms
    i = m.i
    doc = snap.doc_of(i)
    if i in plan.phrase_holders[terms] or holds_near(snap.token_terms(i), terms):
        for t in terms:
            m.credit[t] = 1.0
            m.own.add(t)
            m.expanded.pop(t, None)
        return True
    in_article = doc in plan.phrase_docs[terms]
    here = [t for t in terms if t in m.own]
    if in_article and here:
        for t in terms:
            m.credit.setdefault(t, plan.weights.context)
        return True
    if in_article and _in_context(snap, i, terms):
        for t in terms:
            m.credit[t] = plan.weights.context
            m.own.discard(t)
        return True
    return False


def _carries_focus(m: _Match, focus: Focus) -> bool:
    return all(
        t in m.own or (t in m.expanded and m.expanded[t].source in _SAME_MEANING)
        for t in focus.terms
    )


def _bm25(snap: Snapshot, i: int, term_weights: dict[str, float]) -> float:
    """BM25 of passage ``i`` for a weighted query (rank-bm25's Okapi formula)."""
    tokens = snap.token_terms(i)
    tf = Counter(t for t in tokens if t in term_weights)
    if not tf:
        return 0.0
    params = snap.index.params
    norm = params.k1 * (1 - params.b + params.b * len(tokens) / snap.index.avgdl)
    return sum(
        term_weights[t] * snap.index.idf(t) * (n * (params.k1 + 1) / (n + norm))
        for t, n in tf.items()
    )


# ------------------------------------------------------------------ composing


def compose_answer(
    snap: Snapshot,
    question: str,
    top: int = 3,
    weights: AnswerWeights = DEFAULT_ANSWER_WEIGHTS,
) -> Answer:
    top = max(1, min(top, 10))
    original = question
    question, truncated = _truncate(question)

    def refuse(
        kind: Refusal, reason: str, unmatched: Sequence[str] = (), hint: str = NOT_FOUND_HINT
    ) -> Answer:
        return _refusal(
            original, snap, kind, reason, truncated=truncated, hint=hint, unmatched=unmatched
        )

    tokens = snap.analyzer.analyze(question)
    if not tokens:
        if question.strip():
            return refuse(
                Refusal.NO_WORDS, "The question has no words to look up.", hint=USAGE_HINT
            )
        return refuse(Refusal.EMPTY_QUESTION, "The question is empty.", hint=USAGE_HINT)
    if not snap.passages:
        return refuse(Refusal.EMPTY_KB, "The knowledge base is empty.")
    query = read_query(snap, tokens, question, spelling_weight=weights.expansion.spelling)
    qterms = query.terms
    unknown = [q for q in qterms if q.df == 0]
    unknown_words = [q.surface for q in unknown]
    # A multi-word name no article writes, words adjacent: "World Cup" is not "world" + "cup".
    holders = {p.terms: phrase_holders(snap, p.terms) for p in query.phrases}
    unknown_terms = {q.term for q in unknown}
    # A name whose words no article has is refused for its words ("Philips", "Hue"); one
    # whose words are there, never together, for the name as a whole.
    missing_phrases = [
        p for p in query.phrases if not holders[p.terms] and not set(p.terms) <= unknown_terms
    ]
    if missing_phrases:
        in_phrase = {t for p in missing_phrases for t in p.terms}
        shown = [p.surface for p in missing_phrases] + [
            q.surface for q in unknown if q.term not in in_phrase
        ]
        return refuse(
            Refusal.UNKNOWN_NAME, f"{NOT_IN_KB}: no article mentions {_quoted(shown)}.", shown
        )
    keep, named = _expandable(snap, query)
    expansions = (
        expand_question(question, tokens, _expansion_context(snap, weights), keep=keep, named=named)
        if weights.expand
        else []
    )
    # A name no article writes is not in the knowledge base, unless the knowledge base
    # declares another name for it.
    declared = {t for e in expansions if e.source is Source.KB_SYNONYM for t in e.for_terms}
    if any(q.proper and q.term not in declared for q in unknown):
        return refuse(
            Refusal.UNKNOWN_NAME,
            f"{NOT_IN_KB}: no article mentions {_quoted(unknown_words)}.",
            unknown_words,
        )
    focus = question_focus(snap, question)
    if focus is not None and not _focus_in_kb(snap, focus, expansions):
        shown = [q.surface for q in qterms if q.term in focus.terms] or [focus.surface]
        return refuse(
            Refusal.UNKNOWN_FOCUS,
            f"{NOT_IN_KB}: no article mentions {_quoted(shown)}.",
            unknown_words,
        )
    plan = _plan(
        snap,
        query=query,
        expansions=expansions,
        holders=holders,
        focus=focus,
        question=question,
        weights=weights,
    )
    candidates = _candidates(snap, plan)
    matches = [m for i in candidates if (m := _match(snap, plan, i)) is not None]
    eligible = [m for m in matches if m.coverage >= weights.min_coverage]
    if not eligible:
        kind, reason = _not_found(snap, plan, candidates, unknown)
        return refuse(kind, reason, unknown_words)
    if plan.kind in weights.type_required and not any(m.typed for m in eligible):
        about = _quoted(q.surface for q in qterms if q.df > 0)
        return refuse(
            Refusal.NO_ANSWER_TYPE,
            f"{NOT_IN_KB}: no passage about {about} gives {_TYPE_WORDS[plan.kind]}.",
            unknown_words,
        )
    bonus = weights.type_bonus
    eligible.sort(
        key=lambda m: (
            -round(m.coverage + (bonus if m.typed else 0.0), 6),
            -(_together(snap, plan, m) if weights.together else 0.0),
            -m.bm25,
            m.i,
        )
    )
    floor = weights.relative_coverage * eligible[0].coverage
    eligible = [eligible[0], *(m for m in eligible[1:] if m.coverage >= floor)]
    quotes: list[Quote] = []
    used: set[int] = set()
    for m in eligible:
        if len(quotes) >= top:
            break
        if m.i in used:
            continue
        corroborating = _corroborating(snap, m.i)
        if used.intersection(corroborating):
            continue  # the same statement is already quoted from another article
        used.add(m.i)
        used.update(corroborating)
        quotes.append(_quote(snap, plan, m, corroborating))
    first = eligible[0]
    return Answer(
        question=original,
        answered=True,
        reason=None,
        kb_version=snap.kb_version,
        quotes=tuple(quotes),
        truncated=truncated,
        unmatched_terms=tuple(q.surface for q in qterms if first.credit.get(q.term, 0.0) == 0),
    )


def _together(snap: Snapshot, plan: _Plan, m: _Match) -> float:
    """The most of the question's weight one sentence of the passage carries itself."""
    carried = {t: m.credit[t] for t in m.own | set(m.expanded)}
    weights = {q.term: q.weight for q in plan.query.terms}
    best = 0.0
    for sentence in snap.sentences_of(m.i):
        here = sum(
            weights[t] * c
            for t, c in carried.items()
            if t in sentence.terms
            or (t in m.expanded and set(m.expanded[t].terms) <= sentence.terms)
        )
        best = max(best, here)
    return round(best / plan.total, 6)


def _expansion_context(snap: Snapshot, weights: AnswerWeights) -> ExpansionContext:
    return ExpansionContext(
        analyzer=snap.analyzer,
        doc_freq=snap.index.doc_freq,
        lexicon=snap.analyzer.lexicon,
        synonyms=snap.synonyms,
        instances=snap.instances,
        weights=weights.expansion,
        weak_terms=snap.weak_terms,
        compounds=snap.speller.compounds if snap.speller is not None else None,
        weak_words=WEAK_WORDS,
    )


def _expandable(
    snap: Snapshot, query: Query
) -> tuple[Callable[[Token], bool], Callable[[Token], bool]]:
    """(words the lexicon may expand, names it may give other forms of); a typo is
    neither (everyday words only to their own forms, see ExpansionContext.weak_terms)."""
    names = {t for g in query.names for t in g} | {t for p in query.phrases for t in p.terms}
    names |= snap.names
    corrected = {q.term for q in query.terms if q.corrected is not None}

    def keep(tok: Token) -> bool:
        return tok.term not in names and tok.term not in corrected and tok.surface[:1].isalpha()

    def named(tok: Token) -> bool:
        return tok.term in names and tok.term not in corrected and tok.surface[:1].isalpha()

    return keep, named


def _focus_in_kb(snap: Snapshot, focus: Focus, expansions: list[Expansion]) -> bool:
    if any(snap.index.doc_freq(t) > 0 for t in focus.terms):
        return True
    return any(set(e.for_terms) & focus.terms and e.source in _SAME_MEANING for e in expansions)


def _plan(
    snap: Snapshot,
    *,
    query: Query,
    expansions: list[Expansion],
    holders: dict[tuple[str, ...], set[int]],
    focus: Focus | None,
    question: str,
    weights: AnswerWeights,
) -> _Plan:
    by_term: dict[str, list[Expansion]] = {}
    for exp in expansions:
        for t in exp.for_terms:
            by_term.setdefault(t, []).append(exp)
    own = {q.term for q in query.terms}
    term_weights = {q.term: 1.0 for q in query.terms if q.df > 0}
    for exp in expansions:
        for t in exp.terms:
            if t not in own:
                term_weights[t] = max(term_weights.get(t, 0.0), exp.weight)
    kind = question_type(question)
    named = {t for g in query.names for t in g} | {t for p in query.phrases for t in p.terms}
    only_names = bool(named) and all(q.term in named for q in query.terms)
    if only_names and kind in (AnswerType.NAME, None):
        kind = None  # "Who is Vincent Pang?" asks what the name is, not for a name
    topic = snap.memo.get("topic_names", lambda: _topic_names(snap))
    return _Plan(
        query=query,
        total=sum(q.weight for q in query.terms),
        expansions=by_term,
        phrase_docs={t: {snap.doc_of(i) for i in h} for t, h in holders.items()},
        phrase_holders=holders,
        focus=focus,
        kind=kind,
        weights=weights,
        term_weights=term_weights,
        leads={
            t: frozenset(e.terms[0] for e in exps)
            for t, exps in by_term.items()
            if all(e.terms for e in exps)
        },
        introduce=only_names and kind is None,
        not_answers=frozenset(own | topic),
    )


def _candidates(snap: Snapshot, plan: _Plan) -> list[int]:
    """Passages worth matching: the best by the asker's words, then by the expansions'."""
    # Scores may be zero or negative (idf of a term in every passage of a tiny knowledge
    # base): what a passage shares with the question is judged by _match, not here.
    own = [q.term for q in plan.query.terms if q.df > 0]
    found: dict[int, None] = {}
    for i, _ in snap.index.top_k(own, CANDIDATES) if own else ():
        found[i] = None
    extra = [t for t in plan.term_weights if t not in set(own)]
    for i, _ in snap.index.top_k(extra, CANDIDATES) if extra else ():
        found.setdefault(i, None)
    return list(found)


def _not_found(
    snap: Snapshot, plan: _Plan, candidates: list[int], unknown: list[QueryTerm]
) -> tuple[Refusal, str]:
    qterms = plan.query.terms
    focus = plan.focus
    if focus is not None and focus.attribute:
        # Would a passage have qualified but for what the question asks about?
        relaxed = _Plan(**{**plan.__dict__, "focus": None})
        if any(
            (m := _match(snap, relaxed, i)) is not None and m.coverage >= plan.weights.min_coverage
            for i in candidates
        ):
            names = [q.surface for q in qterms if q.proper] or [
                q.surface for q in qterms if q.term not in focus.terms
            ]
            return (
                Refusal.ABSENT_ATTRIBUTE,
                f"{NOT_IN_KB}: no passage about {_quoted(names)} says anything of "
                f"“{focus.surface}”.",
            )
    if unknown:
        missing = _quoted(q.surface for q in unknown)
        return Refusal.NOT_FOUND, f"{NOT_IN_KB}: no article mentions {missing}."
    return (
        Refusal.NOT_FOUND,
        f"{NOT_IN_KB}: the articles mention "
        f"{_quoted(q.surface for q in qterms)}, but no passage speaks of them together.",
    )


# ------------------------------------------------------------------ corroboration


def _corroborating(snap: Snapshot, i: int) -> list[int]:
    """Passages of *other* articles carrying a statement of passage ``i``."""
    return snap.memo.get(("corroborating", i), lambda: _find_corroborating(snap, i))


def _find_corroborating(snap: Snapshot, i: int) -> list[int]:
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


def _expanded_terms(snap: Snapshot, plan: _Plan, m: _Match) -> tuple[ExpandedTerm, ...]:
    """Which other words stood for the asker's, as the passage writes them."""
    out: dict[tuple[str, str], None] = {}
    text = snap.passage_at(m.i).text
    for q in plan.query.terms:
        exp = m.expanded.get(q.term)
        if exp is not None:
            span = phrase_span(snap, m.i, exp.terms)
            if span is not None:
                out[(text[span[0] : span[1]], exp.for_surface)] = None
        elif q.corrected is not None and q.term in m.own:
            span = phrase_span(snap, m.i, (q.term,))
            if span is not None:
                out[(text[span[0] : span[1]], q.surface)] = None
    return tuple(ExpandedTerm(term=t, for_term=f) for t, f in out)


def _quote(snap: Snapshot, plan: _Plan, m: _Match, corroborating: list[int]) -> Quote:
    p = snap.passage_at(m.i)
    meta = snap.articles[p.doc_id].meta
    own = [q for q in plan.query.terms if q.term in m.own and q.corrected is None]
    wanted = {q.term for q in own}
    highlights = tuple((t.start, t.end) for t in snap.analysed(m.i) if t.term in wanted)
    return Quote(
        **meta.attribution(),
        text=p.text,
        doc_id=p.doc_id,
        passage_id=p.passage_id,
        start=p.start,
        end=p.end,
        score=round(m.bm25, 6),
        matched_terms=tuple(q.surface for q in own),
        highlights=highlights,
        also_reported_by=tuple(_ref(snap, j) for j in corroborating),
        expanded_terms=_expanded_terms(snap, plan, m),
    )
