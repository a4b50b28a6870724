"""What kind of answer a question asks for, and whether a passage holds one.

"When …?" wants a date expression (the timeline's extractor, knowledge/answering/dates.py),
"How many/much …?" a number, "Who …?" a name the question does not already give,
"Where …?" a place, "Why …?" a reason (a causal link: "because", "due to", "so that").
Passages that hold the kind asked for rank first among those that
qualify (knowledge/answering/answer.py).
"""

from __future__ import annotations

import re
from enum import StrEnum

from knowledge.answering.dates import find_date_expressions
from knowledge.retrieval.lexicon import Lexicon, Relation


class AnswerType(StrEnum):
    DATE = "date"
    NUMBER = "number"
    NAME = "name"
    PLACE = "place"
    REASON = "reason"


# Words a question may open with before its question word ("And when …", "Do you know who").
_LEAD_IN = (
    r"^\W*(?:(?:and|so|but|also|ok|okay|then|now|please|hey|hi|tell\s+me|do\s+you\s+know"
    r"|can\s+you\s+(?:tell|say)(?:\s+me)?|could\s+you\s+(?:tell|say)(?:\s+me)?"
    r"|i\s+(?:wonder|want\s+to\s+know))\W+)*"
)
_TYPE_RES: tuple[tuple[re.Pattern[str], AnswerType], ...] = (
    (
        re.compile(
            _LEAD_IN + r"(?:since\s+when|until\s+when|by\s+when|when"
            r"|(?:in|on|by|since)?\s*what\s+(?:year|month|date|day|time)|what\s+year)\b",
            re.IGNORECASE,
        ),
        AnswerType.DATE,
    ),
    (re.compile(_LEAD_IN + r"how\s+(?:many|much)\b", re.IGNORECASE), AnswerType.NUMBER),
    (re.compile(_LEAD_IN + r"(?:who|whom)\b", re.IGNORECASE), AnswerType.NAME),
    (
        re.compile(_LEAD_IN + r"(?:where|(?:in|from)\s+which\s+(?:city|country))\b", re.IGNORECASE),
        AnswerType.PLACE,
    ),
    (
        re.compile(
            _LEAD_IN + r"(?:why|how\s+come|for\s+what\s+reason|what\s+(?:is|was|are|were)\s+"
            r"the\s+(?:reason|reasons|cause|causes|motive|motives)\b)",
            re.IGNORECASE,
        ),
        AnswerType.REASON,
    ),
)


# "Which country …", "Which executive …": a choice among named things.
_WHICH_RE = re.compile(
    _LEAD_IN + r"(?:in\s+|from\s+|to\s+|by\s+|with\s+)?which\s+(?P<words>(?:[\w-]+\s+){0,2}[\w-]+)",
    re.IGNORECASE,
)


def _singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    return word[:-1] if word.endswith("s") else word


def question_type(question: str) -> AnswerType | None:
    """The kind of answer the question opens by asking for, if it asks for one.

    "Which <noun>" asks for a name, a place when the noun is a kind of place ("Which
    country", "which city").
    """
    for pattern, kind in _TYPE_RES:
        if pattern.search(question):
            return kind
    m = _WHICH_RE.search(question)
    if m:
        words = [w.casefold() for w in m.group("words").split()]
        singular = {_singular(w) for w in words}
        if (set(words) | singular) & PLACE_CLASSES:
            return AnswerType.PLACE
        return AnswerType.NAME
    return None


_NUMBER_WORDS = frozenset(
    """
    one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen
    sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety
    hundred hundreds thousand thousands million millions billion billions trillion trillions
    dozen dozens half quarter twice thrice
    """.split()
)
# A quantity: digits (grouped or decimal), optionally a currency sign before and a
# magnitude or percent after; "5G" and "Mate 30"-style model numbers with a letter
# suffix are names of things, not quantities.
_NUMBER_RE = re.compile(
    r"(?<![\w.])[$€£¥]?\d+(?:[.,]\d+)*(?:\s*%|\s*(?:bn|mn|m|k|tn)\b|(?![\w]))", re.IGNORECASE
)
_WORD_RE = re.compile(r"[^\W\d_]+")


def has_number(text: str) -> bool:
    """A quantity in ``text``; a year or day of a date ("November 2016") is not one."""
    dates = [(e.start, e.end) for e in find_date_expressions(text)]
    for m in _NUMBER_RE.finditer(text):
        if not any(s <= m.start() < e for s, e in dates):
            return True
    return any(w.casefold() in _NUMBER_WORDS for w in _WORD_RE.findall(text))


# How news text gives a reason: a causal connective, or the concern behind an action.
_REASON_RE = re.compile(
    r"\b(?:because|due\s+to|owing\s+to|thanks\s+to|so\s+that|in\s+order\s+to|as\s+a\s+result"
    r"|on\s+(?:the\s+)?grounds|reasons?\b|concerns?\b|concerned|fears?\b"
    r"|since\s+(?![\d]|(?:19|20)\d\d|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|last|early))",
    re.IGNORECASE,
)


def has_reason(text: str) -> bool:
    return _REASON_RE.search(text) is not None


def has_date(text: str) -> bool:
    return any(not e.dateline for e in find_date_expressions(text))


def holds(
    kind: AnswerType,
    text: str,
    terms: frozenset[str],
    *,
    names: frozenset[str],
    asked: frozenset[str],
    places: frozenset[str],
) -> bool:
    """Whether a passage (its text and index terms) holds an answer of ``kind``.

    ``names`` are the knowledge base's name terms, ``asked`` the question's own terms
    (a name the question gives is not the answer to "who"), ``places`` the names the
    lexicon knows as places.
    """
    if kind is AnswerType.DATE:
        return has_date(text)
    if kind is AnswerType.NUMBER:
        return has_number(text)
    if kind is AnswerType.REASON:
        return has_reason(text)
    others = (terms & names) - asked
    if kind is AnswerType.NAME:
        return bool(others)
    return bool(others & places)


# What a named place is an instance of, a few broader steps up: "Zurich" is a city, "China"
# an Asian country, which is a country.
PLACE_CLASSES = frozenset(
    """
    location region country city town continent state district municipality capital
    """.split()
) | {"geographical area", "geographic area", "administrative district", "national capital"}
_PLACE_STEPS = 3


def is_place(lexicon: Lexicon, word: str) -> bool:
    """Whether the lexicon knows ``word`` as a named place (an instance of a place class)."""
    frontier = {r.term for r in lexicon.related(word, {Relation.INSTANCE_OF}, max_senses=1)}
    seen = set(frontier)
    for _ in range(_PLACE_STEPS):
        if frontier & PLACE_CLASSES:
            return True
        frontier = {
            r.term for t in frontier for r in lexicon.related(t, {Relation.BROADER}, max_senses=1)
        } - seen
        seen |= frontier
    return bool(frontier & PLACE_CLASSES)
