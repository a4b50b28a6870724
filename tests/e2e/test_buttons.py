"""The answer's buttons: Full article, Helpful (Not helpful: tests/e2e/test_feedback_form.py)."""

from __future__ import annotations

import json
from typing import Any

from conftest import USER, Bot, app_mention, find_button
from fake_slack import BOT_USER_ID

QUESTION = "What did Vincent Pang say about the talks?"


def mention_answer(bot: Bot) -> list[dict[str, Any]]:
    bot.event(app_mention(f"<@{BOT_USER_ID}> {QUESTION}"))
    (call,) = bot.fake.wait_for("chat.postMessage")
    return call.blocks()


def test_full_article_opens_the_cleaned_article_with_the_passage_marked(bot: Bot) -> None:
    blocks = mention_answer(bot)
    button = find_button(blocks, "full_article")
    ref = json.loads(button["value"])
    article = bot.kb.article(ref["d"])
    assert article is not None

    assert bot.click(button).status == 200
    (opened,) = bot.fake.wait_for("views.open")
    view = opened.body["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert opened.body["trigger_id"]
    assert view["type"] == "modal"
    assert len(view["blocks"]) <= 100
    marked = [b for b in view["blocks"] if b.get("block_id") == "quoted_passage"]
    assert len(marked) == 1
    passage = " ".join(article.text[ref["s"] : ref["e"]].split())
    assert passage[:60].replace("&", "&amp;") in " ".join(marked[0]["text"]["text"].split())
    shown = opened.all_text()
    # The whole cleaned text is there (compare a late paragraph).
    tail = article.text.strip().split("\n")[-1].strip()[:40]
    assert tail.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in shown
    assert all(len(b["text"]["text"]) <= 3000 for b in view["blocks"] if b["type"] == "section")
    full = [r for r in bot.audit_records("answer.served") if r["surface"] == "full_article"]
    assert full and full[0]["quotes"][0]["doc_id"] == ref["d"]
    assert bot.logs.wait_for("article.shown")[0]["doc_id"] == ref["d"]


def test_helpful_is_recorded_and_acknowledged_privately(bot: Bot) -> None:
    blocks = mention_answer(bot)
    answer_ref = bot.audit_records("answer.served")[0]["request_id"]
    assert bot.click(find_button(blocks, "feedback_helpful"), response_key="fb").status == 200

    (ack,) = bot.fake.wait_for("response_url")
    assert ack.body["response_type"] == "ephemeral"
    assert ack.body["replace_original"] is False
    assert "was helpful" in ack.body["text"]
    (record,) = bot.audit_records("answer.feedback")
    assert record["helpful"] is True
    assert record["request_id"] == answer_ref
    assert record["user"] == USER
    assert record["passage_ids"]


def test_a_tampered_button_value_gets_a_notice_not_an_error(bot: Bot) -> None:
    button = {"action_id": "full_article", "value": "{not json"}
    assert bot.click(button, response_key="bad").status == 200
    (notice,) = bot.fake.wait_for("response_url")
    assert "no longer works" in notice.body["text"]
    assert bot.fake.calls("views.open") == []
