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
import marshal
import re
import zlib
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
            plain = json.dumps(self._plain(), ensure_ascii=False).encode("utf-8")
            return b"J" + zlib.compress(plain, 1)
        sections: list[Sequence[Sequence[str]]] = [
            counted,
            capitalised,
            list(self.words.items()),
            runs,
        ]
        text = _SECTION.join(
            _RECORD.join(_FIELD.join(fields) for fields in section) for section in sections
        )
        # Compressed: a version stores every article's, a reload writes them all again.
        return b"S" + zlib.compress(text.encode("utf-8"), 1)

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
        body = zlib.decompress(raw[1:])
        if raw[:1] == b"J":
            data = json.loads(body)
            counted: Sequence[Sequence[Any]] = data["n"]
            capitalised = {t: Counter(dict(pairs)) for t, pairs in data["c"].items()}
            words = data["w"]
            runs = {tuple(terms): surface for terms, surface in data["r"]}
        else:
            sections = body.decode("utf-8").split(_SECTION)
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
        return cls.of_sums(WordSums.of(articles), lexicon, occurrences, memo)

    @classmethod
    def of_sums(
        cls,
        sums: WordSums,
        lexicon: Lexicon | None,
        occurrences: Callable[[str], int],
        memo: LexiconMemo | None = None,
    ) -> Vocabulary:
        counts = NameCounts(
            capital=sums.capital,
            alone=sums.alone,
            skipped=sums.skipped,
            written={t: w for t, (w, _) in sums.written.items()},
        )
        for term in counts.capital:
            counts.lower[term] = occurrences(term) - counts.capital[term] - counts.skipped[term]
        before = memo or LexiconMemo()
        used = LexiconMemo()
        names = counts.names(lambda word: before.ordinary_word(lexicon, word, used))
        # The commonest way each name is written; of equally common ones the first seen.
        surfaces = {
            t: min(sums.capitalised[t].items(), key=lambda kv: (-kv[1][0], kv[1][1]))[0]
            for t in names
            if t in sums.capitalised
        }
        words = {w: t for w, (t, _) in sums.words.items()}
        if lexicon is None:
            return cls(names, surfaces, frozenset(), {}, words, used)
        places = frozenset(t for t, w in surfaces.items() if before.is_place(lexicon, w, used))
        runs = [(k, w) for k, (w, _) in sorted(sums.runs.items(), key=lambda kv: kv[1][1])]
        known = dict(before.classes)
        instances = instance_index(lexicon, runs, known)
        used.classes = {w: known[w] for _, w in runs}
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


# Where a word was first seen: (article number in its version, place in that article's
# record). Comparing two gives which came first in the knowledge base.
Owner = tuple[int, int]
NOWHERE: Owner = (2**62, 0)


@dataclass(frozen=True)
class Orphan:
    """A key whose first article went: ``kind`` names the map, ``terms`` are index terms
    every article showing the key contains (where to look for the next one)."""

    kind: str
    key: Any
    terms: tuple[str, ...]


def _terms_of(kind: str, key: Any, value: str) -> tuple[str, ...]:
    if kind == "written":
        return (key,)
    if kind == "runs":
        return (key[0],)
    # A word is the surface of its term, or a term itself ("words": stems too).
    return (value, key) if value != key else (key,)


@dataclass
class WordSums:
    """The sum of a version's articles' words, kept so that the next version adjusts it
    (the articles that went out subtracted, the new ones added) instead of adding up all
    20,000 again. What is first seen is kept with where (``Owner``): when the article
    that showed it first goes, the next article showing it is found through the index."""

    capital: Counter[str] = field(default_factory=Counter)
    alone: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    written: dict[str, tuple[str, Owner]] = field(default_factory=dict)
    # Term -> capitalised surface -> (count, first seen).
    capitalised: dict[str, dict[str, tuple[int, Owner]]] = field(default_factory=dict)
    words: dict[str, tuple[str, Owner]] = field(default_factory=dict)
    runs: dict[Terms, tuple[str, Owner]] = field(default_factory=dict)

    @classmethod
    def of(cls, articles: Iterable[ArticleWords]) -> WordSums:
        sums = cls()
        for d, a in enumerate(articles):
            sums.add(d, a)
        return sums

    def add(self, d: int, a: ArticleWords) -> None:
        """Add article number ``d``; an earlier first sighting is kept."""
        c = a.counts
        self.capital.update(c.capital)
        self.alone.update(c.alone)
        self.skipped.update(c.skipped)
        _first(self.written, ((t, w) for t, w in c.written.items()), d)
        for term, by in a.capitalised.items():
            known = self.capitalised.setdefault(term, {})
            for i, (surface, n) in enumerate(by.items()):
                count, owner = known.get(surface, (0, (d, i)))
                known[surface] = (count + n, min(owner, (d, i)))
        _first(self.words, a.words.items(), d)
        _first(self.runs, a.runs.items(), d)

    def subtract(self, d: int, a: ArticleWords) -> set[Orphan]:
        """Take out article number ``d``: the keys it was the first to show (with the
        term an article showing one contains), which another article may show too."""
        c = a.counts
        self.capital.subtract(c.capital)
        self.alone.subtract(c.alone)
        self.skipped.subtract(c.skipped)
        for counter in (self.capital, self.alone, self.skipped):
            for t in c.capital.keys() | c.alone.keys() | c.skipped.keys():
                if counter.get(t, 1) <= 0:
                    del counter[t]
        orphans: set[Orphan] = set()
        tables: tuple[tuple[str, dict[Any, tuple[str, Owner]], Iterable[Any]], ...] = (
            ("written", self.written, c.written),
            ("words", self.words, a.words),
            ("runs", self.runs, a.runs),
        )
        for name, table, keys in tables:
            for key in keys:
                entry = table.get(key)
                if entry is not None and entry[1][0] == d:
                    del table[key]
                    orphans.add(Orphan(name, key, _terms_of(name, key, entry[0])))
        for term, by in a.capitalised.items():
            known = self.capitalised.get(term, {})
            for surface, n in by.items():
                count, owner = known.get(surface, (n, (d, 0)))
                if count - n <= 0:
                    known.pop(surface, None)
                elif owner[0] == d:
                    known[surface] = (count - n, NOWHERE)
                    orphans.add(Orphan("capitalised", (term, surface), (term,)))
                else:
                    known[surface] = (count - n, owner)
            if not known:
                self.capitalised.pop(term, None)
        return orphans

    def renumbered(self, new_of: Callable[[int], int]) -> None:
        """Owners in the next version's article numbers (unchanged articles only)."""
        tables: tuple[dict[Any, tuple[str, Owner]], ...] = (self.written, self.words, self.runs)
        for table in tables:
            for key, (value, (d, i)) in table.items():
                table[key] = (value, (new_of(d), i))
        for by in self.capitalised.values():
            for surface, (count, (d, i)) in by.items():
                by[surface] = (count, (new_of(d), i) if d != NOWHERE[0] else NOWHERE)

    def owner(self, orphan: Orphan) -> Owner:
        """Who shows ``orphan`` first so far (``NOWHERE`` for none)."""
        if orphan.kind == "capitalised":
            term, surface = orphan.key
            return self.capitalised[term][surface][1]
        known = getattr(self, orphan.kind).get(orphan.key)
        return known[1] if known is not None else NOWHERE

    def find_first(self, orphan: Orphan, d: int, a: ArticleWords) -> bool:
        """Take article number ``d`` as the first to show ``orphan`` if it shows it
        before the one now known; whether it shows it at all."""
        name, key = orphan.kind, orphan.key
        if name == "capitalised":
            term, surface = key
            by = a.capitalised.get(term)
            if by is None or surface not in by:
                return False
            i = list(by).index(surface)
            count, owner = self.capitalised[term][surface]
            self.capitalised[term][surface] = (count, min(owner, (d, i)))
            return True
        sources: dict[str, Mapping[Any, str]] = {
            "written": a.counts.written,
            "words": a.words,
            "runs": a.runs,
        }
        source = sources[name]
        if key not in source:
            return False
        table: dict[Any, tuple[str, Owner]] = getattr(self, name)
        i = list(source).index(key)
        known = table.get(key)
        if known is None or (d, i) < known[1]:
            table[key] = (source[key], (d, i))
        return True

    def to_bytes(self) -> bytes:
        return marshal.dumps(
            (
                _SUMS_FORMAT,
                dict(self.capital),
                dict(self.alone),
                dict(self.skipped),
                self.written,
                self.capitalised,
                self.words,
                self.runs,
            )
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> WordSums:
        # Our own file under the data directory, as trusted as the arrays beside it.
        loaded = marshal.loads(raw)  # noqa: S302
        fmt, capital, alone, skipped, written, capitalised, words, runs = loaded
        if fmt != _SUMS_FORMAT:
            raise ValueError(f"word sums of format {fmt!r}")
        return cls(
            Counter(capital), Counter(alone), Counter(skipped), written, capitalised, words, runs
        )


# Marshal's format is Python's own: stored sums are read back by the version that wrote
# them or made again (``knowledge.store.packed``).
_SUMS_FORMAT = 1


def _first(table: dict[Any, tuple[str, Owner]], items: Iterable[tuple[Any, str]], d: int) -> None:
    for i, (key, value) in enumerate(items):
        known = table.get(key)
        if known is None or (d, i) < known[1]:
            table[key] = (value, (d, i))
