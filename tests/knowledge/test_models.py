"""The shared value objects: one attribution, one date label, refusal kinds, problem labels."""

from __future__ import annotations

import datetime as dt

import pytest

from knowledge.answering.timeline import TimelineSource
from knowledge.models import (
    ArticleMeta,
    Attribution,
    Problem,
    Quote,
    Refusal,
    SourceRef,
)
from knowledge.service import KnowledgeBase


def test_published_label() -> None:
    assert Attribution(published=None, date_estimated=False).published_label is None
    assert Attribution(published=None, date_estimated=True).published_label is None
    assert Attribution(published=dt.date(2019, 10, 22)).published_label == "2019-10-22"
    estimated = Attribution(published=dt.date(2019, 10, 18), date_estimated=True)
    assert estimated.published_label == "≈ 2019-10-18"


@pytest.mark.parametrize("kind", [ArticleMeta, Quote, SourceRef, TimelineSource])
def test_everything_that_cites_an_article_is_an_attribution(kind: type) -> None:
    assert issubclass(kind, Attribution)
    assert set(Attribution.model_fields) <= set(kind.model_fields)


def test_quotes_cite_their_article_as_its_metadata_gives_it() -> None:
    kb = KnowledgeBase.load()
    answer = kb.answer("Which US companies is Huawei talking to?")
    assert answer.quotes
    for quote in answer.quotes:
        meta = kb.snapshot.articles[quote.doc_id].meta
        assert quote.attribution() == meta.attribution()
        for ref in quote.also_reported_by:
            assert ref.attribution() == kb.snapshot.articles[ref.doc_id].meta.attribution()


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("", Refusal.EMPTY_QUESTION),
        ("the of and?", Refusal.NO_WORDS),
        ("Is Gazprom licensing 5G?", Refusal.UNKNOWN_NAME),
        ("best pizza recipe", Refusal.NOT_FOUND),
    ],
)
def test_a_refusal_says_what_kind_it_is(question: str, kind: Refusal) -> None:
    answer = KnowledgeBase.load().answer(question)
    assert not answer.answered
    assert answer.refusal is kind
    assert answer.reason is not None
    assert answer.reason.startswith("Not in the knowledge base") == kind.not_in_kb


def test_an_answer_is_no_refusal() -> None:
    answer = KnowledgeBase.load().answer("Which US companies is Huawei talking to?")
    assert answer.answered and answer.refusal is None


def test_problem_location() -> None:
    assert Problem(file="manifest.toml", line=3, reason="bad").location == "manifest.toml:3"
    assert Problem(file="a.txt", reason="empty file").location == "a.txt"
    assert str(Problem(file="manifest.toml", line=3, reason="bad")) == "manifest.toml:3: bad"
