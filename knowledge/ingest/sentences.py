"""Sentence boundaries as character spans, so quotes stay verbatim and checkable."""

from __future__ import annotations

import re

# Words after which a full stop does not end a sentence.
_ABBREVIATIONS = frozenset(
    """
    mr mrs ms dr prof sr jr st mt inc ltd co corp plc llc dept est fig vs etc al approx
    jan feb mar apr jun jul aug sep sept oct nov dec gov sen rep gen col lt sgt capt
    """.split()
)

# A terminator, optional closing quotes/brackets, then whitespace and an opener.
_BOUNDARY_RE = re.compile(r"""([.!?…]+)(["'”’)\]]*)(\s+)(?=["'“‘(\[]?[A-Z0-9À-ÖØ-Þ])""")
_DOTTED_INITIALISM_RE = re.compile(r"(?:\b[^\W\d_]\.){2,}$")
_WORD_BEFORE_STOP_RE = re.compile(r"([^\W\d_]+)\.$")
# How far back a stop is examined. Both tests read only the end of the text before the
# stop: the word right before it (longer than any abbreviation once past this window,
# so cut or not it is none) and the last two letters of an initialism. Looking at the
# whole text before every stop made splitting quadratic in the article's length.
_LOOK_BACK = 64


def _is_false_stop(text: str, end_of_terminator: int, terminator: str) -> bool:
    if terminator != ".":
        return False
    before = text[max(0, end_of_terminator - _LOOK_BACK) : end_of_terminator]
    word_match = _WORD_BEFORE_STOP_RE.search(before)
    if word_match:
        word = word_match.group(1)
        if word.casefold() in _ABBREVIATIONS:
            return True
        if len(word) == 1 and word.isupper():  # a middle initial: "John F. Kennedy"
            return True
    # "U.S. companies" continues the sentence; "in the U.S. The" cannot be told apart by
    # punctuation, so keep initialisms inside the sentence (the safer error for quoting).
    return bool(_DOTTED_INITIALISM_RE.search(before))


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Spans (start, end) of the sentences in ``text``, with surrounding space trimmed."""
    spans: list[tuple[int, int]] = []
    for para_start, para_end in _paragraph_spans(text):
        start = para_start
        for m in _BOUNDARY_RE.finditer(text, para_start, para_end):
            term_end = m.end(1)
            if _is_false_stop(text, term_end, m.group(1)):
                continue
            end = m.end(2)
            if end > start:
                spans.append((start, end))
            start = m.end(3)
        if start < para_end:
            spans.append((start, para_end))
    return [(s, e) for s, e in (_trim(text, s, e) for s, e in spans) if e > s]


def _paragraph_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    pos = 0
    for m in re.finditer(r"\n\s*\n|\n", text):
        spans.append((pos, m.start()))
        pos = m.end()
    spans.append((pos, len(text)))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
