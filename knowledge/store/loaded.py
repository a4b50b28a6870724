"""One loaded, immutable version of the knowledge base.

What the answers read of every passage — where it is, its sentences, its terms — is
held in a few flat arrays (``Contents``), not in an object or a set per passage: at
20,000 articles that is hundreds of thousands of passages, and per-passage term sets
alone took most of a gigabyte. ``Passage`` objects, term sets and sentence terms are
made from the arrays when asked for, for the few dozen candidates of a question.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast, overload

import numpy as np
import numpy.typing as npt

from knowledge.answering.context import subject_of
from knowledge.answering.vocabulary import Vocabulary
from knowledge.ingest.analysis import OWN_TOKENS
from knowledge.models import Article, ArticleMeta, Passage, Problem
from knowledge.retrieval.index import Bm25Index
from knowledge.retrieval.spelling import Speller
from knowledge.retrieval.synonyms import SynonymTable
from knowledge.retrieval.tokenizer import Analyzer, Token

Terms = tuple[str, ...]
_T = TypeVar("_T")
MEMO_ENTRIES = 20_000


class Memo:
    """A bounded memo for values derived from an immutable snapshot (oldest out first).

    Thread-safe enough for its use: two threads racing compute the same value.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._values: dict[Hashable, object] = {}

    def get(self, key: Hashable, compute: Callable[[], _T]) -> _T:
        try:
            return cast(_T, self._values[key])
        except KeyError:
            pass
        value = compute()
        if len(self._values) >= self._size:
            # Another thread may change it meanwhile: the bound is approximate.
            with contextlib.suppress(KeyError, StopIteration, RuntimeError):
                del self._values[next(iter(self._values))]
        self._values[key] = value
        return value


IntArray = npt.NDArray[np.int64]
Int32Array = npt.NDArray[np.int32]
T = TypeVar("T")
# Passages whose term sets and sentence terms a snapshot keeps once made.
_CACHED_PASSAGES = 4096
# Articles (and their subjects) a snapshot keeps once made.
_CACHED_ARTICLES = 4096


@dataclass(frozen=True)
class SentenceTerms:
    start: int  # offsets into the article text
    end: int
    terms: frozenset[str]


@dataclass(frozen=True, eq=False)
class Contents:
    """Passages, sentences and tokens of every article of a version, in article order."""

    doc_ids: tuple[str, ...]
    # Article d's passages are doc_passages[d]:doc_passages[d + 1].
    doc_passages: IntArray
    # (start, end) of each passage in its article's text.
    passage_bounds: Int32Array
    # Passage i's tokens are tokens[passage_tokens[i]:passage_tokens[i + 1]], as index
    # term ids: position in that slice is the token's position in the passage.
    passage_tokens: IntArray
    tokens: Int32Array
    # (start, end, part) of each token: offsets into its passage's text, and 1 for a
    # word part. A passage's tokens are read from these, not made again by tokenizing.
    token_spans: Int32Array
    # Passage i's sentences are passage_sentences[i]:passage_sentences[i + 1].
    passage_sentences: IntArray
    # (start, end) of each sentence in its article's text, and its token range in
    # ``tokens`` (``OWN_TOKENS`` twice: its terms come from tokenizing it alone).
    sentence_bounds: Int32Array
    sentence_tokens: IntArray

    @property
    def n_passages(self) -> int:
        return int(self.passage_bounds.shape[0])

    @functools.cached_property
    def passage_doc(self) -> Int32Array:
        """The article number of every passage."""
        counts = np.diff(self.doc_passages)
        return np.repeat(np.arange(len(self.doc_ids), dtype=np.int32), counts)

    @functools.cached_property
    def doc_number(self) -> dict[str, int]:
        return {d: i for i, d in enumerate(self.doc_ids)}

    def arrays(self) -> dict[str, npt.NDArray[Any]]:
        """The arrays by name (what a saved version stores)."""
        return {name: getattr(self, name) for name in CONTENTS_ARRAYS}


CONTENTS_ARRAYS = (
    "doc_passages",
    "passage_bounds",
    "passage_tokens",
    "tokens",
    "token_spans",
    "passage_sentences",
    "sentence_bounds",
    "sentence_tokens",
)


class _View(Sequence[T]):
    """A read-only sequence over the passages of a snapshot, made item by item."""

    def __init__(self, snap: Snapshot) -> None:
        self._snap = snap

    def __len__(self) -> int:
        return self._snap.contents.n_passages

    @overload
    def __getitem__(self, i: int) -> T: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[T]: ...
    def __getitem__(self, i: int | slice) -> T | Sequence[T]:
        if isinstance(i, slice):
            return [self._item(j) for j in range(*i.indices(len(self)))]
        n = len(self)
        if not -n <= i < n:
            raise IndexError("passage index out of range")
        return self._item(i % n)

    def __iter__(self) -> Iterator[T]:
        return (self._item(i) for i in range(len(self)))

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, Sequence) or isinstance(other, str):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def _item(self, i: int) -> T:
        raise NotImplementedError


class _Passages(_View[Passage]):
    def _item(self, i: int) -> Passage:
        return self._snap.passage_at(i)


class _PassageTerms(_View[frozenset[str]]):
    def _item(self, i: int) -> frozenset[str]:
        return self._snap.terms_of(i)


class _PassageSentences(_View[tuple[SentenceTerms, ...]]):
    def _item(self, i: int) -> tuple[SentenceTerms, ...]:
        return self._snap.sentences_of(i)


def meta_json(meta: ArticleMeta) -> bytes:
    """An article's metadata as canonical JSON (sorted keys and derived fields): equal
    metadata gives equal bytes in every process."""
    fields = meta.model_dump(mode="json")
    fields["derived"] = sorted(fields["derived"])
    return json.dumps(fields, sort_keys=True, ensure_ascii=False).encode("utf-8")


def fingerprint(content_hash: str, meta: bytes) -> bytes:
    """What a reload compares: an article changes with its bytes or its metadata."""
    return hashlib.sha256(content_hash.encode() + b"\0" + meta).digest()


@dataclass(frozen=True, eq=False)
class ArticleTable:
    """Every article's text and metadata, in article order, as bytes in flat arrays.

    Row d: ``keys[d]`` (what its analysis depends on, hashed), ``digests[d]`` (SHA-256
    of the file, the article's ``content_hash``), ``fingerprints[d]``, its cleaned text
    (UTF-8), metadata (``meta_json``) and words (``ArticleWords``) at
    ``*_ends[d - 1]:*_ends[d]`` in the blobs.
    """

    keys: npt.NDArray[np.uint8]
    digests: npt.NDArray[np.uint8]
    fingerprints: npt.NDArray[np.uint8]
    text_blob: npt.NDArray[np.uint8]
    text_ends: IntArray
    meta_blob: npt.NDArray[np.uint8]
    meta_ends: IntArray
    # What each article adds to the vocabulary (``ArticleWords.encode``).
    words_blob: npt.NDArray[np.uint8]
    words_ends: IntArray

    def __len__(self) -> int:
        return int(self.keys.shape[0])

    def arrays(self) -> dict[str, npt.NDArray[Any]]:
        return {name: getattr(self, name) for name in TABLE_ARRAYS}

    @staticmethod
    def _span(ends: IntArray, d: int) -> tuple[int, int]:
        return (int(ends[d - 1]) if d else 0), int(ends[d])

    def text(self, d: int) -> str:
        a, b = self._span(self.text_ends, d)
        return self.text_blob[a:b].tobytes().decode("utf-8")

    def meta_bytes(self, d: int) -> bytes:
        a, b = self._span(self.meta_ends, d)
        return self.meta_blob[a:b].tobytes()

    def words_bytes(self, d: int) -> bytes:
        a, b = self._span(self.words_ends, d)
        return self.words_blob[a:b].tobytes()

    def article(self, d: int) -> Article:
        return Article.model_construct(
            meta=ArticleMeta.model_validate_json(self.meta_bytes(d)),
            text=self.text(d),
            content_hash=self.digests[d].tobytes().hex(),
        )


TABLE_ARRAYS = (
    "keys",
    "digests",
    "fingerprints",
    "text_blob",
    "text_ends",
    "meta_blob",
    "meta_ends",
    "words_blob",
    "words_ends",
)


class ByDocId(Mapping[str, T]):
    """Per article of a version, by id: each value made from the article's number when
    first asked for (and kept for a while), so a start does not make 20,000 of them."""

    def __init__(
        self,
        doc_ids: Sequence[str],
        number: Mapping[str, int],
        make: Callable[[int], T],
        cached: int,
    ) -> None:
        self._doc_ids = doc_ids
        self._number = number
        self._made = functools.lru_cache(maxsize=cached)(make)

    def __getitem__(self, doc_id: str) -> T:
        d = self._number.get(doc_id)
        if d is None:
            raise KeyError(doc_id)
        return self._made(d)

    def __iter__(self) -> Iterator[str]:
        return iter(self._doc_ids)

    def __len__(self) -> int:
        return len(self._doc_ids)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._number


@dataclass(frozen=True, eq=False)
class Snapshot:
    kb_dir: Path
    kb_version: str
    contents: Contents
    table: ArticleTable
    index: Bm25Index
    analyzer: Analyzer
    loaded_at: dt.datetime
    loaded_by: str
    load_seconds: float = 0.0
    # Index terms of everyday words that alone never make a passage an answer.
    weak_terms: frozenset[str] = frozenset()
    # Terms the articles write as names (knowledge/answering/context.py), the commonest
    # way each is written, those of them the lexicon knows as places, and the instances
    # of the lexicon's classes among them (knowledge/answering/vocabulary.py).
    vocabulary: Vocabulary = field(default_factory=Vocabulary)
    # The knowledge base's own synonym rules (manifest ``[synonyms]``), compiled.
    synonyms: SynonymTable = field(default_factory=SynonymTable)
    speller: Speller | None = None
    # What answers compute per passage and reuse (its tokens with offsets, the passages
    # of other articles carrying its statements): bounded, dropped with the snapshot.
    memo: Memo = field(default_factory=lambda: Memo(MEMO_ENTRIES), compare=False, repr=False)
    # Problems skipped to serve this version (``skip_invalid``): none for a valid one.
    skipped: tuple[Problem, ...] = field(default=())
    # The problems of each invalid article by analysis key: a reload does not analyse
    # an unchanged invalid file again.
    invalid: Mapping[bytes, tuple[Problem, ...]] = field(default_factory=dict)

    @functools.cached_property
    def articles(self) -> Mapping[str, Article]:
        c = self.contents
        return ByDocId(c.doc_ids, c.doc_number, self.table.article, _CACHED_ARTICLES)

    # ----------------------------------------------------------- vocabulary

    @property
    def names(self) -> frozenset[str]:
        return self.vocabulary.names

    @property
    def name_surfaces(self) -> Mapping[str, str]:
        return self.vocabulary.surfaces

    @property
    def places(self) -> frozenset[str]:
        return self.vocabulary.places

    @property
    def instances(self) -> Mapping[str, tuple[tuple[Terms, str], ...]]:
        return self.vocabulary.instances

    @functools.cached_property
    def subjects(self) -> Mapping[str, frozenset[str]]:
        """Per article: the names it is about (``knowledge.answering.context``), made
        for an article when first asked for."""
        c = self.contents
        return ByDocId(c.doc_ids, c.doc_number, self.subject_of, _CACHED_ARTICLES)

    def subject_of(self, d: int) -> frozenset[str]:
        """The subject of article number ``d``."""
        c = self.contents
        first, stop = (int(x) for x in c.doc_passages[d : d + 2])
        title = ArticleMeta.model_validate_json(self.table.meta_bytes(d)).title or ""
        # Only the names among each passage's terms count: read them off the token ids
        # of the whole article at once.
        bounds = c.passage_tokens[first : stop + 1]
        ids = c.tokens[int(bounds[0]) : int(bounds[-1])]
        at = np.flatnonzero(self._name_ids[ids])
        passage = np.searchsorted(bounds, at + int(bounds[0]), side="right") - 1
        named: list[set[str]] = [set() for _ in range(stop - first)]
        terms = self.index.terms
        for k, tid in zip(passage.tolist(), ids[at].tolist(), strict=True):
            named[k].add(terms[tid])
        return subject_of(self.analyzer.tokenize(title), [frozenset(n) for n in named], self.names)

    @functools.cached_property
    def _name_ids(self) -> npt.NDArray[np.bool_]:
        """Per index term id: whether the term is a name."""
        mask = np.zeros(len(self.index.terms), dtype=bool)
        ids = [self.index.term_id(t) for t in self.names]
        mask[[t for t in ids if t is not None]] = True
        return mask

    def fingerprints(self) -> dict[str, bytes]:
        """Every article's fingerprint (content and metadata), by id."""
        rows = [bytes(f) for f in self.table.fingerprints]
        return dict(zip(self.contents.doc_ids, rows, strict=True))

    # ------------------------------------------------------------- passages

    @functools.cached_property
    def passages(self) -> Sequence[Passage]:
        return _Passages(self)

    def passage_at(self, i: int) -> Passage:
        c = self.contents
        d = int(c.passage_doc[i])
        doc_id = c.doc_ids[d]
        start, end = (int(x) for x in c.passage_bounds[i])
        n = i - int(c.doc_passages[d]) + 1
        # The article's text alone: its metadata need not be read and validated.
        text = self.table.text(d)[start:end]
        return Passage.model_construct(
            passage_id=f"{doc_id}#{n}", doc_id=doc_id, n=n, start=start, end=end, text=text
        )

    def article_passages(self, i: int) -> range:
        """The passages of passage ``i``'s article (an article's passages stand together)."""
        d = int(self.contents.passage_doc[i])
        first, stop = (int(x) for x in self.contents.doc_passages[d : d + 2])
        return range(first, stop)

    def doc_of(self, i: int) -> str:
        """The article of passage ``i``."""
        return self.contents.doc_ids[int(self.contents.passage_doc[i])]

    def passage_number(self, passage_id: str) -> int | None:
        """The position of ``passage_id`` among the passages, or None."""
        doc_id, sep, n_text = passage_id.rpartition("#")
        d = self.contents.doc_number.get(doc_id) if sep else None
        if d is None or not n_text.isdigit() or n_text.startswith("0"):
            return None
        first, stop = (int(x) for x in self.contents.doc_passages[d : d + 2])
        i = first + int(n_text) - 1
        return i if first <= i < stop else None

    def passage(self, passage_id: str) -> Passage | None:
        i = self.passage_number(passage_id)
        return self.passage_at(i) if i is not None else None

    def analysed(self, i: int) -> list[Token]:
        """Passage ``i``'s tokens with their offsets in its text (what ``analyze`` of its
        text returns, read from the stored tokens)."""
        return self.memo.get(("analysed", i), lambda: self._analysed(i))

    def _analysed(self, i: int) -> list[Token]:
        c = self.contents
        lo, hi = int(c.passage_tokens[i]), int(c.passage_tokens[i + 1])
        text = self.passage_at(i).text
        terms = self.index.terms
        return [
            Token(terms[t], s, e, text[s:e], bool(part))
            for t, (s, e, part) in zip(
                c.tokens[lo:hi].tolist(), c.token_spans[lo:hi].tolist(), strict=True
            )
        ]

    def passages_of(self, doc_id: str) -> list[Passage]:
        d = self.contents.doc_number.get(doc_id)
        if d is None:
            return []
        first, stop = (int(x) for x in self.contents.doc_passages[d : d + 2])
        return [self.passage_at(i) for i in range(first, stop)]

    def passage_counts(self) -> dict[str, int]:
        """Passages per article."""
        counts = np.diff(self.contents.doc_passages).tolist()
        return dict(zip(self.contents.doc_ids, counts, strict=True))

    @functools.cached_property
    def passage_pos(self) -> Mapping[str, int]:
        """Position of every passage id (prefer ``passage_number``: this builds a dict)."""
        return {p.passage_id: i for i, p in enumerate(self.passages)}

    # ---------------------------------------------------------------- terms

    def _token_slice(self, i: int) -> Int32Array:
        c = self.contents
        return c.tokens[int(c.passage_tokens[i]) : int(c.passage_tokens[i + 1])]

    def token_terms(self, i: int) -> list[str]:
        """Passage ``i``'s terms in order: a term's position is its index in this list."""
        terms = self.index.terms
        return [terms[t] for t in self._token_slice(i).tolist()]

    def terms_of(self, i: int) -> frozenset[str]:
        """The set of index terms passage ``i`` contains."""
        return self._cached_terms(i)

    @functools.cached_property
    def _cached_terms(self) -> Callable[[int], frozenset[str]]:
        # An answer asks for the same candidates' terms several times (names in
        # context, coverage, corroboration); popular passages come back question after
        # question. A few thousand sets are a few megabytes.
        terms = self.index.terms

        def made(i: int) -> frozenset[str]:
            return frozenset(map(terms.__getitem__, set(self._token_slice(i).tolist())))

        return functools.lru_cache(maxsize=_CACHED_PASSAGES)(made)

    def contains(self, i: int, term: str) -> bool:
        tid = self.index.term_id(term)
        return tid is not None and tid in self._token_slice(i).tolist()

    def positions_of(self, i: int, term: str) -> tuple[int, ...]:
        """Where ``term`` occurs in passage ``i``, as token positions (0 = first token)."""
        tid = self.index.term_id(term)
        if tid is None:
            return ()
        return tuple(int(p) for p in np.flatnonzero(self._token_slice(i) == tid))

    @functools.cached_property
    def passage_terms(self) -> Sequence[frozenset[str]]:
        """``terms_of`` for every passage, as a sequence (made one passage at a time)."""
        return _PassageTerms(self)

    # ------------------------------------------------------------ sentences

    def sentence_spans(self, i: int) -> list[tuple[int, int]]:
        """(start, end) of passage ``i``'s sentences, as offsets into the article text."""
        c = self.contents
        lo, hi = int(c.passage_sentences[i]), int(c.passage_sentences[i + 1])
        return [(int(s), int(e)) for s, e in c.sentence_bounds[lo:hi].tolist()]

    def sentences_of(self, i: int) -> tuple[SentenceTerms, ...]:
        """Passage ``i``'s sentences with the set of terms of each."""
        return self._cached_sentences(i)

    @functools.cached_property
    def _cached_sentences(self) -> Callable[[int], tuple[SentenceTerms, ...]]:
        return functools.lru_cache(maxsize=_CACHED_PASSAGES)(self._sentences_of)

    def _sentences_of(self, i: int) -> tuple[SentenceTerms, ...]:
        c = self.contents
        lo, hi = int(c.passage_sentences[i]), int(c.passage_sentences[i + 1])
        terms = self.index.terms
        out: list[SentenceTerms] = []
        text: str | None = None
        for (s, e), (a, b) in zip(
            c.sentence_bounds[lo:hi].tolist(), c.sentence_tokens[lo:hi].tolist(), strict=True
        ):
            if a == OWN_TOKENS:
                if text is None:
                    text = self.articles[self.doc_of(i)].text
                found = frozenset(self.analyzer.tokenize(text[s:e]))
            else:
                found = frozenset(terms[t] for t in set(c.tokens[a:b].tolist()))
            out.append(SentenceTerms(s, e, found))
        return tuple(out)

    @functools.cached_property
    def passage_sentences(self) -> Sequence[tuple[SentenceTerms, ...]]:
        """``sentences_of`` for every passage, as a sequence (made one passage at a time)."""
        return _PassageSentences(self)
