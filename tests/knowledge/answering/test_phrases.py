"""Multi-word names by token position, and how questions are read for them."""

from __future__ import annotations

import pytest

from knowledge.answering.phrases import holds_near, holds_phrase, phrase_at, phrase_holders
from knowledge.answering.query import question_focus, read_query
from knowledge.retrieval.tokenizer import default_analyzer
from knowledge.service import KnowledgeBase
from knowledge.store.loaded import Snapshot

ANALYZER = default_analyzer()


def t(text: str) -> list[str]:
    return ANALYZER.tokenize(text)


@pytest.fixture(scope="module")
def snap() -> Snapshot:
    return KnowledgeBase.load().snapshot


def test_words_adjacent_and_in_order() -> None:
    tokens = t("the Global Mobile Broadband Forum in Zurich")
    assert holds_phrase(tokens, t("Mobile Broadband Forum"))
    assert not holds_phrase(tokens, t("Broadband Mobile"))
    assert not holds_phrase(tokens, t("Global Forum"))
    assert holds_phrase(tokens, t("Zurich"))
    assert phrase_at(tokens, t("Broadband Forum")) == (2, 3)
    assert phrase_at(tokens, []) is None


def test_a_middle_name_may_stand_between() -> None:
    tokens = t("President Donald Trump agreed")
    names = frozenset(t("Donald"))
    assert holds_phrase(tokens, t("President Trump"), names)
    assert not holds_phrase(tokens, t("President Trump"))  # "Donald" not known as a name
    assert not holds_phrase(t("President of the firm Trump"), t("President Trump"), names)


def test_near_allows_a_reworded_name() -> None:
    assert holds_near(t("the Department of Commerce added"), t("Commerce Department"))
    assert not holds_near(
        t("the department agreed quickly: commerce grew"), t("Commerce Department")
    )


def test_the_knowledge_base_holders_of_a_phrase(snap: Snapshot) -> None:
    holders = phrase_holders(snap, t("Vincent Pang"))
    assert holders
    assert all("Vincent Pang" in snap.passages[i].text for i in holders)
    assert phrase_holders(snap, t("World Cup")) == set()
    assert phrase_holders(snap, t("Huawei Mobile Services")) == set()


@pytest.mark.parametrize(
    ("question", "names", "phrases"),
    [
        ("What did Vincent Pang say?", [], ["Vincent Pang"]),
        ("who is vincent pang", [], ["vincent pang"]),  # names by the articles, not capitals
        ("What did the Mobile World Congress decide?", [], ["Mobile World Congress"]),
        ("Who heads Huawei Mobile Services?", [], ["Huawei Mobile Services"]),
        ("Who is the Huawei CEO?", ["CEO"], []),  # the topic at the edge is no part of it
        ("What did Huawei CEO Ren Zhengfei say?", ["CEO"], ["Ren Zhengfei"]),
        ("Besides Nokia, who competes?", ["Nokia"], []),  # an ordinary first word
        ("Which Countries Have Banned Huawei From Their Networks?", [], []),  # title case
        ("What did Nokia and Ericsson say?", ["Nokia", "Ericsson"], []),
    ],
)
def test_names_and_phrases_of_a_question(
    snap: Snapshot, question: str, names: list[str], phrases: list[str]
) -> None:
    query = read_query(snap, snap.analyzer.analyze(question), question)
    assert [p.surface for p in query.phrases] == phrases
    expected = [frozenset(t(n)) for n in names]
    assert query.names == expected


@pytest.mark.parametrize(
    ("question", "surface", "attribute"),
    [
        ("What is Nokia's market share in Europe?", "market share", True),
        ("What is Vincent Pang's salary?", "salary", True),
        ("Who is the CEO of Ericsson?", "CEO", True),
        ("What is the battery life of the Huawei Mate 30?", "battery life", True),
        # The owner is no name: a why-question in other words, not a property.
        ("What is the purpose of Huawei's offer to license 5G?", "purpose", False),
        ("How many base stations will Huawei build?", "base", False),
        ("Did Pang say how many there were?", None, False),
    ],
)
def test_what_a_question_asks_for(
    snap: Snapshot, question: str, surface: str | None, attribute: bool
) -> None:
    focus = question_focus(snap, question)
    if surface is None:
        assert focus is None
        return
    assert focus is not None
    assert focus.surface == surface
    assert focus.attribute is attribute
    # An attribute's head noun must be in the passage; a quantity's words in an article.
    head = surface.split()[-1] if attribute else surface
    assert focus.terms == frozenset(t(head))
