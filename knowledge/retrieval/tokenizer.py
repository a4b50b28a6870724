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

# Order matters: the first alternative that matches at a position wins. The lookaheads
# only fail early what could not match anyway (every token starts with a letter or
# digit; each alternative with what it starts with), which makes matching a third faster.
_TOKEN_RE = re.compile(
    r"""
    (?=[^\W_])(?:
    (?=[uf])(?P<phrase>united\s+states(?:\s+of\s+america)?|fifth[-\s]generation)  # one thing
  | (?=[^\W\d_]\.)(?P<abbr>(?:[^\W\d_]\.){2,}|(?:[^\W\d_]\.)+[^\W\d_](?![\w.]))  # U.S. e.g.
  | (?=[^\W_]*+&)(?P<amp>[^\W_]++(?:&[^\W_]++)+)                                # R&D  AT&T
  | (?P<num>\d+(?:[.,]\d+)*(?:[^\W\d_]+)?)                              # 600,000  3.5  5G
  | (?P<word>[^\W_][^\W_\u0300-\u036f]*(?:[\u0300-\u036f]+[^\W_]*)*(?:['’][^\W_]+)*)  # words
    )""",
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


# How a pickled analyzer names the lexicon shipped with the package.
_SHIPPED_LEXICON = "shipped"
# The groups of _TOKEN_RE, by number (``Match.lastindex``).
_PHRASE, _ABBR, _AMP, _NUM, _WORD = range(1, 6)
# Entries per cache of an Analyzer (stems; matched strings to terms).
_MAX_CACHED = 200_000
_ASCII_LOWER = bytes(range(ord("a"), ord("z") + 1))


def is_shouting(text: str) -> bool:
    """More than 8 letters, and over 80 % of them capitals: the one property of a whole
    text that changes how its words are read (capitals then mark no acronym)."""
    if len(text) <= 8:
        return False
    # Counting every letter in Python is slow; a quarter of the text in ASCII lower case
    # rules shouting out at once (UTF-8 encodes nothing else with the bytes a-z).
    encoded = text.encode("utf-8", "surrogatepass")
    if 4 * (len(encoded) - len(encoded.translate(None, _ASCII_LOWER))) > len(text):
        return False
    letters = [c for c in text if c.isalpha()]
    return len(letters) > 8 and sum(c.isupper() for c in letters) > 0.8 * len(letters)


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
        # The whole way from a matched string to its term ("" when dropped), for matches
        # whose kind keeps stopwords and for those that do not: most tokens are repeats.
        self._terms: tuple[dict[str, str], dict[str, str]] = ({}, {})

    def __getstate__(self) -> dict[str, object]:
        # Sent to worker processes as its settings; stemmers and caches are made there,
        # and the shipped lexicon is read there again rather than sent.
        lexicon: Lexicon | str | None = self.lexicon
        if lexicon is not None and lexicon is load_lexicon():
            lexicon = _SHIPPED_LEXICON
        return {
            "stopwords": self.stopwords,
            "stem": self.stem,
            "word_parts": self.word_parts,
            "lexicon": lexicon,
        }

    def __setstate__(self, state: dict[str, object]) -> None:
        if state.get("lexicon") == _SHIPPED_LEXICON:
            state = {**state, "lexicon": load_lexicon()}
        self.__init__(**state)  # type: ignore[misc]

    @property
    def signature(self) -> str:
        """Identifies the analysis so saved indexes built differently are not reused."""
        return (
            f"v2:stem={self.stem}:stop={len(self.stopwords)}:syn={len(SYNONYMS)}"
            f":parts={self.word_parts}"
            f":lex={self.lexicon.version if self.lexicon is not None else None}"
        )

    def analyze(self, text: str) -> list[Token]:
        if not self.word_parts:
            return [Token(t, s, e, text[s:e]) for t, s, e in self.spans(text)]
        out: list[Token] = []
        for t, s, e in self.spans(text):
            token = Token(t, s, e, text[s:e])
            out.append(token)
            out.extend(_parts(token))
        return out

    def tokenize(self, text: str) -> list[str]:
        if self.word_parts:
            return [t.term for t in self.analyze(text)]
        return [t for t, _, _ in self.spans(text)]

    def spans(self, text: str) -> list[tuple[str, int, int]]:
        """``(term, start, end)`` of each token of ``text``, word parts left out: what
        :meth:`analyze` returns without building ``Token`` objects (the index's hot path)."""
        out: list[tuple[str, int, int]] = []
        append = out.append
        # In a shouted text every word is in capitals: capitals then mark no acronym.
        shouting = is_shouting(text)
        view, dropped = self._view(text)
        plain, kept = self._terms[False], self._terms[True]
        for m in _TOKEN_RE.finditer(view):
            kind = m.lastindex
            raw = m.group()
            start, end = m.span()
            if kind == _WORD:
                if "'" in raw or "’" in raw:
                    raw = _CLITIC_RE.sub("", raw)
                    end = start + len(raw)
                # An all-capitals word ("US", "IT") is an acronym, never a stopword.
                keep = not shouting and len(raw) > 1 and raw.isupper()
            elif kind == _NUM:
                raw, keep = raw.replace(",", ""), True
            elif kind == _ABBR:
                # "U.S." and "US" must meet: drop the dots, keep it even if it spells a stopword.
                keep = not shouting or "." in raw
                raw = raw.replace(".", "")
            elif kind == _AMP:
                keep = True
            else:  # a phrase naming one thing
                raw, keep = " ".join(raw.split()), True
            cache = kept if keep else plain
            term = cache.get(raw)
            if term is None:
                term = self._term(raw, keep=keep)
                if len(cache) < _MAX_CACHED:
                    cache[raw] = term
            if not term:
                continue
            if dropped:
                # Back to ``text``: past every hyphen dropped before; "BCL-2" keeps its hyphen.
                start += bisect_right(dropped, start)
                end += bisect_right(dropped, end - 1)
            append((term, start, end))
        return out

    def _view(self, text: str) -> tuple[str, list[int]]:
        """The text words are cut from, and where hyphens were dropped from it (counted in
        the joined text, ascending)."""
        if not self.word_parts:
            return text, []
        dropped = [m.start() - i for i, m in enumerate(_LETTER_HYPHEN_DIGIT.finditer(text))]
        if not dropped:
            return text, dropped
        return _LETTER_HYPHEN_DIGIT.sub("", text), dropped

    def _term(self, raw: str, *, keep: bool) -> str:
        """The index term of a matched string; "" when it is dropped."""
        norm = unicodedata.normalize("NFKC", raw).casefold().replace("’", "'")
        if not norm:
            return ""
        mapped = SYNONYMS.get(norm)
        if mapped is not None:
            norm, keep = mapped, True
        if not keep and norm in self.stopwords:
            return ""
        return self._stem(norm)

    def _stem(self, word: str) -> str:
        if not self.stem or not word.isalpha():
            return word
        cached = self._cache.get(word)
        if cached is None:
            stemmer = getattr(self._local, "stemmer", None)
            if stemmer is None:
                stemmer = self._local.stemmer = Stemmer.Stemmer("english")
            cached = stemmer.stemWord(word)
            if len(self._cache) < _MAX_CACHED:
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
