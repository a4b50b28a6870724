"""Claim checks on the bundled knowledge base: support, other dates, numbers and names."""

from __future__ import annotations

import datetime as dt

import pytest

from knowledge.answering.claims import (
    MAX_MESSAGE_CHARS,
    MAX_STATEMENTS,
    NO_STATEMENTS,
    ClaimCheck,
    StatementCheck,
    _numbers,
)
from knowledge.service import KnowledgeBase

SAID_ON = dt.date(2019, 10, 25)


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return KnowledgeBase.load()


def check(kb: KnowledgeBase, text: str) -> ClaimCheck:
    return kb.check_claims(text, said_on=SAID_ON)


def only(result: ClaimCheck) -> StatementCheck:
    assert len(result.statements) == 1, result.statements
    return result.statements[0]


def test_a_true_statement_is_supported_by_verbatim_attributed_quotes(kb: KnowledgeBase) -> None:
    st = only(check(kb, "Huawei was added to the Entity List in May 2019."))
    assert st.supporting and not st.differing
    for evidence in st.supporting:
        article = kb.article(evidence.quote.doc_id)
        assert article is not None
        assert article.text[evidence.sentence_start : evidence.sentence_end] == evidence.sentence
        assert article.text[evidence.quote.start : evidence.quote.end] == evidence.quote.text
        assert evidence.quote.published is not None
    assert "Entity List" in st.supporting[0].sentence


def test_another_date_for_the_same_event_differs(kb: KnowledgeBase) -> None:
    st = only(check(kb, "Huawei was added to the Entity List in March 2019."))
    assert st.differing and not st.supporting
    (difference,) = st.differing[0].differences
    assert difference.kind == "date"
    assert difference.claimed == "in March 2019"
    assert "May 2019" in difference.reported


def test_a_year_that_contains_the_reported_date_is_no_difference(kb: KnowledgeBase) -> None:
    st = only(check(kb, "Nokia acquired Alcatel-Lucent in 2016."))
    assert st.supporting and not st.differing


def test_another_year_differs(kb: KnowledgeBase) -> None:
    st = only(check(kb, "Nokia acquired Alcatel-Lucent in 2015."))
    assert [d.kind for d in st.differing[0].differences] == ["date"]
    assert "November 2016" in st.differing[0].differences[0].reported


def test_relative_dates_are_read_against_the_day_the_message_was_written(
    kb: KnowledgeBase,
) -> None:
    text = "Huawei was added to the Entity List last May."
    # Written in October 2019, "last May" is May 2019: the date the articles give.
    st = only(check(kb, text))
    assert st.supporting and not st.differing
    # Written a year later it is May 2020, which no article gives.
    later = only(kb.check_claims(text, said_on=dt.date(2020, 10, 25)))
    assert later.differing and not later.supporting
    assert later.differing[0].differences[0].kind == "date"


def test_another_amount_differs_and_the_same_amount_supports(kb: KnowledgeBase) -> None:
    differs = only(check(kb, "Huawei expects a $20bn hit to revenue this year."))
    assert differs.differing and not differs.supporting
    (difference,) = differs.differing[0].differences
    assert (difference.kind, difference.claimed, difference.reported) == (
        "number",
        "$20bn",
        "$10bn",
    )
    same = only(check(kb, "Huawei expects a $10bn hit to revenue this year."))
    assert same.supporting and not same.differing


def test_another_name_for_the_same_event_differs(kb: KnowledgeBase) -> None:
    st = only(
        check(kb, "Ren Zhengfei floated the idea in interviews with The Wall Street Journal.")
    )
    assert st.differing
    difference = st.differing[0].differences[0]
    assert difference.kind == "name"
    assert difference.claimed == "Wall Street Journal"
    assert "New York Times" in difference.reported and "Economist" in difference.reported


def test_a_statement_the_articles_do_not_cover_has_no_matching_quote(kb: KnowledgeBase) -> None:
    st = only(check(kb, "Huawei makes excellent cheese."))
    assert not st.matched


def test_each_statement_is_checked_and_questions_are_skipped(kb: KnowledgeBase) -> None:
    result = check(
        kb,
        "Huawei was added to the Entity List in March 2019. Is that right? "
        "Nokia acquired Alcatel-Lucent in November 2016.",
    )
    assert [s.text for s in result.statements] == [
        "Huawei was added to the Entity List in March 2019.",
        "Nokia acquired Alcatel-Lucent in November 2016.",
    ]
    first, second = result.statements
    assert first.differing and second.supporting
    assert result.text[first.start : first.end] == first.text


@pytest.mark.parametrize("text", ["", "lol", "Really?", "🎉🎉", "Ok!"])
def test_a_message_without_statements_says_so(kb: KnowledgeBase, text: str) -> None:
    result = check(kb, text)
    assert result.statements == ()
    assert result.reason == NO_STATEMENTS


def test_long_messages_are_cut_and_say_so(kb: KnowledgeBase) -> None:
    text = "Huawei was added to the Entity List in May 2019. " * 400
    result = check(kb, text)
    assert result.truncated
    assert len(result.text) <= MAX_MESSAGE_CHARS
    assert len(result.statements) == MAX_STATEMENTS


def test_audit_quotes_name_each_quote_and_its_verdict(kb: KnowledgeBase) -> None:
    result = check(
        kb, "Huawei expects a $20bn hit to revenue this year. Nokia acquired Alcatel-Lucent."
    )
    rows = result.audit_quotes()
    assert {r["verdict"] for r in rows} == {"supports", "differs"}
    assert all(
        {"passage_id", "doc_id", "start", "end", "text", "statement"} <= r.keys() for r in rows
    )
    assert result.audit_statements()[0]["differing"] >= 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a $10bn hit", [(1e10, "money")]),
        ("$20 billion", [(2e10, "money")]),
        ("30% of it", [(30.0, "percent")]),
        ("3.5 percent", [(3.5, "percent")]),
        ("10,000 staff", [(1e4, "count")]),
        ("three companies", [(3.0, "count")]),
        ("US$3.5m", [(3.5e6, "money")]),
        ("2bn yuan", [(2e9, "money")]),
        ("5G networks", []),  # a name, not a number
        ("a one-time fee", []),
    ],
)
def test_numbers_are_read_with_scale_and_kind(text: str, expected: list[tuple[float, str]]) -> None:
    assert [(n.value, n.kind) for n in _numbers(text, [])] == expected
