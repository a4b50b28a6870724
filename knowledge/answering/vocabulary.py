"""The words of a knowledge base that answers read: its names, how each is written, the
places and instances among them, and every word for the speller.

They are counted article by article when an article is analysed (``ArticleWords``,
stored with its analysis as JSON) and added up in article order into one
``Vocabulary`` per version (stored with the version): a reload adds up the stored
counts of unchanged articles instead of reading their text again, and a warm start
reads the version's sum. Adding up in article order gives what counting every passage
of the knowledge base in one pass gives, first occurrences included.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from knowledge.answering.answer_types import is_place
from knowledge.answering.context import (
    NameCounts,
    PassageText,
    capitalised_runs,
    ordinary_word,
)
from knowledge.retrieval.expansion import instance_index
from knowledge.retrieval.lexicon import Lexicon

Terms = tuple[str, ...]


@dataclass
class ArticleWords:
    """What one article adds to its knowledge base's vocabulary."""

    counts: NameCounts = field(default_factory=NameCounts)
    # Term -> the capitalised ways the article writes it, counted (first seen first).
    capitalised: dict[str, Counter[str]] = field(default_factory=dict)
    # Every word (lower case) and stem -> its index term, first seen first.
    words: dict[str, str] = field(default_factory=dict)
    # Runs of capitalised words (their terms) -> as first written.
    runs: dict[Terms, str] = field(default_factory=dict)

    def add(self, text: str, analysed: PassageText, lexicon: Lexicon | None) -> None:
        """Count one passage (in article order)."""
        self.counts.add(text, analysed, lambda word: ordinary_word(lexicon, word))
        capitalised, words = self.capitalised, self.words
        for tok in analysed.tokens:
            if tok.surface[:1].isupper():
                capitalised.setdefault(tok.term, Counter())[tok.surface] += 1
            if tok.surface.isalpha():
                words.setdefault(tok.surface.casefold(), tok.term)
                # Stems too: "aquire" is two edits from "acquired", one from "acquir".
                words.setdefault(tok.term, tok.term)
        for terms, surface in capitalised_runs(text, analysed.tokens):
            self.runs.setdefault(terms, surface)

    def to_json(self) -> bytes:
        c = self.counts
        counted = dict.fromkeys([*c.capital, *c.lower])
        data = {
            "n": [[t, c.capital[t], c.lower[t], c.alone[t], c.written.get(t, "")] for t in counted],
            "c": {t: list(n.items()) for t, n in self.capitalised.items()},
            "w": self.words,
            "r": [[list(terms), surface] for terms, surface in self.runs.items()],
        }
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes) -> ArticleWords:
        data = json.loads(raw)
        counts = NameCounts()
        for term, capital, lower, alone, written in data["n"]:
            if capital:
                counts.capital[term] = capital
                counts.written[term] = written
            if lower:
                counts.lower[term] = lower
            if alone:
                counts.alone[term] = alone
        return cls(
            counts=counts,
            capitalised={t: Counter(dict(pairs)) for t, pairs in data["c"].items()},
            words=data["w"],
            runs={tuple(terms): surface for terms, surface in data["r"]},
        )


@dataclass(frozen=True)
class Vocabulary:
    """The words of a knowledge base, as answers read them."""

    names: frozenset[str] = frozenset()
    surfaces: Mapping[str, str] = field(default_factory=dict)  # name -> as commonly written
    places: frozenset[str] = frozenset()
    # Lexicon class -> the knowledge base's names that are instances of it.
    instances: Mapping[str, tuple[tuple[Terms, str], ...]] = field(default_factory=dict)
    words: Mapping[str, str] = field(default_factory=dict)  # for the speller

    @classmethod
    def of(cls, articles: Iterable[ArticleWords], lexicon: Lexicon | None) -> Vocabulary:
        """The sum of the articles' words, in article order."""
        counts = NameCounts()
        capitalised: dict[str, Counter[str]] = {}
        words: dict[str, str] = {}
        runs: dict[Terms, str] = {}
        for a in articles:
            counts.merge(a.counts)
            for term, written in a.capitalised.items():
                capitalised.setdefault(term, Counter()).update(written)
            for word, term in a.words.items():
                words.setdefault(word, term)
            for terms, surface in a.runs.items():
                runs.setdefault(terms, surface)
        names = counts.names(lambda word: ordinary_word(lexicon, word))
        surfaces = {t: c.most_common(1)[0][0] for t, c in capitalised.items() if t in names}
        if lexicon is None:
            return cls(names, surfaces, frozenset(), {}, words)
        places = frozenset(t for t, w in surfaces.items() if is_place(lexicon, w))
        return cls(names, surfaces, places, instance_index(lexicon, runs.items()), words)

    def to_json(self) -> bytes:
        data: dict[str, Any] = {
            "names": sorted(self.names),
            "surfaces": self.surfaces,
            "places": sorted(self.places),
            "instances": {
                cls: [[list(terms), written] for terms, written in found]
                for cls, found in self.instances.items()
            },
            "words": self.words,
        }
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes) -> Vocabulary:
        data = json.loads(raw)
        return cls(
            names=frozenset(data["names"]),
            surfaces=data["surfaces"],
            places=frozenset(data["places"]),
            instances={
                c: tuple((tuple(terms), written) for terms, written in found)
                for c, found in data["instances"].items()
            },
            words=data["words"],
        )
