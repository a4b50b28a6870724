"""Immutable value objects shared by the engine and everything that calls it."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Attribution(Frozen):
    """Who published something and when: what every quote, corroborating source and
    timeline sentence cites, as the article's metadata gives it."""

    title: str | None = None
    publisher: str | None = None
    published: dt.date | None = None
    # True when the publication date is an estimate rather than stated in the text.
    date_estimated: bool = False
    url: str | None = None

    @property
    def published_label(self) -> str | None:
        """The publication date as people are shown it: ISO, "≈ " before an estimate."""
        if self.published is None:
            return None
        return ("≈ " if self.date_estimated else "") + self.published.isoformat()

    def attribution(self) -> dict[str, Any]:
        """The attribution fields alone, to cite the same article in another value."""
        return {name: getattr(self, name) for name in Attribution.model_fields}


class ArticleMeta(Attribution):
    """Metadata for one article.

    ``derived`` names the fields that were read off the article text because the
    manifest did not give them; a field that neither states stays ``None``.
    """

    doc_id: str
    author: str | None = None
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


class SourceRef(Attribution):
    """Another article carrying the same statement as a quote."""

    doc_id: str
    passage_id: str


class ExpandedTerm(Frozen):
    """Another word that stood for the asker's: ``term`` as the quote writes it, for the
    asker's ``for_term`` ("acquired" for "bought")."""

    term: str
    for_term: str


class Quote(Attribution):
    text: str
    doc_id: str
    passage_id: str
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

    def audit_fields(self) -> dict[str, Any]:
        """What the audit trail keeps of a quote: the span of the article, and its text."""
        return {
            "passage_id": self.passage_id,
            "doc_id": self.doc_id,
            "start": self.start,
            "end": self.end,
            "score": self.score,
            "text": self.text,
        }


# How the reasons of refusals about what the articles do not cover begin.
NOT_IN_KB = "Not in the knowledge base"


class Refusal(StrEnum):
    """Why a question got no quotes."""

    EMPTY_QUESTION = "empty_question"
    NO_WORDS = "no_words"  # only stopwords, punctuation or emoji
    EMPTY_KB = "empty_kb"
    UNKNOWN_NAME = "unknown_name"  # a name no article mentions
    UNKNOWN_FOCUS = "unknown_focus"  # what is asked for ("how many X") no article mentions
    NOT_FOUND = "not_found"  # no passage holds enough of the question
    # An attribute question ("Nokia's market share"): the passages about the entity say
    # nothing of the attribute.
    ABSENT_ATTRIBUTE = "absent_attribute"
    # A "when"/"how many" question: no passage about it holds a date / a number.
    NO_ANSWER_TYPE = "no_answer_type"

    @property
    def not_in_kb(self) -> bool:
        """The articles do not cover it (as opposed to a question that cannot be looked up)."""
        return self in {
            Refusal.UNKNOWN_NAME,
            Refusal.UNKNOWN_FOCUS,
            Refusal.NOT_FOUND,
            Refusal.ABSENT_ATTRIBUTE,
            Refusal.NO_ANSWER_TYPE,
        }


class Answer(Frozen):
    question: str
    answered: bool
    reason: str | None = None
    # Set exactly when ``answered`` is False; ``reason`` is its wording.
    refusal: Refusal | None = None
    kb_version: str
    quotes: tuple[Quote, ...] = ()
    # Set when the question was cut to the maximum length before answering.
    truncated: bool = False
    # A short usage hint for empty or stopword-only questions.
    hint: str | None = None
    unmatched_terms: tuple[str, ...] = ()

    def audit_fields(self, *, top: int) -> dict[str, Any]:
        """What an ``answer.served`` record says of this answer; ``top`` is what replay
        re-asks with. ``refusal`` and ``unmatched_terms`` tell the gaps digest what the
        knowledge base lacked."""
        return {
            "question": self.question,
            "answered": self.answered,
            "reason": self.reason,
            "refusal": self.refusal.value if self.refusal is not None else None,
            "unmatched_terms": list(self.unmatched_terms),
            "truncated": self.truncated,
            "kb_version": self.kb_version,
            "top": top,
            "quotes": [q.audit_fields() for q in self.quotes],
        }

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

    @property
    def location(self) -> str:
        """``file:line``, or the file alone when the problem has no line."""
        return f"{self.file}:{self.line}" if self.line is not None else self.file

    def __str__(self) -> str:
        return f"{self.location}: {self.reason}"
