"""Example questions from the knowledge base's own names and latest events."""

from __future__ import annotations

import pytest

from knowledge.answering.prompts import MAX_TITLE_CHARS, example_prompts, main_names
from knowledge.service import KnowledgeBase


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return KnowledgeBase.load()


def test_main_names_are_the_articles_names_without_their_subject(kb: KnowledgeBase) -> None:
    names = main_names(kb.snapshot)
    assert "Ren Zhengfei" in names and "Ericsson" in names
    assert "Huawei" not in names  # in most passages: the subject, not a suggestion
    assert "Ren" not in names  # counted for "Ren Zhengfei"
    assert not {"May", "October", "Friday"} & set(names)


def test_every_prompt_is_answered_and_short(kb: KnowledgeBase) -> None:
    prompts = kb.example_prompts(8)
    assert len(prompts) >= 4
    assert len({p.message for p in prompts}) == len(prompts)
    for prompt in prompts:
        assert kb.answer(prompt.message).answered, prompt
        assert 0 < len(prompt.title) <= MAX_TITLE_CHARS


def test_latest_events_come_first_and_alternate_with_names(kb: KnowledgeBase) -> None:
    prompts = kb.example_prompts(4)
    assert len(prompts) == 4
    dated = [p for p in prompts if "2019" in p.title]
    assert dated and prompts[0] in dated
    assert any(p.title in main_names(kb.snapshot) for p in prompts)
    # The newest event prompt is dated no earlier than any event prompt after it.
    assert "Oct 2019" in prompts[0].title or "October 2019" in prompts[0].title


def test_limit_and_cache(kb: KnowledgeBase) -> None:
    assert kb.example_prompts(2) == kb.example_prompts(4)[:2]
    assert example_prompts(kb.snapshot, kb.timeline(), 0) == ()
