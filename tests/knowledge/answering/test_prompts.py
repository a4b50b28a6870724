"""Example questions from the knowledge base's own names and latest events."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.answering import prompts
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


def test_main_names_of_the_bundled_kb_are_as_before(kb: KnowledgeBase) -> None:
    # The list the every-name-against-every-other fold gave (before issue 16's fix).
    assert main_names(kb.snapshot, 20) == [
        "Ren Zhengfei",
        "China",
        "Ericsson",
        "New York Times",
        "Vincent Pang",
        "Chinese",
        "Nokia",
        "Reuters",
        "Google Mobile Services",
        "ZTE",
        "Commerce Department",
        "Entity List",
        "Trump Administration",
        "According",
        "Economist",
        "Europe",
        "European",
        "Mate",
        "R&D",
        "Samsung",
    ]


SYLLABLES = ("ka", "lo", "mi", "zu", "re", "ta", "vo", "ne", "shi", "pa")


def made_up(i: int, lead: str) -> str:
    """A capitalised word no dictionary has, one per ``i`` and ``lead``."""
    return (lead + "".join(SYLLABLES[int(d)] for d in f"{i:04d}")).capitalize()


def test_folding_names_compares_each_with_few_others_on_a_large_kb(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    articles = 600
    for i in range(articles):
        person = f"{made_up(i, 'b')} {made_up(i, 'd')}"
        company = f"{made_up(i, 'g')} {made_up(i, 'h')}"
        (tmp_path / f"a{i:04d}.txt").write_text(
            f"{company} signs a patent licence\n\n"
            f"{person} of {company} said on Tuesday that the company had signed a "
            f"patent licence. {made_up(i, 'd')} would not say more.\n",
            encoding="utf-8",
        )
    snap = KnowledgeBase.load(tmp_path).snapshot
    compared = 0

    def counted(name: tuple[str, ...], terms: set[str]) -> bool:
        nonlocal compared
        compared += 1
        return terms <= set(name)

    monkeypatch.setattr(prompts, "contains", counted)
    names = main_names(snap, 10_000)
    # Every person and company, the surname counted for the full name.
    assert len(names) == 2 * articles
    assert made_up(7, "d") not in names and f"{made_up(7, 'b')} {made_up(7, 'd')}" in names
    # Each short name meets only the names sharing its rarest term: one here. Every name
    # against every other would be (2 * 600 + 600) ** 2 / 2, about 1.6 million.
    assert 0 < compared <= articles, compared
