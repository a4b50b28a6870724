"""One loaded, immutable version of the knowledge base."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from knowledge.index import Bm25Index
from knowledge.models import Article, Passage
from knowledge.retrieval.spelling import Speller
from knowledge.retrieval.synonyms import SynonymTable
from knowledge.tokenizer import Analyzer

Terms = tuple[str, ...]


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

    def passage(self, passage_id: str) -> Passage | None:
        i = self.passage_pos.get(passage_id)
        return self.passages[i] if i is not None else None

    def passages_of(self, doc_id: str) -> list[Passage]:
        return [p for p in self.passages if p.doc_id == doc_id]
