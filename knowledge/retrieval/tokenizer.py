"""The one tokenizer used for both the index and the questions.

Terms keep their surface offsets so that matched words can be highlighted in a
verbatim quote without a second, possibly different, tokenisation.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from bisect import bisect_right
from functools import lru_cache
from typing import NamedTuple

import Stemmer

from knowledge.retrieval.lexicon import Lexicon, load_lexicon

# Order matters: the first alternative that matches at a position wins.
_TOKEN_RE = re.compile(
    r"""
    (?P<phrase>united\s+states(?:\s+of\s+america)?|fifth[-\s]generation)  # names for one thing
  | (?P<abbr>(?:[^\W\d_]\.){2,}|(?:[^\W\d_]\.)+[^\W\d_](?![\w.]))  # U.S.  U.S  e.g.
  | (?P<amp>[^\W_]+(?:&[^\W_]+)+)                     # R&D  AT&T
  | (?P<num>\d+(?:[.,]\d+)*(?:[^\W\d_]+)?)            # 600,000  3.5  5G  10bn
  | (?P<word>[^\W_][^\W_\u0300-\u036f]*(?:[\u0300-\u036f]+[^\W_]*)*(?:['’][^\W_]+)*)  # words
    """,
    re.VERBOSE | re.IGNORECASE,
)

# A general English list; question words are included because a question's
# "what/who/when" never identifies the passage that answers it.
STOPWORDS: frozenset[str] = frozenset(
    """
    a about above after again against all also am an and any are aren as at be because
    been before being below between both but by can cannot could couldn did didn do does
    doesn doing don down during each either else ever few for from further get gets got
    had hadn has hasn have haven having he her here hers herself him himself his how
    however i if in into is isn it its itself just let me more most mustn my myself no
    nor not now of off on once only or other ought our ours ourselves out over own same
    shan she should shouldn so some such than that the their theirs them themselves then
    there these they this those through to too under until up upon us very was wasn we
    were weren what when where which while who whom whose why will with won would wouldn
    you your yours yourself yourselves tell told say said says saying know anything
    something thing things please many much
    """.split()
)

# Everyday words: indexed and ranked like any other, but a passage sharing only these
# with a question ("What time is it?") does not answer it.
WEAK_WORDS: frozenset[str] = frozenset(
    """
    time times like make makes made go going goes went come came get getting way ways
    day days year years people person thing good new first last long great little big
    small old right left high low next early late use used using work works want wants
    look looks see seen take takes took give gives gave find found think thought help
    keep put set seem seems mean means ask asked try call called need needs feel become
    part place case point week weeks month months today tomorrow yesterday weather rain
    sun
    """.split()
)

# Different spellings and names of one thing meet on one term, so a question in other
# words than the article's still finds it.
SYNONYMS: dict[str, str] = {
    "united states": "us",
    "united states of america": "us",
    "usa": "us",
    "america": "us",
    "american": "us",
    "americans": "us",
    "fifth generation": "5g",
    "fifth-generation": "5g",
    "licence": "license",
    "licences": "licenses",
    "licenced": "licensed",
    "licencing": "licensing",
}

# A possessive or contraction ending is not part of the indexed term.
_CLITIC_RE = re.compile(r"['’](?:s|d|ll|re|ve|m|t)$")

# Word parts: "BCL-2" and "Bcl2" must meet, and "Tet1" must reach "TET".
_LETTER_HYPHEN_DIGIT = re.compile(r"(?<=[^\W\d_])-(?=\d)")
_LETTERS_OR_DIGITS = re.compile(r"[^\W\d_]+|\d+")


class Token(NamedTuple):
    term: str  # the normalised, stemmed index term
    start: int  # surface offsets into the text given to ``analyze``
    end: int
    surface: str
    # A letter or digit run of the token before it ("tet" of "Tet1"), not a word of its own.
    part: bool = False


class Analyzer:
    """Turns text into index terms; one instance is shared by index and queries.

    ``lexicon`` is the thesaurus questions are expanded with (knowledge/retrieval/
    expansion.py); it does not change the terms, but its version is part of the
    signature, so a saved index is never paired with another lexicon.

    With ``word_parts`` a letter run and a number split by a hyphen are one term
    ("BCL-2" -> ``bcl2``, spanning all of "BCL-2"), and a term mixing letters and
    digits is followed by its runs ("Tet1" -> ``tet1``, ``tet``, ``1``), each run
    spanning its own characters where the surface spells it.
    """

    def __init__(
        self,
        *,
        stopwords: frozenset[str] = STOPWORDS,
        stem: bool = True,
        word_parts: bool = False,
        lexicon: Lexicon | None = None,
    ) -> None:
        self.stopwords = stopwords
        self.stem = stem
        self.word_parts = word_parts
        self.lexicon = lexicon
        # PyStemmer objects are not thread-safe and Bolt answers from a thread pool.
        self._local = threading.local()
        self._cache: dict[str, str] = {}

    @property
    def signature(self) -> str:
        """Identifies the analysis so saved indexes built differently are not reused."""
        return (
            f"v2:stem={self.stem}:stop={len(self.stopwords)}:syn={len(SYNONYMS)}"
            f":parts={self.word_parts}"
            f":lex={self.lexicon.version if self.lexicon is not None else None}"
        )

    def analyze(self, text: str) -> list[Token]:
        out: list[Token] = []
        letters = [c for c in text if c.isalpha()]
        # In a shouted text every word is in capitals: capitals then mark no acronym.
        shouting = len(letters) > 8 and sum(c.isupper() for c in letters) > 0.8 * len(letters)
        view, dropped = self._view(text)
        for m in _TOKEN_RE.finditer(view):
            kind = m.lastgroup
            raw = m.group()
            end = m.end()
            if kind == "phrase":
                raw, keep = " ".join(raw.split()), True
            elif kind == "abbr":
                # "U.S." and "US" must meet: drop the dots, keep it even if it spells a stopword.
                keep = not shouting or "." in raw
                raw = raw.replace(".", "")
            elif kind == "amp":
                keep = True
            elif kind == "num":
                raw, keep = raw.replace(",", ""), True
            else:
                raw = _CLITIC_RE.sub("", raw)
                end = m.start() + len(raw)
                # An all-capitals word ("US", "IT") is an acronym, never a stopword.
                keep = not shouting and len(raw) > 1 and raw.isupper()
            start = m.start()
            if dropped:
                # Back to ``text``: past every hyphen dropped before; "BCL-2" keeps its hyphen.
                start += bisect_right(dropped, start)
                end = end + bisect_right(dropped, end - 1)
            token = self._token(raw, text, start, end, keep=keep)
            if token is not None:
                out.append(token)
                if self.word_parts:
                    out.extend(_parts(token))
        return out

    def tokenize(self, text: str) -> list[str]:
        return [t.term for t in self.analyze(text)]

    def _view(self, text: str) -> tuple[str, list[int]]:
        """The text words are cut from, and where hyphens were dropped from it (counted in
        the joined text, ascending)."""
        if not self.word_parts:
            return text, []
        dropped = [m.start() - i for i, m in enumerate(_LETTER_HYPHEN_DIGIT.finditer(text))]
        if not dropped:
            return text, dropped
        return _LETTER_HYPHEN_DIGIT.sub("", text), dropped

    def _token(self, raw: str, text: str, start: int, end: int, *, keep: bool) -> Token | None:
        norm = unicodedata.normalize("NFKC", raw).casefold().replace("’", "'")
        if not norm:
            return None
        mapped = SYNONYMS.get(norm)
        if mapped is not None:
            norm, keep = mapped, True
        if not keep and norm in self.stopwords:
            return None
        return Token(self._stem(norm), start, end, text[start:end])

    def _stem(self, word: str) -> str:
        if not self.stem or not word.isalpha():
            return word
        cached = self._cache.get(word)
        if cached is None:
            stemmer = getattr(self._local, "stemmer", None)
            if stemmer is None:
                stemmer = self._local.stemmer = Stemmer.Stemmer("english")
            cached = stemmer.stemWord(word)
            if len(self._cache) < 200_000:
                self._cache[word] = cached
        return cached


def _parts(token: Token) -> list[Token]:
    """The letter and digit runs of a mixed term, as tokens after it."""
    parts = _LETTERS_OR_DIGITS.findall(token.term)
    if len(parts) < 2:
        return []
    runs = list(_LETTERS_OR_DIGITS.finditer(token.surface))
    spelled = len(runs) == len(parts) and all(
        unicodedata.normalize("NFKC", m.group()).casefold() == part
        for m, part in zip(runs, parts, strict=True)
    )
    if not spelled:
        # The term is not spelled out in the surface ("fifth-generation" -> "5g"): each
        # part covers the whole token.
        return [Token(p, token.start, token.end, token.surface, part=True) for p in parts]
    return [
        Token(p, token.start + m.start(), token.start + m.end(), m.group(), part=True)
        for m, p in zip(runs, parts, strict=True)
    ]


@lru_cache(maxsize=1)
def default_analyzer() -> Analyzer:
    return Analyzer(lexicon=load_lexicon())


def tokenize(text: str) -> list[str]:
    """Index/query terms of ``text`` with the default analyzer."""
    return default_analyzer().tokenize(text)
