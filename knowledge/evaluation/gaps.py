"""What the knowledge base is missing, from the questions it could not answer well.

The inputs are *gap items*: questions the knowledge base refused because the articles
do not cover them, and answers someone marked "not helpful". Each item's *key words*
are the words nothing matched — the refusal's unknown words, or the answer's question
words no quoted passage contained — and, when there are none (every word is known but
no passage holds them together), all content words of its question.

Grouping: one group per key term (the analyzer's term, so "license" and "licensing"
meet); terms that occur in exactly the same items are one group ("entity list"). Groups
are ordered by how many items they hold, most first, then by their latest item. Each
group shows its words (as its latest question writes them), counts and that question
as the example.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from enum import StrEnum

from knowledge.models import Frozen
from knowledge.retrieval.tokenizer import Analyzer

MAX_GAPS = 10
DEFAULT_DAYS = 7
MAX_DAYS = 365


class GapKind(StrEnum):
    REFUSED = "refused"
    NOT_HELPFUL = "not_helpful"


class GapItem(Frozen):
    question: str
    kind: GapKind
    # The words nothing matched, as written; empty: use the question's content words.
    words: tuple[str, ...] = ()
    at: dt.datetime | None = None
    # For not-helpful feedback: the reason given (wrong quote, outdated, …).
    reason: str | None = None


class Gap(Frozen):
    words: tuple[str, ...]  # as the example writes them, in its order
    count: int
    refused: int
    not_helpful: int
    example: str
    last_at: dt.datetime | None = None
    reasons: tuple[str, ...] = ()  # the feedback reasons given, most frequent first

    def to_json_dict(self) -> dict[str, object]:
        """The ``kb gaps --json`` shape of one group (a contract: keep keys stable)."""
        return {
            "words": list(self.words),
            "count": self.count,
            "refused": self.refused,
            "not_helpful": self.not_helpful,
            "example": self.example,
            "last_at": self.last_at.isoformat() if self.last_at is not None else None,
            "reasons": list(self.reasons),
        }


_EPOCH = dt.datetime.min.replace(tzinfo=dt.UTC)


def _when(item: GapItem) -> dt.datetime:
    if item.at is None:
        return _EPOCH
    return item.at if item.at.tzinfo is not None else item.at.replace(tzinfo=dt.UTC)


def gaps_digest(
    items: Iterable[GapItem], analyzer: Analyzer, *, limit: int = MAX_GAPS
) -> tuple[Gap, ...]:
    """The groups of ``items`` by the words nothing matched, most frequent first."""
    kept = list(items)
    members: dict[str, set[int]] = defaultdict(set)
    # (item, term) -> (position, as written there)
    written: dict[tuple[int, str], tuple[int, str]] = {}
    for n, item in enumerate(kept):
        text = " ".join(item.words) if item.words else item.question
        for token in analyzer.analyze(text):
            members[token.term].add(n)
            written.setdefault((n, token.term), (token.start, token.surface))
    by_items: dict[frozenset[int], list[str]] = defaultdict(list)
    for term, ids in members.items():
        by_items[frozenset(ids)].append(term)
    gaps = [_gap(kept, ids, terms, written) for ids, terms in by_items.items()]
    gaps.sort(key=lambda g: (-g.count, -(g.last_at or _EPOCH).timestamp(), g.words))
    return tuple(gaps[:limit])


def _gap(
    items: Sequence[GapItem],
    ids: frozenset[int],
    terms: list[str],
    written: dict[tuple[int, str], tuple[int, str]],
) -> Gap:
    group = [items[n] for n in sorted(ids)]
    latest_n = max(ids, key=lambda n: (_when(items[n]), n))
    # Every term of the group is in every item of it, so in the latest one too.
    ordered = sorted(terms, key=lambda t: written[(latest_n, t)][0])
    reasons = Counter(i.reason for i in group if i.reason)
    return Gap(
        words=tuple(written[(latest_n, t)][1] for t in ordered),
        count=len(group),
        refused=sum(i.kind is GapKind.REFUSED for i in group),
        not_helpful=sum(i.kind is GapKind.NOT_HELPFUL for i in group),
        example=items[latest_n].question,
        last_at=items[latest_n].at,
        reasons=tuple(r for r, _ in reasons.most_common()),
    )
