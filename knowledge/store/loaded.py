"""One loaded, immutable version of the knowledge base."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar, cast

from knowledge.models import Article, Passage
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


@dataclass(frozen=True)
class SentenceTerms:
    start: int  # offsets into the article text
    end: int
    terms: frozenset[str]


@dataclass(frozen=True)
class Snapshot:
    kb_dir: Path
    kb_version: str
    articles: Mapping[str, Article]
    passages: tuple[Passage, ...]
    index: Bm25Index
    analyzer: Analyzer
    # Per passage: the set of index terms it contains, and its sentences' terms.
    passage_terms: tuple[frozenset[str], ...]
    passage_sentences: tuple[tuple[SentenceTerms, ...], ...]
    loaded_at: dt.datetime
    loaded_by: str
    load_seconds: float = 0.0
    passage_pos: Mapping[str, int] = field(default_factory=dict)
    # Index terms of everyday words that alone never make a passage an answer.
    weak_terms: frozenset[str] = frozenset()
    # Per passage: its index terms in order (positions, for phrases).
    passage_tokens: tuple[Terms, ...] = ()
    # Terms the articles write as names (knowledge/answering/context.py), the commonest
    # way each is written, and those of them the lexicon knows as places.
    names: frozenset[str] = frozenset()
    name_surfaces: Mapping[str, str] = field(default_factory=dict)
    places: frozenset[str] = frozenset()
    # Per article: the names it is about, counted present in every one of its passages.
    subjects: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # The knowledge base's own synonym rules (manifest ``[synonyms]``), compiled.
    synonyms: SynonymTable = field(default_factory=SynonymTable)
    # Lexicon class -> the names of the knowledge base that are instances of it.
    instances: Mapping[str, tuple[tuple[Terms, str], ...]] = field(default_factory=dict)
    speller: Speller | None = None
    # What answers compute per passage and reuse (its tokens with offsets, the passages
    # of other articles carrying its statements): bounded, dropped with the snapshot.
    memo: Memo = field(default_factory=lambda: Memo(MEMO_ENTRIES), compare=False, repr=False)

    def passage(self, passage_id: str) -> Passage | None:
        i = self.passage_pos.get(passage_id)
        return self.passages[i] if i is not None else None

    def analysed(self, i: int) -> list[Token]:
        """Passage ``i``'s tokens with their offsets in its text."""
        return self.memo.get(("analysed", i), lambda: self.analyzer.analyze(self.passages[i].text))

    def passages_of(self, doc_id: str) -> list[Passage]:
        return [p for p in self.passages if p.doc_id == doc_id]
