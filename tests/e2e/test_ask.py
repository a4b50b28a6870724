"""``/ask``: the private answer, its "Post to channel" button, usage, deferred answers."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import CHANNEL, USER, Bot, BotFactory, find_button

from knowledge.models import Answer
from knowledge.service import KnowledgeBase

QUESTION = "Which US companies is Huawei talking to about licensing its 5G technology?"


def ask(bot: Bot, text: str = QUESTION) -> dict[str, Any]:
    reply = bot.command(text)
    assert reply.status == 200
    assert reply.headers.get("content-type", "").startswith("application/json")
    body: dict[str, Any] = reply.json()
    return body


def test_ask_answers_privately_in_the_ack(bot: Bot) -> None:
    body = ask(bot)
    assert body["response_type"] == "ephemeral"
    assert body["text"]
    blocks = body["blocks"]
    assert any(str(b.get("block_id", "")).startswith("quote_") for b in blocks)
    share = find_button(blocks, "post_to_channel")
    assert len(share["value"]) <= 2000
    find_button(blocks, "feedback_helpful")
    # Answered in the acknowledgement: nothing was posted anywhere.
    assert bot.fake.calls("chat.postMessage") == []
    served = bot.logs.wait_for("answer.served")
    assert served[0]["surface"] == "ask" and served[0]["via"] == "ack"
    assert [r["surface"] for r in bot.audit_records("answer.served")] == ["ask"]


def test_post_to_channel_shares_the_same_answer_attributed_to_the_asker(bot: Bot) -> None:
    blocks = ask(bot)["blocks"]
    private_quotes = [
        b["text"]["text"] for b in blocks if b.get("block_id", "").startswith("quote_")
    ]

    reply = bot.click(find_button(blocks, "post_to_channel"), ephemeral=True, response_key="eph1")
    assert reply.status == 200

    (post,) = bot.fake.wait_for("chat.postMessage")
    assert post.body["channel"] == CHANNEL
    public = post.blocks()
    public_quotes = [
        b["text"]["text"] for b in public if b.get("block_id", "").startswith("quote_")
    ]
    assert public_quotes == private_quotes
    assert f"<@{USER}>" in post.all_text()
    # The public copy has no share button of its own.
    assert all(
        e.get("action_id") != "post_to_channel"
        for b in public
        if b["type"] == "actions"
        for e in b["elements"]
    )
    # The private copy is replaced by a short confirmation.
    (update,) = bot.fake.wait_for("response_url")
    assert update.path.endswith("/eph1")
    assert update.body["replace_original"] is True
    surfaces = [r["surface"] for r in bot.audit_records("answer.served")]
    assert surfaces == ["ask", "post_to_channel"]
    shared = bot.audit_records("answer.served")[1]
    assert shared["shared_from"] == bot.audit_records("answer.served")[0]["request_id"]


def test_post_to_channel_outside_the_bots_channels_goes_through_response_url(bot: Bot) -> None:
    blocks = ask(bot)["blocks"]
    bot.fake.api_error("chat.postMessage", "not_in_channel")
    bot.click(find_button(blocks, "post_to_channel"), ephemeral=True, response_key="eph2")
    calls = bot.fake.wait_for("response_url", 2)
    public, confirmation = calls[0], calls[1]
    assert public.body["response_type"] == "in_channel"
    assert any(b.get("block_id", "").startswith("quote_") for b in public.body["blocks"])
    assert confirmation.body["replace_original"] is True
    assert bot.logs.wait_for("answer.served", 2)[1]["via"] == "response_url"


@pytest.mark.parametrize("text", ["", "   ", "help"])
def test_empty_or_help_gets_usage(bot: Bot, text: str) -> None:
    body = ask(bot, text)
    assert body["response_type"] == "ephemeral"
    assert "/ask" in body["text"] and "@licensebot" in body["text"]
    assert bot.audit_records("answer.served") == []


def test_not_in_kb_explains_with_hint(bot: Bot) -> None:
    body = ask(bot, "recipe for sourdough pancakes")
    text = "\n".join(
        str(b.get("text", {}).get("text", "")) for b in body["blocks"] if b["type"] == "section"
    )
    assert "Not in the knowledge base" in text and "sourdough" in text
    assert "/kb sources" in text
    with pytest.raises(AssertionError):
        find_button(body["blocks"], "post_to_channel")


class SlowKnowledgeBase(KnowledgeBase):
    """The real engine, answering after a delay (a large knowledge base, a busy host)."""

    delay = 0.5

    def answer(self, question: str, top: int = 3) -> Answer:
        import time

        time.sleep(self.delay)
        return super().answer(question, top)


def test_slow_answer_acks_a_placeholder_then_replaces_it(
    make_bot: BotFactory, kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    import handlers.commands

    monkeypatch.setattr(handlers.commands, "ACK_BUDGET_S", 0.1)
    bot = make_bot(knowledge=SlowKnowledgeBase(kb.snapshot))
    body = ask(bot)
    assert body["response_type"] == "ephemeral"
    assert "Looking that up" in body["text"]
    (later,) = bot.fake.wait_for("response_url")
    assert later.body["replace_original"] is True
    assert later.body["response_type"] == "ephemeral"
    assert any(b.get("block_id", "").startswith("quote_") for b in later.body["blocks"])
    assert bot.logs.wait_for("answer.served")[0]["via"] == "response_url"
