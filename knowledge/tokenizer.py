"""The one tokenizer used for both the index and the questions.

Terms keep their surface offsets so that matched words can be highlighted in a
verbatim quote without a second, possibly different, tokenisation.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import Stemmer

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


@dataclass(frozen=True, slots=True)
class Token:
    term: str  # the normalised, stemmed index term
    start: int  # surface offsets into the text given to ``analyze``
    end: int
    surface: str


class Analyzer:
    """Turns text into index terms; one instance is shared by index and queries."""

    def __init__(self, *, stopwords: frozenset[str] = STOPWORDS, stem: bool = True) -> None:
        self.stopwords = stopwords
        self.stem = stem
        # PyStemmer objects are not thread-safe and Bolt answers from a thread pool.
        self._local = threading.local()
        self._cache: dict[str, str] = {}

    @property
    def signature(self) -> str:
        """Identifies the analysis so saved indexes built differently are not reused."""
        return f"v2:stem={self.stem}:stop={len(self.stopwords)}:syn={len(SYNONYMS)}"

    def analyze(self, text: str) -> list[Token]:
        out: list[Token] = []
        letters = [c for c in text if c.isalpha()]
        # In a shouted text every word is in capitals: capitals then mark no acronym.
        shouting = len(letters) > 8 and sum(c.isupper() for c in letters) > 0.8 * len(letters)
        for m in _TOKEN_RE.finditer(text):
            kind = m.lastgroup
            surface = m.group()
            start, end = m.start(), m.end()
            if kind == "phrase":
                out.extend(self._emit(" ".join(surface.split()), start, end, surface, keep=True))
            elif kind == "abbr":
                # "U.S." and "US" must meet: drop the dots, keep it even if it spells a stopword.
                out.extend(
                    self._emit(
                        surface.replace(".", ""),
                        start,
                        end,
                        surface,
                        keep=not shouting or "." in surface,
                    )
                )
            elif kind == "amp":
                out.extend(self._emit(surface, start, end, surface, keep=True))
            elif kind == "num":
                out.extend(self._emit(surface.replace(",", ""), start, end, surface, keep=True))
            else:
                word = _CLITIC_RE.sub("", surface)
                # An all-capitals word ("US", "IT") is an acronym, never a stopword.
                acronym = not shouting and len(word) > 1 and word.isupper()
                out.extend(self._emit(word, start, start + len(word), word, keep=acronym))
        return out

    def tokenize(self, text: str) -> list[str]:
        return [t.term for t in self.analyze(text)]

    def _emit(self, raw: str, start: int, end: int, surface: str, *, keep: bool) -> list[Token]:
        norm = unicodedata.normalize("NFKC", raw).casefold().replace("’", "'")
        if not norm:
            return []
        mapped = SYNONYMS.get(norm)
        if mapped is not None:
            norm, keep = mapped, True
        if not keep and norm in self.stopwords:
            return []
        return [Token(self._stem(norm), start, end, surface)]

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


@lru_cache(maxsize=1)
def default_analyzer() -> Analyzer:
    return Analyzer()


def tokenize(text: str) -> list[str]:
    """Index/query terms of ``text`` with the default analyzer."""
    return default_analyzer().tokenize(text)
