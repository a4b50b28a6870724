"""A word's lemmas and the words related to it, from WordNet 3.0, for query expansion.

The data is a file shipped in this package (``data/``, built by ``scripts/build_lexicon.py``);
nothing is fetched or read from WordNet at run time. For every English lemma the file keeps
its first few senses per part of speech (WordNet orders senses by frequency; the count is
``Lexicon.senses_per_pos``) and, for each, its synonyms, derived forms, attribute nouns or
adjectives, one level of broader terms, the class a named thing is an instance of and the
named thing it is part of ("Tehran" -> "Iran", WordNet's part holonym of named things only).
Derived forms are kept for every sense: they relate word forms more than meanings, and
WordNet often files one under a later sense ("criminal" -> "crime" is the adjective's third).
``lemmas`` is WordNet's morphy: exception lists, then detachment rules ("bought" -> "buy",
"companies" -> "company").

Terms are lower-case, words joined by one space ("news agency"). Everything here is pure and
thread-safe; ``load_lexicon()`` reads the file once per process.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import re
import threading
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from typing import Final

from knowledge.retrieval.lexicon_format import (
    FORMAT,
    LINK_KINDS,
    POS_ORDER,
    LexiconDataError,
    Relation,
    Tables,
    decode,
)

__all__ = [
    "DATA_FILE",
    "DEFAULT_RELATIONS",
    "Lexicon",
    "LexiconDataError",
    "Related",
    "Relation",
    "expand",
    "load_lexicon",
]

DATA_FILE: Final = "wordnet-lexicon.bin.gz"
DEFAULT_RELATIONS: Final = frozenset(Relation)
# Closer relations first when one term is reachable several ways.
_PRIORITY: Final = {
    Relation.SYNONYM: 0,
    Relation.DERIVED: 1,
    Relation.ATTRIBUTE: 2,
    Relation.INSTANCE_OF: 3,
    Relation.BROADER: 4,
    Relation.PART_OF: 5,
}
_SEPARATOR_RE: Final = re.compile(r"([ -])")
# A collocation's words each have a few base forms; their product is cut here.
_MAX_COMBINATIONS: Final = 64
_ANY_RANK: Final = 255  # sense ranks are stored in one byte


@dataclass(frozen=True, slots=True)
class Related:
    """An expansion: ``term`` is ``relation`` to ``for_word`` (through its lemma ``lemma``)
    in that lemma's ``sense_rank``-th commonest ``pos`` sense (1 = commonest)."""

    term: str
    relation: Relation
    for_word: str
    sense_rank: int
    pos: str  # n, v, a or r
    lemma: str


def _normalize(word: str) -> str:
    return " ".join(word.replace("_", " ").replace("\u2019", "'").lower().split())


@dataclass(frozen=True, eq=False)
class Lexicon:
    """WordNet relations and morphology, read from the tables of one data file."""

    version: str  # changes whenever the data does: part of an analyzer's signature
    senses_per_pos: int
    _tables: Tables = field(repr=False)

    @classmethod
    def from_bytes(cls, data: bytes) -> Lexicon:
        """The lexicon in a data file's bytes; ``LexiconDataError`` if they are not one."""
        tables, payload = decode(data)
        digest = hashlib.sha256(payload).hexdigest()[:16]
        return cls(
            version=f"wordnet-3.0/{FORMAT}/{tables.senses_per_pos}/{digest}",
            senses_per_pos=tables.senses_per_pos,
            _tables=tables,
        )

    def __contains__(self, word: object) -> bool:
        """Whether ``word`` (any case, "_" or " " between words) is itself a lemma."""
        return isinstance(word, str) and self._id(_normalize(word)) is not None

    def lemmas(self, word: str) -> tuple[str, ...]:
        """The lemmas ``word`` is a form of, nouns' first, then verbs', adjectives', adverbs'.

        The word itself comes first where it is a lemma; unknown words give ``()``.
        """
        key = self._key(word)
        if not key:
            return ()
        found: dict[str, None] = {}
        for pos in POS_ORDER:
            found.update(dict.fromkeys(self._morphy(key, pos)))
        return tuple(found)

    def forms(self, lemma: str) -> tuple[str, ...]:
        """The irregular inflections of ``lemma`` (WordNet's exception lists read the other
        way: "make" -> "made", "buy" -> "bought"), sorted; regular ones are not listed."""
        key = self._key(lemma)
        return self._irregular.get(key, ()) if key else ()

    @functools.cached_property
    def _irregular(self) -> dict[str, tuple[str, ...]]:
        # Built on first use; two threads racing build the same dict.
        found: dict[str, set[str]] = {}
        for table in self._tables.exceptions.values():
            for form, bases in table.items():
                for base in bases:
                    if base != form:
                        found.setdefault(base, set()).add(form)
        return {base: tuple(sorted(f)) for base, f in found.items()}

    def related(
        self,
        word: str,
        relations: Iterable[Relation] = DEFAULT_RELATIONS,
        max_senses: int | None = None,
    ) -> tuple[Related, ...]:
        """Terms related to ``word`` through any of its lemmas, each term once.

        Ordered by sense rank, then closeness of relation (synonym, derived, attribute,
        instance_of, broader); neither ``word`` nor its lemmas are in the result.
        ``max_senses`` (1..``senses_per_pos``) keeps only senses ranked up to it; ``None``
        keeps all the data holds, derived forms of later senses included.
        """
        return self.expand([word], relations, max_senses)

    def expand(
        self,
        words: Iterable[str],
        relations: Iterable[Relation] = DEFAULT_RELATIONS,
        max_senses: int | None = None,
    ) -> tuple[Related, ...]:
        """Expansions of several words (a question's), each term once.

        A term that is one of ``words`` or a lemma of one (their inflections) is left out:
        it is the asker's own word, not an expansion. Ordered as ``related``; a term found
        for several words keeps the first word in ``words`` order among its best.
        """
        wanted = frozenset(Relation(r) for r in relations)
        limit = self._sense_limit(max_senses)
        keyed = [(key, self.lemmas(key)) for key in dict.fromkeys(map(self._key, words)) if key]
        excluded = {key for key, _ in keyed} | {lemma for _, ls in keyed for lemma in ls}
        found = [
            item
            for key, lemmas in keyed
            for lemma in lemmas
            for item in self._related(key, lemma, wanted, limit)
            if item.term not in excluded
        ]
        found.sort(key=lambda r: (r.sense_rank, _PRIORITY[r.relation]))
        best: dict[str, Related] = {}
        for item in found:
            best.setdefault(item.term, item)
        return tuple(best.values())

    def _key(self, word: str) -> str:
        """``word`` normalised, or "" where it cannot be a lemma (too long, too many words)."""
        t = self._tables
        if len(word) > 4 * t.max_term_chars:  # cheap cut before normalising a huge input
            return ""
        key = _normalize(word)
        if len(key) > t.max_term_chars:
            return ""
        if key.count(" ") + key.count("-") > t.max_term_separators:
            return ""
        return key

    def _sense_limit(self, max_senses: int | None) -> int:
        if max_senses is None:
            return _ANY_RANK
        if not 1 <= max_senses <= self.senses_per_pos:
            raise ValueError(
                f"max_senses must be 1..{self.senses_per_pos} (the data keeps "
                f"{self.senses_per_pos} senses per part of speech), not {max_senses}"
            )
        return max_senses

    def _related(
        self, for_word: str, lemma: str, wanted: frozenset[Relation], limit: int
    ) -> list[Related]:
        t = self._tables
        tid = self._id(lemma)
        if tid is None:
            return []
        out: list[Related] = []
        for sense in range(t.term_senses_start[tid], t.term_senses_start[tid + 1]):
            rank = t.sense_rank[sense]
            if rank > limit:
                continue
            pos = POS_ORDER[t.sense_pos[sense]]
            # Past the data's cut a sense carries derived forms only (see lexicon_format).
            if rank > t.senses_per_pos:
                if Relation.DERIVED not in wanted:
                    continue
                kinds = frozenset({Relation.DERIVED})
            else:
                kinds = wanted
            out.extend(
                Related(t.terms[term_id], relation, for_word, rank, pos, lemma)
                for relation, term_ids in self._sense_relations(sense, kinds)
                for term_id in term_ids
                if t.terms[term_id] != lemma
            )
        return out

    def _sense_relations(
        self, sense: int, wanted: frozenset[Relation]
    ) -> Iterable[tuple[Relation, Iterable[int]]]:
        """(relation, term ids) of one sense, in the order the data keeps them."""
        t = self._tables
        synset = t.sense_synset[sense]
        if Relation.SYNONYM in wanted:
            yield Relation.SYNONYM, self._synset_terms(synset)
        if Relation.DERIVED in wanted:
            yield (
                Relation.DERIVED,
                t.derived_terms[t.sense_derived_start[sense] : t.sense_derived_start[sense + 1]],
            )
        for link in range(t.synset_links_start[synset], t.synset_links_start[synset + 1]):
            relation = LINK_KINDS[t.synset_link_kinds[link]]
            if relation in wanted:
                yield relation, self._synset_terms(t.synset_links[link])

    def _synset_terms(self, synset: int) -> Iterable[int]:
        t = self._tables
        return t.synset_terms[t.synset_terms_start[synset] : t.synset_terms_start[synset + 1]]

    def _id(self, term: str) -> int | None:
        terms = self._tables.terms
        i = bisect_left(terms, term)
        return i if i < len(terms) and terms[i] == term else None

    def _is_lemma(self, term: str, pos: str) -> bool:
        tid = self._id(term)
        return tid is not None and bool(self._tables.term_pos[tid] & 1 << POS_ORDER.index(pos))

    def _morphy(self, form: str, pos: str) -> list[str]:
        """WordNet's morphy for one part of speech: the lemmas ``form`` can be a form of."""
        exceptions = self._tables.exceptions[pos].get(form)
        if exceptions is not None:
            candidates: Iterable[str] = (form, *exceptions)
        elif _SEPARATOR_RE.search(form):
            candidates = self._collocations(form, pos)
        else:
            candidates = (form, *self._detach(form, pos))
        return [c for c in dict.fromkeys(candidates) if self._is_lemma(c, pos)]

    def _detach(self, word: str, pos: str) -> list[str]:
        """Base forms by morphy's suffix rules, unchecked ("boxesful" -> "boxful")."""
        if pos == "n":
            if word.endswith("ful") and len(word) > 3:
                return [base + "ful" for base in self._detach(word[:-3], pos)]
            if word.endswith("ss") or len(word) <= 2:
                return []
        return [
            word[: -len(old)] + new
            for old, new in self._tables.rules[pos]
            if word.endswith(old) and len(word) > len(old)
        ]

    def _collocations(self, form: str, pos: str) -> Iterable[str]:
        """ "news agencies" -> "news agency": each word as is or as one of its lemmas."""
        options: list[list[str]] = []
        for i, part in enumerate(_SEPARATOR_RE.split(form)):
            if i % 2 or not part:  # a separator, kept as it is
                options.append([part])
            else:
                bases = self._tables.exceptions[pos].get(part) or self._detach(part, pos)
                options.append([part, *(b for b in bases if self._is_lemma(b, pos))])
        combos = itertools.islice(itertools.product(*options), _MAX_COMBINATIONS)
        return ["".join(combo) for combo in combos]


def load_lexicon() -> Lexicon:
    """The lexicon shipped with this package, read once per process."""
    with _LOAD_LOCK:
        return _packaged_lexicon()


def expand(
    words: Iterable[str],
    relations: Iterable[Relation] = DEFAULT_RELATIONS,
    max_senses: int | None = None,
) -> tuple[Related, ...]:
    """``load_lexicon().expand(...)``: the shipped lexicon's expansions of ``words``."""
    return load_lexicon().expand(words, relations, max_senses)


_LOAD_LOCK: Final = threading.Lock()


@functools.cache
def _packaged_lexicon() -> Lexicon:
    data = resources.files("knowledge.retrieval").joinpath("data", DATA_FILE).read_bytes()
    return Lexicon.from_bytes(data)
