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
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
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

    def encode(self) -> bytes:
        """Compact bytes (``decode`` reads them back): a reload decodes every unchanged
        article's, so these are records split by ASCII's separator characters, not JSON
        (which takes the few texts that hold one of them)."""
        c = self.counts
        counted = [
            (t, str(c.capital[t]), str(c.skipped[t]), str(c.alone[t]), c.written.get(t, ""))
            for t in dict.fromkeys([*c.capital, *c.skipped])
        ]
        capitalised = [
            (t, *(f"{w}{_UNIT}{n}" for w, n in by.items())) for t, by in self.capitalised.items()
        ]
        runs = [(_PART.join(terms), surface) for terms, surface in self.runs.items()]
        strings = [
            *self.counts.written.values(),
            *(w for by in self.capitalised.values() for w in by),
            *self.capitalised,
            *self.words,
            *self.words.values(),
            *(t for terms in self.runs for t in terms),
            *self.runs.values(),
        ]
        if _SEPARATORS.search("".join(strings)):
            return b"J" + json.dumps(self._plain(), ensure_ascii=False).encode("utf-8")
        sections: list[Sequence[Sequence[str]]] = [
            counted,
            capitalised,
            list(self.words.items()),
            runs,
        ]
        text = _SECTION.join(
            _RECORD.join(_FIELD.join(fields) for fields in section) for section in sections
        )
        return b"S" + text.encode("utf-8")

    def _plain(self) -> dict[str, Any]:
        c = self.counts
        return {
            "n": [
                [t, c.capital[t], c.skipped[t], c.alone[t], c.written.get(t, "")]
                for t in dict.fromkeys([*c.capital, *c.skipped])
            ],
            "c": {t: list(n.items()) for t, n in self.capitalised.items()},
            "w": self.words,
            "r": [[list(terms), surface] for terms, surface in self.runs.items()],
        }

    @classmethod
    def decode(cls, raw: bytes) -> ArticleWords:
        if raw[:1] == b"J":
            data = json.loads(raw[1:])
            counted: Sequence[Sequence[Any]] = data["n"]
            capitalised = {t: Counter(dict(pairs)) for t, pairs in data["c"].items()}
            words = data["w"]
            runs = {tuple(terms): surface for terms, surface in data["r"]}
        else:
            sections = raw[1:].decode("utf-8").split(_SECTION)
            counted = _records(sections[0])
            capitalised = {}
            for term, *pairs in _records(sections[1]):
                by: Counter[str] = Counter()
                for pair in pairs:
                    w, _, n = pair.rpartition(_UNIT)
                    by[w] = int(n)
                capitalised[term] = by
            words = dict(_records(sections[2]))
            runs = {tuple(terms.split(_PART)): surface for terms, surface in _records(sections[3])}
        counts = NameCounts()
        for term, capital, skipped, alone, written in counted:
            if int(capital):
                counts.capital[term] = int(capital)
                counts.written[term] = written
            if int(skipped):
                counts.skipped[term] = int(skipped)
            if int(alone):
                counts.alone[term] = int(alone)
        return cls(counts=counts, capitalised=capitalised, words=words, runs=runs)


# Separators of ``ArticleWords.encode`` (ASCII's own: no token or surface holds one).
_SECTION, _RECORD, _FIELD, _UNIT, _PART = "\x1c", "\x1d", "\x1e", "\x1f", "\x1f"
_SEPARATORS = re.compile("[\x1c-\x1f]")


def _records(section: str) -> list[list[str]]:
    return [record.split(_FIELD) for record in section.split(_RECORD)] if section else []


@dataclass
class LexiconMemo:
    """What the lexicon said of the words a version's vocabulary looked up: the next
    version asks it only about new ones (a lexicon look-up is ~50 µs; 20,000 articles
    have ~40,000 capitalised runs). Valid for one lexicon, as stored versions are."""

    ordinary: dict[str, bool] = field(default_factory=dict)
    places: dict[str, bool] = field(default_factory=dict)
    classes: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def ordinary_word(self, lexicon: Lexicon | None, word: str, used: LexiconMemo) -> bool:
        known = self.ordinary.get(word)
        if known is None:
            known = ordinary_word(lexicon, word)
        used.ordinary[word] = known
        return known

    def is_place(self, lexicon: Lexicon, word: str, used: LexiconMemo) -> bool:
        known = self.places.get(word)
        if known is None:
            known = is_place(lexicon, word)
        used.places[word] = known
        return known


@dataclass(frozen=True)
class Vocabulary:
    """The words of a knowledge base, as answers read them."""

    names: frozenset[str] = frozenset()
    surfaces: Mapping[str, str] = field(default_factory=dict)  # name -> as commonly written
    places: frozenset[str] = frozenset()
    # Lexicon class -> the knowledge base's names that are instances of it.
    instances: Mapping[str, tuple[tuple[Terms, str], ...]] = field(default_factory=dict)
    words: Mapping[str, str] = field(default_factory=dict)  # for the speller
    memo: LexiconMemo = field(default_factory=LexiconMemo, compare=False, repr=False)

    @classmethod
    def of(
        cls,
        articles: Iterable[ArticleWords],
        lexicon: Lexicon | None,
        occurrences: Callable[[str], int],
        memo: LexiconMemo | None = None,
    ) -> Vocabulary:
        """The sum of the articles' words, in article order. ``occurrences`` counts a
        term's tokens in the whole knowledge base (its lower-case count is what the
        capitals and the skipped leave); ``memo`` is an earlier version's look-ups."""
        counts = NameCounts()
        capitalised: dict[str, Counter[str]] = {}
        words: dict[str, str] = {}
        runs: dict[Terms, str] = {}
        for a in articles:
            counts.merge(a.counts)
            for term, written in a.capitalised.items():
                seen = capitalised.get(term)
                if seen is None:
                    capitalised[term] = Counter(written)
                else:
                    seen.update(written)
            for word, term in a.words.items():
                words.setdefault(word, term)
            for terms, surface in a.runs.items():
                runs.setdefault(terms, surface)
        for term in counts.capital:
            counts.lower[term] = occurrences(term) - counts.capital[term] - counts.skipped[term]
        before = memo or LexiconMemo()
        used = LexiconMemo()
        names = counts.names(lambda word: before.ordinary_word(lexicon, word, used))
        surfaces = {t: c.most_common(1)[0][0] for t, c in capitalised.items() if t in names}
        if lexicon is None:
            return cls(names, surfaces, frozenset(), {}, words, used)
        places = frozenset(t for t, w in surfaces.items() if before.is_place(lexicon, w, used))
        known = dict(before.classes)
        instances = instance_index(lexicon, runs.items(), known)
        used.classes = {w: known[w] for w in runs.values()}
        return cls(names, surfaces, places, instances, words, used)

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
            "memo": {
                "ordinary": self.memo.ordinary,
                "places": self.memo.places,
                "classes": self.memo.classes,
            },
        }
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes) -> Vocabulary:
        data = json.loads(raw)
        memo = data["memo"]
        return cls(
            names=frozenset(data["names"]),
            surfaces=data["surfaces"],
            places=frozenset(data["places"]),
            instances={
                c: tuple((tuple(terms), written) for terms, written in found)
                for c, found in data["instances"].items()
            },
            words=data["words"],
            memo=LexiconMemo(
                ordinary=memo["ordinary"],
                places=memo["places"],
                classes={w: tuple(c) for w, c in memo["classes"].items()},
            ),
        )
