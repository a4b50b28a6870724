from __future__ import annotations

import datetime as dt

import pytest

from bot.commands.render import attribution, mark, render_answer, render_quote
from knowledge.models import Answer, Attribution, Quote, SourceRef
from knowledge.service import KnowledgeBase

TEXT = "Huawei is in early-stage talks with some US telecom companies."


def quote(**changes: object) -> Quote:
    fields: dict[str, object] = {
        "text": TEXT,
        "doc_id": "000_a",
        "passage_id": "000_a#1",
        "title": "Huawei in talks",
        "publisher": "Example News",
        "published": dt.date(2019, 10, 18),
        "date_estimated": True,
        "start": 10,
        "end": 10 + len(TEXT),
        "score": 1.5,
        "matched_terms": ("Huawei", "talks"),
        "highlights": ((0, 6), (25, 30)),
    }
    fields.update(changes)
    return Quote.model_validate(fields)


def answer(*quotes: Quote, **changes: object) -> Answer:
    fields: dict[str, object] = {
        "question": "Is Huawei in talks?",
        "answered": bool(quotes),
        "kb_version": "0123456789abcdef",
        "quotes": quotes,
    }
    fields.update(changes)
    return Answer.model_validate(fields)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("T", "P", dt.date(2019, 10, 18), True), "T · P · ≈ 2019-10-18"),
        (("T", None, dt.date(2019, 10, 22), False), "T · 2019-10-22"),
        (("T", "P", None, False), "T · P"),
        ((None, None, None, False), "untitled"),
    ],
)
def test_attribution_leaves_out_what_is_unknown(
    args: tuple[str | None, str | None, dt.date | None, bool], expected: str
) -> None:
    title, publisher, published, estimated = args
    source = Attribution(
        title=title, publisher=publisher, published=published, date_estimated=estimated
    )
    assert attribution(source) == expected


def test_mark_wraps_spans_in_order() -> None:
    assert mark("abc def ghi", ((8, 11), (0, 3)), "[", "]") == "[abc] def [ghi]"
    assert mark("abc def", (), "[", "]") == "abc def"
    assert mark("abcdef", ((0, 4), (2, 6)), "[", "]") == "[abcd]ef"  # overlaps are skipped


def test_render_quote_layout() -> None:
    ref = SourceRef(doc_id="001_b", passage_id="001_b#3", title="Other", publisher=None,
                    published=dt.date(2019, 10, 22))  # fmt: skip
    lines = render_quote(2, quote(also_reported_by=(ref,)), bold=("*", "*")).splitlines()
    assert lines == [
        "2. “*Huawei* is in early-stage *talks* with some US telecom companies.”",
        "   — Huawei in talks · Example News · ≈ 2019-10-18  [000_a#1]",
        "   also reported by: Other · 2019-10-22 [001_b#3]",
    ]


def test_render_quote_without_other_reports_has_two_lines() -> None:
    assert len(render_quote(1, quote(), bold=("*", "*")).splitlines()) == 2


def test_render_answer_numbers_quotes() -> None:
    out = render_answer(answer(quote(), quote(passage_id="000_a#2")))
    assert out.startswith("1. “")
    assert "\n\n2. “" in out
    assert "[000_a#2]" in out
    assert "\033[" not in out


def test_render_answer_with_ansi_bold() -> None:
    out = render_answer(answer(quote()), ansi=True)
    assert "\033[1mHuawei\033[0m" in out
    assert "*" not in out


def test_render_refusal_with_hint_points_at_the_cli() -> None:
    out = render_answer(
        answer(reason="The question is empty.", hint="Ask in words — `/kb sources` lists it.")
    )
    assert out.splitlines() == [
        "The question is empty.",
        "Ask in words — `licensebot kb sources` lists it.",
    ]


def test_render_refusal_without_reason() -> None:
    assert render_answer(answer()) == "Not in the knowledge base."


def test_render_truncated_note_comes_first() -> None:
    assert render_answer(answer(quote(), truncated=True)).startswith("(Your question was long")
    refusal = render_answer(answer(reason="Nope.", truncated=True))
    assert refusal.splitlines()[0].startswith("(Your question was long")


def test_rendered_quotes_are_verbatim_once_marks_are_removed() -> None:
    kb = KnowledgeBase.load()
    result = kb.answer("Which US companies is Huawei talking to about licensing 5G?", 10)
    assert result.answered
    plain = render_answer(result, ansi=True).replace("\033[1m", "").replace("\033[0m", "")
    for q in result.quotes:
        assert f"“{q.text}”" in plain
        assert f"[{q.passage_id}]" in plain
