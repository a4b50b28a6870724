"""The gaps digest: refusals and not-helpful answers grouped by the words nothing matched."""

from __future__ import annotations

import datetime as dt

from knowledge.evaluation.gaps import GapItem, GapKind, gaps_digest
from knowledge.retrieval.tokenizer import default_analyzer

ANALYZER = default_analyzer()


def at(day: int) -> dt.datetime:
    return dt.datetime(2026, 1, day, tzinfo=dt.UTC)


def test_groups_by_word_most_frequent_first_with_count_and_latest_example() -> None:
    items = [
        GapItem(question="What did Nokia say?", kind=GapKind.REFUSED, words=("Nokia",), at=at(1)),
        GapItem(question="Nokia licensing?", kind=GapKind.REFUSED, words=("Nokia",), at=at(3)),
        GapItem(
            question="Is Apple talking to Huawei?",
            kind=GapKind.NOT_HELPFUL,
            words=("Apple",),
            at=at(2),
            reason="wrong_quote",
        ),
        GapItem(question="nokia phones", kind=GapKind.NOT_HELPFUL, words=("nokia",), at=at(2)),
    ]
    first, second = gaps_digest(items, ANALYZER)
    assert first.words == ("Nokia",)
    assert (first.count, first.refused, first.not_helpful) == (3, 2, 1)
    assert first.example == "Nokia licensing?"
    assert first.last_at == at(3)
    assert second.words == ("Apple",) and second.reasons == ("wrong_quote",)


def test_words_that_always_go_together_are_one_group_and_stems_meet() -> None:
    items = [
        GapItem(question="Galaxy Note licence", kind=GapKind.REFUSED, at=at(1)),
        GapItem(question="the Galaxy Note licensing terms", kind=GapKind.REFUSED, at=at(2)),
    ]
    gaps = gaps_digest(items, ANALYZER)
    # licence/licensing meet on one term; "terms" is in one item only.
    assert gaps[0].words == ("Galaxy", "Note", "licensing")
    assert gaps[0].count == 2
    assert gaps[1].words == ("terms",)


def test_without_recorded_words_the_questions_content_words_are_used() -> None:
    (gap,) = gaps_digest([GapItem(question="What about Nokia?", kind=GapKind.REFUSED)], ANALYZER)
    assert gap.words == ("Nokia",)


def test_items_without_words_are_left_out_and_limit_applies() -> None:
    items = [GapItem(question="🎉?", kind=GapKind.REFUSED)] + [
        GapItem(question=f"word{n}", kind=GapKind.REFUSED, at=at(1)) for n in range(20)
    ]
    gaps = gaps_digest(items, ANALYZER, limit=5)
    assert len(gaps) == 5
    assert gaps_digest([], ANALYZER) == ()
