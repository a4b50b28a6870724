"""Immutable value objects shared by the engine and everything that calls it."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ArticleMeta(Frozen):
    """Metadata for one article.

    ``derived`` names the fields that were read off the article text because the
    manifest did not give them; a field that neither states stays ``None``.
    """

    doc_id: str
    title: str | None = None
    publisher: str | None = None
    author: str | None = None
    published: dt.date | None = None
    # True when the publication date is an estimate rather than stated in the text.
    date_estimated: bool = False
    url: str | None = None
    source_file: str = ""
    derived: frozenset[str] = frozenset()


class Article(Frozen):
    meta: ArticleMeta
    # Cleaned article text; every offset in the system points into this string.
    text: str
    # SHA-256 of the raw file bytes, used for reload diffs and kb_version.
    content_hash: str

    @property
    def doc_id(self) -> str:
        return self.meta.doc_id


class Passage(Frozen):
    passage_id: str  # "<doc_id>#<n>"
    doc_id: str
    n: int
    start: int
    end: int
    text: str


class SourceRef(Frozen):
    doc_id: str
    passage_id: str
    title: str | None = None
    publisher: str | None = None
    published: dt.date | None = None
    date_estimated: bool = False


class ExpandedTerm(Frozen):
    """Another word that stood for the asker's: ``term`` as the quote writes it, for the
    asker's ``for_term`` ("acquired" for "bought")."""

    term: str
    for_term: str


class Quote(Frozen):
    text: str
    doc_id: str
    passage_id: str
    title: str | None = None
    publisher: str | None = None
    published: dt.date | None = None
    date_estimated: bool = False
    url: str | None = None
    start: int
    end: int
    score: float
    matched_terms: tuple[str, ...] = ()
    # Surface forms in ``text`` that matched the question, as (start, end) offsets
    # relative to ``text``; used to highlight without re-tokenising downstream.
    highlights: tuple[tuple[int, int], ...] = ()
    also_reported_by: tuple[SourceRef, ...] = ()
    # Other words that stood for the asker's in this quote (the lexicon's, the knowledge
    # base's synonyms, a typo's correction).
    expanded_terms: tuple[ExpandedTerm, ...] = ()

    @property
    def expansion_note(self) -> str | None:
        """“acquired” for “bought”, “firms” for “companies” — or None when none matched."""
        if not self.expanded_terms:
            return None
        return ", ".join(f"“{e.term}” for “{e.for_term}”" for e in self.expanded_terms)


class Answer(Frozen):
    question: str
    answered: bool
    reason: str | None = None
    kb_version: str
    quotes: tuple[Quote, ...] = ()
    # Set when the question was cut to the maximum length before answering.
    truncated: bool = False
    # A short usage hint for empty or stopword-only questions.
    hint: str | None = None
    unmatched_terms: tuple[str, ...] = ()

    def to_json_dict(self) -> dict[str, object]:
        """The public ``ask --json`` shape (a contract: keep keys stable)."""
        return {
            "question": self.question,
            "answered": self.answered,
            "reason": self.reason,
            "kb_version": self.kb_version,
            "quotes": [
                {
                    "text": q.text,
                    "doc_id": q.doc_id,
                    "passage_id": q.passage_id,
                    "title": q.title,
                    "publisher": q.publisher,
                    "published": q.published.isoformat() if q.published else None,
                    "date_estimated": q.date_estimated,
                    "url": q.url,
                    "start": q.start,
                    "end": q.end,
                    "score": q.score,
                    "matched_terms": list(q.matched_terms),
                    "also_reported_by": [
                        {
                            "doc_id": s.doc_id,
                            "passage_id": s.passage_id,
                            "title": s.title,
                            "publisher": s.publisher,
                        }
                        for s in q.also_reported_by
                    ],
                    "expanded_terms": [
                        {"term": e.term, "for": e.for_term} for e in q.expanded_terms
                    ],
                }
                for q in self.quotes
            ],
        }


class Problem(Frozen):
    """One validation problem in a knowledge-base directory."""

    file: str
    reason: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.reason}"
