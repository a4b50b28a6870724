"""The builders of the conversation surfaces: content, escaping and Slack's limits,
with inputs far larger than the bundled knowledge base gives."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from handlers.blocks.agent import MAX_SUGGESTED_PROMPTS, greeting_message, suggested_prompts
from handlers.blocks.claims import claim_check_message
from handlers.blocks.feedback import (
    REASONS,
    FeedbackForm,
    decode_form,
    encode_form,
    feedback_modal,
    submitted,
)
from handlers.blocks.home import SOURCES_PER_PAGE, AdminHome, HomeState, gaps_message, home_view
from handlers.blocks.refs import (
    ClaimRef,
    decode_ask,
    decode_claim,
    decode_page,
    encode_ask,
    encode_claim,
)
from handlers.deps import PastQuestion
from knowledge.answering.claims import ClaimCheck, Difference, Evidence, StatementCheck
from knowledge.answering.prompts import Prompt
from knowledge.evaluation.gaps import Gap
from knowledge.models import Article, ArticleMeta, Quote
from knowledge.service import KBStatus

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
EVIL = "<!channel> <@U0EVIL> <https://evil.example|click> & *bold*"


def status() -> KBStatus:
    return KBStatus(
        kb_dir=Path("/srv/kb"),
        kb_version="b" * 16,
        articles=200,
        passages=5000,
        loaded_at=NOW,
        loaded_by="startup",
        load_seconds=0.5,
        last_reload=None,
        last_refusal=None,
        reloading=False,
        bundled=False,
    )


def article(n: int) -> Article:
    meta = ArticleMeta(doc_id=f"d{n:03d}", title=f"{EVIL} {n} " + "x" * 400, publisher=EVIL)
    return Article(meta=meta, text="text", content_hash="h")


def texts(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        if node.get("type") in ("mrkdwn", "plain_text"):
            found.append(str(node["text"]))
        for value in node.values():
            found.extend(texts(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(texts(item))
    return found


def assert_safe(blocks: list[dict[str, Any]], *, max_blocks: int) -> None:
    assert len(blocks) <= max_blocks
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
        if block["type"] == "context":
            assert len(block["elements"]) <= 10
        if block["type"] == "actions":
            assert len(block["elements"]) <= 25
            assert all(len(e["value"]) <= 2000 for e in block["elements"])
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
    for text in texts(blocks):
        assert "<!channel>" not in text and "<@U0EVIL>" not in text
        assert "<https://evil" not in text


# ------------------------------------------------------------------------------ Home


def big_home(**overrides: Any) -> HomeState:
    gaps = [
        Gap(words=(EVIL,), count=9 - i, refused=5, not_helpful=4 - i, example=EVIL * 20)
        for i in range(4)
    ]
    values: dict[str, Any] = {
        "status": status(),
        "articles": [article(n) for n in range(200)],
        "passage_counts": {f"d{n:03d}": 25 for n in range(200)},
        "examples": [Prompt(title=EVIL, message=EVIL * 200) for _ in range(9)],
        "recent": [
            PastQuestion(question=EVIL * 200, request_id=f"r{n}", answered=n % 2 == 0, at=NOW)
            for n in range(9)
        ],
        "page": 3,
        "admin": AdminHome(gaps=gaps, gap_days=7, gap_items=40),
    }
    values.update(overrides)
    return HomeState(**values)


def test_the_home_view_stays_inside_slacks_limits_and_escapes(tmp_path: Path) -> None:
    view = home_view(big_home())
    assert view["type"] == "home"
    assert_safe(view["blocks"], max_blocks=100)
    shown = "\n".join(texts(view["blocks"]))
    assert "Page 4 of 20" in shown
    assert "&lt;!channel&gt;" in shown
    assert shown.count("Ask again") == 5


def test_pages_are_clamped_and_buttons_decode() -> None:
    last = home_view(big_home(page=999))
    assert "Page 20 of 20" in "\n".join(texts(last["blocks"]))
    none = home_view(big_home(articles=[], passage_counts={}, recent=[], admin=None))
    shown = "\n".join(texts(none["blocks"]))
    assert "The knowledge base is empty." in shown and "You have not asked" in shown
    assert "Admin" not in shown
    assert SOURCES_PER_PAGE == 10
    assert decode_ask(encode_ask("x" * 5000)) == "x" * 1500
    assert decode_ask(encode_ask('"quoted" <&> ünïcødé')) == '"quoted" <&> ünïcødé'
    for bad in ("{oops", "[]", json.dumps({"q": ""}), json.dumps({"q": 3})):
        with pytest.raises(ValueError):
            decode_ask(bad)
    assert decode_page(json.dumps({"p": 2})) == 2
    for bad in ("x", json.dumps({"p": -1}), json.dumps({"p": True})):
        with pytest.raises(ValueError):
            decode_page(bad)


def test_gaps_message_escapes_and_counts() -> None:
    gap = Gap(words=("Nokia",), count=3, refused=2, not_helpful=1, example=EVIL, reasons=("x",))
    message = gaps_message([gap], days=1, items=3)
    assert message.text == "3 refused or not-helpful questions in the last day"
    assert_safe(message.blocks, max_blocks=50)
    assert "*Nokia* — 3: 2 refused, 1 not helpful (x)" in message.blocks[0]["text"]["text"]
    empty = gaps_message([], days=30, items=0)
    assert "No refused or not-helpful questions in the last 30 days." in str(empty.blocks)


# ------------------------------------------------------------------------------ claims


def evidence(n: int, *, differs: bool) -> Evidence:
    quote = Quote(
        text=EVIL * 30,
        doc_id=f"d{n}",
        passage_id=f"d{n}#1",
        start=0,
        end=10,
        score=1.0,
        publisher=EVIL,
        published=dt.date(2019, 10, n % 28 + 1),
    )
    differences = (Difference(kind="date", claimed=EVIL, reported=EVIL),) if differs else ()
    return Evidence(
        quote=quote,
        sentence=EVIL * 50,
        sentence_start=0,
        sentence_end=10,
        coverage=0.9,
        differences=differences,
    )


def test_a_large_check_stays_inside_the_limits_and_escapes() -> None:
    statements = tuple(
        StatementCheck(
            text=EVIL * 40,
            start=0,
            end=10,
            supporting=tuple(evidence(i, differs=False) for i in range(3)),
            differing=tuple(evidence(i, differs=True) for i in range(3)),
        )
        for _ in range(30)
    )
    check = ClaimCheck(kb_version="k" * 16, text=EVIL, statements=statements, truncated=True)
    ref = ClaimRef(request_id="r1", channel="C1", thread_ts="1.1", kb_version="k" * 16)
    message = claim_check_message(check, request_id="r1", post=ref)
    assert_safe(message.blocks, max_blocks=50)
    assert len(message.text) <= 4000
    assert "only its first statements were checked" in str(message.blocks)
    assert decode_claim(encode_claim(ref)) == ref
    public = claim_check_message(check, request_id="r2", checked_for="U0ASKER1")
    assert "for <@U0ASKER1>" in public.blocks[0]["text"]["text"]
    assert "claim_post_in_thread" not in json.dumps(public.blocks)


def test_statements_without_quotes_say_so() -> None:
    check = ClaimCheck(
        kb_version="k",
        text="x",
        statements=(StatementCheck(text="Huawei makes cheese.", start=0, end=20),),
    )
    blocks = claim_check_message(check, request_id="r").blocks
    assert blocks[2]["elements"][0]["text"] == "No matching quote in the knowledge base."
    empty = ClaimCheck(kb_version="k", text="lol", reason="Nothing here.")
    assert claim_check_message(empty, request_id="r").text == "Nothing here."
    for bad in ("{", json.dumps({"r": "x"}), json.dumps({"r": 1, "c": "C", "t": "1", "v": "v"})):
        with pytest.raises(ValueError):
            decode_claim(bad)


# ------------------------------------------------------------------------------ feedback


def test_the_feedback_modal_and_its_submission() -> None:
    form = FeedbackForm(request_id="r1", feedback_id="f1", channel="C1", user="U1", kb_version="k")
    view = feedback_modal(form, EVIL * 100)
    assert view["type"] == "modal" and len(view["title"]["text"]) <= 24
    assert len(view["private_metadata"]) <= 3000
    assert_safe(view["blocks"], max_blocks=100)
    assert decode_form(view["private_metadata"]) == form
    values = {
        "reason": {"reason_choice": {"selected_option": {"value": "outdated"}}},
        "comment": {"comment_text": {"value": "  too old  " + "y" * 600}},
    }
    reason, comment = submitted(values)
    assert reason == "outdated" and comment.startswith("too old") and len(comment) <= 500
    assert submitted({"reason": {"reason_choice": {"selected_option": {"value": "evil"}}}}) == (
        None,
        "",
    )
    assert submitted({}) == (None, "")
    assert set(REASONS) == {"wrong_quote", "outdated", "article_missing", "other"}
    for bad in ("", "{}", "[1]", json.dumps({"r": "x", "f": "y"})):
        with pytest.raises(ValueError):
            decode_form(bad)
    assert encode_form(form)


# ------------------------------------------------------------------------------ agent


def test_suggested_prompts_are_at_most_four_and_short() -> None:
    prompts = [Prompt(title="t" * 200, message="m" * 900) for _ in range(9)]
    got = suggested_prompts(prompts)
    assert len(got) == MAX_SUGGESTED_PROMPTS
    assert all(len(p["title"]) <= 75 and len(p["message"]) <= 500 for p in got)
    greeting = greeting_message(status(), [Prompt(title=EVIL, message=EVIL)])
    assert_safe(greeting.blocks, max_blocks=50)
    assert "200 articles" in greeting.text
