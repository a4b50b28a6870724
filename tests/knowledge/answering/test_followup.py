"""The follow-up rule of knowledge.answering.followup, on the bundled knowledge base."""

from __future__ import annotations

import pytest

from knowledge.answering.followup import (
    MAX_COMBINED_CHARS,
    MAX_QUOTES,
    MAX_TURNS,
    SEPARATOR,
    Conversation,
    FollowupKind,
    Turn,
    resolve_followup,
)
from knowledge.retrieval.tokenizer import default_analyzer
from knowledge.service import KnowledgeBase

ENTITY_LIST = "When was Huawei added to the Entity List?"
ANALYZER = default_analyzer()


def turn(question: str = ENTITY_LIST, rid: str = "r1", **fields: object) -> Turn:
    values: dict[str, object] = {"request_id": rid, "question": question, "shown": 3}
    values.update(fields)
    return Turn.model_validate(values)


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return KnowledgeBase.load()


@pytest.mark.parametrize("text", ["thanks!", "Thank you so much", "ok 👍", "👍", "  ", "got it"])
def test_acknowledgements_and_no_words_ask_nothing(text: str) -> None:
    resolved = resolve_followup(text, [turn()], ANALYZER)
    assert resolved.kind is FollowupKind.NOTHING
    assert resolved.question == ""


@pytest.mark.parametrize("text", ["more", "More?", "show me more", "what else", "next"])
def test_more_pages_the_previous_answer(text: str) -> None:
    earlier = [turn(rid="r1"), turn(rid="r2", skip=3, shown=3, builds_on=("r1",))]
    resolved = resolve_followup(text, earlier, ANALYZER)
    assert resolved.kind is FollowupKind.MORE
    assert resolved.question == ENTITY_LIST
    assert resolved.skip == 6
    assert resolved.builds_on == ("r1", "r2")


def test_more_after_a_refusal_has_nothing_left() -> None:
    resolved = resolve_followup("more", [turn(answered=False, shown=0)], ANALYZER)
    assert resolved.kind is FollowupKind.MORE
    assert resolved.skip == MAX_QUOTES


@pytest.mark.parametrize(
    "text",
    [
        "Did Huawei say that it would license its 5G technology?",  # three terms, pronoun
        "How much has Huawei spent?",  # two terms, no back-reference
        "What did Ren say about security requirements?",
    ],
)
def test_a_self_contained_question_is_answered_as_written(text: str) -> None:
    resolved = resolve_followup(text, [turn()], ANALYZER)
    assert resolved.kind is FollowupKind.STANDALONE
    assert resolved.question == text
    assert resolved.builds_on == ()


def test_without_an_earlier_turn_everything_stands_alone() -> None:
    resolved = resolve_followup("and Nokia?", [], ANALYZER)
    assert resolved.kind is FollowupKind.STANDALONE
    assert resolved.question == "and Nokia?"


@pytest.mark.parametrize("text", ["when was that?", "who said it?", "and why?", "where?"])
def test_a_short_follow_up_carries_the_earlier_question_and_its_names(text: str) -> None:
    resolved = resolve_followup(text, [turn()], ANALYZER)
    assert resolved.kind is FollowupKind.COMBINED
    assert resolved.question == text + SEPARATOR + ENTITY_LIST
    assert resolved.builds_on == ("r1",)
    assert resolved.rewritten


@pytest.mark.parametrize("text", ["and Nokia?", "what about Ericsson?", "Nokia?"])
def test_a_new_name_takes_the_subjects_place(text: str) -> None:
    resolved = resolve_followup(text, [turn()], ANALYZER)
    assert resolved.kind is FollowupKind.COMBINED
    # The earlier names become plain words: a passage must name Nokia, not Huawei.
    assert resolved.question == text + SEPARATOR + ENTITY_LIST.lower()


def test_two_content_terms_with_a_back_reference_are_combined() -> None:
    resolved = resolve_followup("what did Ren say about it?", [turn()], ANALYZER)
    assert resolved.kind is FollowupKind.COMBINED
    assert resolved.question.endswith(ENTITY_LIST.lower())


def test_follow_ups_chain_and_record_every_request_they_built_on() -> None:
    first = resolve_followup("and Nokia?", [turn()], ANALYZER)
    earlier = [
        turn(),
        turn(first.question, rid="r2", kind=FollowupKind.COMBINED, builds_on=first.builds_on),
    ]
    second = resolve_followup("when was that?", earlier, ANALYZER)
    assert second.question == "when was that?" + SEPARATOR + first.question
    assert second.builds_on == ("r1", "r2")


def test_a_long_chain_falls_back_to_the_first_self_contained_question() -> None:
    long = "and ZTE? " + SEPARATOR.join(["why?"] * 200) + SEPARATOR + ENTITY_LIST
    earlier = [turn(), turn(long, rid="r2", kind=FollowupKind.COMBINED)]
    resolved = resolve_followup("who said it?", earlier, ANALYZER)
    assert resolved.question == "who said it?" + SEPARATOR + ENTITY_LIST
    assert len(resolved.question) <= MAX_COMBINED_CHARS


def test_combined_questions_reach_the_follow_ups_subject(kb: KnowledgeBase) -> None:
    resolved = resolve_followup("and Nokia?", [turn()], kb.snapshot.analyzer)
    answer = kb.answer(resolved.question)
    assert answer.answered
    # Every quote names Nokia (or its passage's neighbour does): the follow-up's subject.
    for quote in answer.quotes:
        pos = kb.snapshot.passage_pos[quote.passage_id]
        context = kb.snapshot.passage_terms[pos] | kb.snapshot.passage_terms[max(0, pos - 1)]
        assert "nokia" in context


def test_whitespace_is_collapsed_in_what_is_answered() -> None:
    resolved = resolve_followup("  and\n Nokia? ", [turn()], ANALYZER)
    assert resolved.asked == "and Nokia?"
    assert resolved.question.startswith("and Nokia?" + SEPARATOR)


def test_a_conversation_keeps_its_last_turns_and_round_trips_as_json() -> None:
    conv = Conversation(asker="U1", channel="C1", thread_ts="1.1")
    for n in range(MAX_TURNS + 3):
        conv = conv.with_turn(turn(f"q{n}", rid=f"r{n}"))
    assert len(conv.turns) == MAX_TURNS
    assert conv.turns[-1].request_id == f"r{MAX_TURNS + 2}"
    assert Conversation.model_validate_json(conv.model_dump_json()) == conv
