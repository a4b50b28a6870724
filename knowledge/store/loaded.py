"""One loaded, immutable version of the knowledge base.

What the answers read of every passage — where it is, its sentences, its terms — is
held in a few flat arrays (``Contents``), not in an object or a set per passage: at
20,000 articles that is hundreds of thousands of passages, and per-passage term sets
alone took most of a gigabyte. ``Passage`` objects, term sets and sentence terms are
made from the arrays when asked for, for the few dozen candidates of a question.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, overload

import numpy as np
import numpy.typing as npt

from knowledge.ingest.analysis import OWN_TOKENS
from knowledge.models import Article, Passage, Problem
from knowledge.retrieval.index import Bm25Index
from knowledge.retrieval.tokenizer import Analyzer

IntArray = npt.NDArray[np.int64]
Int32Array = npt.NDArray[np.int32]
T = TypeVar("T")


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
        return {
            name: getattr(self, name)
            for name in (
                "doc_passages",
                "passage_bounds",
                "passage_tokens",
                "tokens",
                "passage_sentences",
                "sentence_bounds",
                "sentence_tokens",
            )
        }


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


@dataclass(frozen=True, eq=False)
class Snapshot:
    kb_dir: Path
    kb_version: str
    articles: Mapping[str, Article]
    contents: Contents
    index: Bm25Index
    analyzer: Analyzer
    loaded_at: dt.datetime
    loaded_by: str
    load_seconds: float = 0.0
    # Index terms of everyday words that alone never make a passage an answer.
    weak_terms: frozenset[str] = frozenset()
    # Articles left out of this version because they are invalid (``skip_invalid``).
    skipped: tuple[Problem, ...] = field(default=())

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
        text = self.articles[doc_id].text[start:end]
        return Passage.model_construct(
            passage_id=f"{doc_id}#{n}", doc_id=doc_id, n=n, start=start, end=end, text=text
        )

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
        terms = self.index.terms
        return frozenset(terms[t] for t in set(self._token_slice(i).tolist()))

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


def contents_of(
    doc_ids: Sequence[str],
    analyses: Sequence[Any],
    token_ids: Sequence[Int32Array],
) -> tuple[Contents, Int32Array, IntArray]:
    """The arrays of a version from its articles' analyses, in this order.

    ``token_ids[k]`` numbers article ``k``'s tokens in any numbering; returns the
    contents (tokens still in that numbering, to be renumbered by the index), every
    token's id and each passage's token count, which is what the index is built from.
    """
    n_passages = [a.n_passages for a in analyses]
    doc_passages = _offsets(n_passages)
    passage_bounds = _concat([a.passages for a in analyses], np.int32, (0, 2))
    tokens_per_passage = _concat([a.passage_tokens for a in analyses], np.int64, (0,))
    passage_tokens = _offsets_of(tokens_per_passage)
    tokens = _concat(list(token_ids), np.int32, (0,))
    passage_sentences = _offsets_of(
        _concat([a.passage_sentences for a in analyses], np.int64, (0,))
    )
    sentences = _concat([a.sentences for a in analyses], np.int64, (0, 4))
    # Token numbers are per article: shift each article's by the tokens before it.
    article_tokens = np.fromiter((len(t) for t in token_ids), dtype=np.int64, count=len(token_ids))
    shift = np.repeat(_offsets_of(article_tokens)[:-1], [len(a.sentences) for a in analyses])
    sentence_tokens = sentences[:, 2:4].copy()
    own = sentence_tokens[:, 0] == OWN_TOKENS
    sentence_tokens += shift[:, None]
    sentence_tokens[own] = OWN_TOKENS
    contents = Contents(
        doc_ids=tuple(doc_ids),
        doc_passages=doc_passages,
        passage_bounds=passage_bounds,
        passage_tokens=passage_tokens,
        tokens=tokens,
        passage_sentences=passage_sentences,
        sentence_bounds=sentences[:, 0:2].astype(np.int32),
        sentence_tokens=sentence_tokens,
    )
    return contents, tokens, tokens_per_passage


def _offsets(counts: Sequence[int]) -> IntArray:
    return _offsets_of(np.fromiter(counts, dtype=np.int64, count=len(counts)))


def _offsets_of(counts: IntArray) -> IntArray:
    out = np.zeros(counts.size + 1, dtype=np.int64)
    np.cumsum(counts, out=out[1:])
    return out


def _concat(arrays: list[Any], dtype: Any, empty_shape: tuple[int, ...]) -> Any:
    if not arrays:
        return np.zeros(empty_shape, dtype=dtype)
    return np.concatenate(arrays).astype(dtype, copy=False)


def renumbered(contents: Contents, term_of: Int32Array) -> Contents:
    """``contents`` with its tokens in the index's term numbering."""
    return dataclasses.replace(contents, tokens=term_of[contents.tokens])
