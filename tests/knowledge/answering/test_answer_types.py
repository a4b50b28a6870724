"""What kind of answer a question asks for, and whether a passage holds it."""

from __future__ import annotations

import pytest

from knowledge.answering.answer_types import (
    AnswerType,
    has_date,
    has_number,
    has_reason,
    holds,
    is_place,
    question_type,
)
from knowledge.retrieval.lexicon import load_lexicon


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("When did Nokia buy Alcatel-Lucent?", AnswerType.DATE),
        ("Since when has Huawei spent on 5G?", AnswerType.DATE),
        ("In what year did it happen?", AnswerType.DATE),
        ("And when was that?", AnswerType.DATE),
        ("Do you know when the ban began?", AnswerType.DATE),
        ("How many base stations?", AnswerType.NUMBER),
        ("how much has Huawei spent", AnswerType.NUMBER),
        ("Who owns Huawei?", AnswerType.NAME),
        ("Which executive confirmed the talks?", AnswerType.NAME),
        ("Which Huawei executive spoke?", AnswerType.NAME),
        ("Which countries banned Huawei?", AnswerType.PLACE),
        ("In which city is Huawei based?", AnswerType.PLACE),
        ("Where would licensees sell?", AnswerType.PLACE),
        ("Why was the official skeptical?", AnswerType.REASON),
        ("how come Google services are missing", AnswerType.REASON),
        ("What was the reason for the ban?", AnswerType.REASON),
        ("What did Pang say?", None),
        ("Did Pang say how many there were?", None),  # a yes/no question
        ("Is Huawei worried?", None),
    ],
)
def test_question_type(question: str, kind: AnswerType | None) -> None:
    assert question_type(question) is kind


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("it will build 600,000 base stations", True),
        ("a $10bn hit to revenue", True),
        ("Huawei has spent billions", True),
        ("the talks are only two weeks old", True),
        ("a share of 12%", True),
        ("its 5G technology", False),  # a name of a thing
        ("in November 2016", False),  # a date, not a quantity
        ("the Mate 30 phone", True),
        ("no figures at all", False),
    ],
)
def test_has_number(text: str, number: bool) -> None:
    assert has_number(text) is number


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("In May, Huawei was placed on a blacklist", True),
        ("since 2009", True),
        ("last month", True),
        ("date 2019-10-22 Chinese vendor Huawei", False),  # a dateline dates the article
        ("a long journey", False),
    ],
)
def test_has_date(text: str, date: bool) -> None:
    assert has_date(text) is date


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("more affordable because it is cheaper", True),
        ("due to Nokia and Ericsson's local presence", True),
        ("so that it's able to achieve economies of scale", True),
        ("over national security concerns", True),
        ("since it lacks a supplier", True),
        ("since May 2019", False),  # a date, not a cause
        ("since 2009", False),
        ("Huawei has spent billions", False),
    ],
)
def test_has_reason(text: str, reason: bool) -> None:
    assert has_reason(text) is reason


def test_places_are_named_instances_of_a_kind_of_place() -> None:
    lexicon = load_lexicon()
    assert is_place(lexicon, "Zurich")
    assert is_place(lexicon, "China")
    assert is_place(lexicon, "Washington")
    assert not is_place(lexicon, "Google")
    assert not is_place(lexicon, "table")
    assert not is_place(lexicon, "Huawei")


def test_a_name_the_question_gives_is_no_answer_to_who() -> None:
    names = frozenset({"pang", "huawei", "reuter"})
    terms = frozenset({"pang", "huawei", "talk"})
    common = {"names": names, "places": frozenset()}
    assert not holds(AnswerType.NAME, "", terms, asked=frozenset({"pang", "huawei"}), **common)
    assert holds(AnswerType.NAME, "", terms, asked=frozenset({"huawei"}), **common)
    places = frozenset({"zurich"})
    here = frozenset({"zurich", "huawei"})
    assert holds(AnswerType.PLACE, "", here, names=names | places, asked=frozenset(), places=places)
    assert not holds(AnswerType.PLACE, "", terms, names=names, asked=frozenset(), places=places)
