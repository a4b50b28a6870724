"""A question read against a knowledge base: its weighted terms, the names it gives,
the multi-word names it gives (phrases), and what it asks for.

Whether a word is a name is decided first by the articles (a term they write
capitalised, knowledge/answering/context.py), so "who is vincent pang" names Pang and
"Which Countries Banned Huawei" names no country; only a word the articles lack is judged
by its capital letter in the question (and the first word only when the lexicon does not
know it as an ordinary word: "Besides Nokia …").
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from knowledge.answering.context import is_capitalised, ordinary_word
from knowledge.answering.phrases import phrase_holders
from knowledge.retrieval.tokenizer import Token
from knowledge.store.loaded import Snapshot

# ln(1 + N / (df + 0.5)) at df ≈ N/2: terms at least this common are the KB's topic.
TOPIC_WEIGHT = math.log(3.0)
# A word no article contains is either a paraphrase ("shown" vs "show") or the subject the
# knowledge base lacks; it weighs as much as a word seen once, discounted (docs/answers.md).
UNKNOWN_TERM_DISCOUNT = 0.8

_COMMAND_WORDS = frozenset(
    """
    describe explain list summarize summarise give show find name compare outline define
    detail recap quote cite
    """.split()
)
_OPENERS = " \t\n\"'“‘(*_>"


@dataclass(frozen=True)
class QueryTerm:
    term: str
    surface: str
    weight: float
    df: int
    proper: bool  # a name the passage (or its article) must carry
    # The article word a mistyped question word was taken for ("Huawei" for "Hauwei").
    corrected: str | None = None


@dataclass(frozen=True)
class Phrase:
    """A multi-word name of the question ("Mobile World Congress"): its terms must stand
    adjacent, in this order, in the passage."""

    terms: tuple[str, ...]
    surface: str


def term_weight(n_docs: int, df: int) -> float:
    if df == 0:
        return UNKNOWN_TERM_DISCOUNT * math.log(1.0 + n_docs / 1.5)
    return math.log(1.0 + n_docs / (df + 0.5))


_WORD_RE = re.compile(r"[^\W\d_][\w'’-]*")


def _title_case(question: str, stopwords: frozenset[str]) -> bool:
    """Written in Title Case ("Which Countries Have Banned Huawei From …"): most words
    capitalised, little words past the first among them. Capitals then tell nothing
    about names."""
    words = _WORD_RE.findall(question)
    if len(words) < 4 or sum(is_capitalised(w) for w in words) <= 0.7 * len(words):
        return False
    return any(is_capitalised(w) and w.casefold() in stopwords for w in words[1:])


def _capital_means_name(snap: Snapshot, tok: Token, first_word_at: int, plain: bool) -> bool:
    """Whether the question's capital letter on ``tok`` marks a name."""
    if not plain or not is_capitalised(tok.surface):
        return False
    if tok.start > first_word_at:
        return True
    word = tok.surface.casefold()
    if word in _COMMAND_WORDS:
        return False
    # The first word is capitalised anyway: an ordinary word there is no name.
    return not ordinary_word(snap.analyzer.lexicon, word) or tok.term in snap.names


def query_terms(
    snap: Snapshot, tokens: list[Token], question: str, *, spelling_weight: float = 0.8
) -> list[QueryTerm]:
    """The question's distinct terms, weighted by rarity, typos taken for article words."""
    return list(dict.fromkeys(_token_terms(snap, tokens, question, spelling_weight)))


def _token_terms(
    snap: Snapshot, tokens: list[Token], question: str, spelling_weight: float
) -> list[QueryTerm]:
    """One query term per token (repeats repeated), in token order."""
    first_word_at = len(question) - len(question.lstrip(_OPENERS))
    plain = _plain(snap, question)
    n = snap.index.n_docs
    seen: dict[str, QueryTerm] = {}
    out: list[QueryTerm] = []
    for tok in tokens:
        term, corrected = tok.term, None
        df = snap.index.doc_freq(term)
        if df == 0 and snap.speller is not None and not _known_word(snap, tok.surface):
            fix = snap.speller.correct(tok.surface, snap.index.doc_freq) or (
                snap.speller.correct(tok.term, snap.index.doc_freq)
            )
            if fix is not None:
                corrected, term = fix
                df = snap.index.doc_freq(term)
        q = seen.get(term)
        if q is None:
            if df > 0:
                proper = term in snap.names
            else:
                proper = _capital_means_name(snap, tok, first_word_at, plain)
            weight = term_weight(n, df) * (spelling_weight if corrected is not None else 1.0)
            q = seen[term] = QueryTerm(term, tok.surface, weight, df, proper, corrected)
        out.append(q)
    return out


def _plain(snap: Snapshot, question: str) -> bool:
    """Neither shouted nor title-cased: a capital letter may mark a name."""
    return question.upper() != question and not _title_case(question, snap.analyzer.stopwords)


def _known_word(snap: Snapshot, surface: str) -> bool:
    lexicon = snap.analyzer.lexicon
    return lexicon is not None and bool(lexicon.lemmas(surface.casefold()))


def is_topic(q: QueryTerm) -> bool:
    """A term in about half the passages or more: the knowledge base's own subject."""
    return q.df > 0 and q.weight <= TOPIC_WEIGHT


def _adjacent(question: str, a: Token, b: Token) -> bool:
    return b.start - a.end <= 1 and question[a.end : b.start] in ("", " ", "-")


@dataclass(frozen=True)
class Query:
    """A question read against one snapshot."""

    terms: list[QueryTerm]  # distinct, in question order
    token_terms: list[QueryTerm]  # one per token
    names: list[frozenset[str]]  # single names a passage must carry
    phrases: list[Phrase]  # multi-word names a passage must carry, adjacent


def read_query(
    snap: Snapshot, tokens: list[Token], question: str, *, spelling_weight: float = 0.8
) -> Query:
    """Terms, names and multi-word names of a question.

    A run of adjacent name words with an ordinary word among them is one multi-word name
    ("Mobile World Congress", "Huawei Mobile Services"): capitalised mid-question words
    count even when the articles write them in lower case ("World"), as the run is a name
    as a whole. The knowledge base's topic (a name in most passages) constrains nothing on
    its own.
    """
    per_token = _token_terms(snap, tokens, question, spelling_weight)
    first_word_at = len(question) - len(question.lstrip(_OPENERS))
    plain = _plain(snap, question)
    runs: list[list[int]] = []
    for i, (tok, q) in enumerate(zip(tokens, per_token, strict=True)):
        name_like = q.proper or _capital_means_name(snap, tok, first_word_at, plain)
        joined = bool(runs) and runs[-1][-1] == i - 1 and _adjacent(question, tokens[i - 1], tok)
        if joined and (name_like or tok.surface[:1].isdigit()):
            runs[-1].append(i)
        elif name_like:
            runs.append([i])
    names: list[frozenset[str]] = []
    phrases: list[Phrase] = []
    for run in runs:
        for part in _split_run(snap, [per_token[i] for i in run]):
            if len(part) == 1:
                if part[0].proper and not is_topic(part[0]):
                    names.append(frozenset({part[0].term}))
                continue
            first, last = run[[per_token[i] for i in run].index(part[0])], None
            last = first + len(part) - 1
            surface = question[tokens[first].start : tokens[last].end]
            phrases.append(Phrase(tuple(q.term for q in part), surface))
    return Query(list(dict.fromkeys(per_token)), per_token, names, phrases)


def _split_run(snap: Snapshot, run: list[QueryTerm]) -> list[list[QueryTerm]]:
    """A run of name words as the names it holds.

    A run is one multi-word name ("Mobile World Congress", "Google Europe") except that
    the topic at either end, and names before a multi-word name the articles write ("CEO"
    of "CEO Ren Zhengfei"), are names of their own: "Huawei CEO" asks about the CEO,
    not a thing called "Huawei CEO".
    """
    while len(run) > 1 and is_topic(run[0]) and all(q.proper for q in run[1:]):
        run = run[1:]
    while len(run) > 1 and is_topic(run[-1]) and all(q.proper for q in run[:-1]):
        run = run[:-1]
    if len(run) == 1:
        return [run]
    for k in range(1, len(run) - 1):
        head, rest = run[:k], run[k:]
        if all(q.proper for q in run) and phrase_holders(snap, [q.term for q in rest]):
            return [*([q] for q in head), rest]
    return [run]


# What a question asks for. A quantity ("how many X"): X must be something the articles
# mention. An attribute ("what is the X of Y", "Y's X"): X must be in the quoted passage
# itself, or a passage about Y that says nothing of X would answer it.
_QUANTITY_RE = re.compile(r"\bhow\s+(?:many|much)\s+(?P<focus>[^\W\d_][\w-]*)", re.IGNORECASE)
_ATTRIBUTE_RES = (
    re.compile(
        r"\b(?:what|who|which)(?:'s|\s+(?:is|was|are|were))\s+(?:the|a|an)\s+"
        r"(?P<focus>[\w-]+(?:\s+[\w-]+)?)\s+(?:of|for|at|in)\b(?P<owner>[^?!.]*)",
        re.IGNORECASE,
    ),
    re.compile(
        r"\b(?:what|which|who)\s+(?:is|was|are|were)\s+(?:[\w-]+\s+){0,3}[\w-]+['’]s\s+"
        r"(?P<focus>[\w-]+(?:\s+[\w-]+){0,2})",
        re.IGNORECASE,
    ),
)
# Words that end what is asked for: "Nokia's market share *in* Europe".
_FOCUS_STOP = frozenset(
    """
    among amongst across around within without toward towards versus via per like than near
    beyond despite during since among against between about after before into onto over
    under upon worldwide globally today now
    """.split()
)


@dataclass(frozen=True)
class Focus:
    terms: frozenset[str]
    surface: str
    attribute: bool  # True: must be in the quoted passage itself


def question_focus(snap: Snapshot, question: str) -> Focus | None:
    m = _QUANTITY_RE.search(question)
    if m:
        return _focus(snap, m.group("focus"), attribute=False)
    for pattern in _ATTRIBUTE_RES:
        m = pattern.search(question)
        if m:
            owner = m.groupdict().get("owner")
            attribute = owner is None or _only_names(snap, owner)
            return _focus(snap, m.group("focus"), attribute=attribute)
    return None


def _only_names(snap: Snapshot, text: str) -> bool:
    """ "of Ericsson", "of the Huawei Mate 30": the owner of the attribute is a name, so the
    question asks for a property of it; "the purpose of Huawei's offer to …" asks why."""
    tokens = snap.analyzer.analyze(text)
    return bool(tokens) and all(
        is_capitalised(t.surface) or t.term in snap.names or t.surface[:1].isdigit() for t in tokens
    )


def _focus(snap: Snapshot, text: str, *, attribute: bool) -> Focus | None:
    """What is asked for: the words up to a preposition; of an attribute, its head noun
    (the last word: "remaining *customers*", "market *share*") must be in the passage."""
    words: list[str] = []
    for word in text.split():
        if word.casefold() in _FOCUS_STOP or not snap.analyzer.tokenize(word):
            break
        words.append(word)
    if not words:
        return None
    surface = " ".join(words)
    head = words[-1] if attribute else surface
    return Focus(frozenset(snap.analyzer.tokenize(head)), surface, attribute)
