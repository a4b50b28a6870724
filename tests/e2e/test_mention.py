"""@mentions in channels and direct messages, end to end."""

from __future__ import annotations

import re

from conftest import CHANNEL, DM_CHANNEL, USER, Bot, app_mention, dm_message
from fake_slack import BOT_ID, BOT_USER_ID

QUESTION = "Is Huawei willing to license its 5G technology to US companies?"


def test_mention_gets_threaded_reply_with_quotes_and_attribution(bot: Bot) -> None:
    event = app_mention(f"<@{BOT_USER_ID}> {QUESTION}")
    reply = bot.event(event)
    assert reply.status == 200

    (call,) = bot.fake.wait_for("chat.postMessage")
    body = call.body
    assert body["channel"] == CHANNEL
    assert body["thread_ts"] == event["ts"]
    assert "link_names" not in body and "parse" not in body
    assert body["text"]  # notification fallback
    blocks = call.blocks()
    assert len(blocks) <= 50
    quotes = [b for b in blocks if str(b.get("block_id", "")).startswith("quote_")]
    sources = [b for b in blocks if str(b.get("block_id", "")).startswith("source_")]
    assert quotes and len(quotes) == len(sources)
    answer = bot.kb.answer(QUESTION, 3)
    for block, quote in zip(quotes, answer.quotes, strict=True):
        text = block["text"]["text"]
        assert text.startswith("> ")
        assert quote.text.split()[-1].rstrip('.”"') in text
        assert "*" in text  # matched terms in bold
        assert block["accessory"]["action_id"] == "full_article"
        assert len(text) <= 3000
    first_source = sources[0]["elements"][0]["text"]
    assert first_source.startswith("— ")
    assert answer.quotes[0].published is not None
    assert answer.quotes[0].published.isoformat() in first_source
    actions = {e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]}
    assert actions == {"feedback_helpful", "feedback_not_helpful"}

    served = bot.logs.wait_for("answer.served")
    assert len(served) == 1
    line = served[0]
    assert line["surface"] == "mention"
    assert line["user"] == USER and line["channel"] == CHANNEL
    assert line["answered"] is True
    assert line["passage_ids"] == [q.passage_id for q in answer.quotes]
    assert isinstance(line["latency_ms"], float)
    assert line["request_id"]

    audit_served = bot.audit_records("answer.served")
    assert [r["request_id"] for r in audit_served] == [line["request_id"]]
    delivered = bot.audit_records("answer.delivered")
    assert delivered[0]["outcome"] == "delivered"
    assert re.fullmatch(r"\d+\.\d+", delivered[0]["message_ts"])


def test_mention_inside_a_thread_replies_in_that_thread(bot: Bot) -> None:
    event = app_mention(f"<@{BOT_USER_ID}> {QUESTION}", thread_ts="1700000000.000001")
    bot.event(event)
    (call,) = bot.fake.wait_for("chat.postMessage")
    assert call.body["thread_ts"] == "1700000000.000001"


def test_direct_message_is_answered_in_the_dm(bot: Bot) -> None:
    assert bot.event(dm_message(QUESTION)).status == 200
    (call,) = bot.fake.wait_for("chat.postMessage")
    assert call.body["channel"] == DM_CHANNEL
    assert "thread_ts" not in call.body or call.body["thread_ts"] is None
    assert any(str(b.get("block_id", "")).startswith("quote_") for b in call.blocks())
    assert bot.logs.wait_for("answer.served")[0]["surface"] == "dm"


def test_messages_that_are_not_questions_to_the_bot_are_ignored(bot: Bot) -> None:
    ignored = [
        dm_message(QUESTION, user=BOT_USER_ID, bot_id=BOT_ID),  # our own message
        dm_message(QUESTION, bot_id="BOTHER001"),  # another bot
        dm_message(QUESTION, subtype="message_changed"),  # an edit
        dm_message("", subtype="channel_join"),
        dm_message(QUESTION, channel=CHANNEL, channel_type="channel"),  # no mention
        app_mention(f"<@{BOT_USER_ID}> {QUESTION}", edited={"user": USER, "ts": "1.0"}),
    ]
    for event in ignored:
        assert bot.event(event).status == 200
    # A real question afterwards is the only thing answered.
    bot.event(dm_message(QUESTION))
    bot.fake.wait_for("chat.postMessage")
    bot.fake.quiet()
    (call,) = bot.fake.calls("chat.postMessage")
    assert call.body["channel"] == DM_CHANNEL


def test_empty_mention_gets_usage(bot: Bot) -> None:
    bot.event(app_mention(f"<@{BOT_USER_ID}>"))
    (call,) = bot.fake.wait_for("chat.postMessage")
    assert "/ask" in call.all_text()
    assert not bot.audit_records("answer.served")


def test_question_not_in_kb_says_so_with_reason_and_hint(bot: Bot) -> None:
    bot.event(app_mention(f"<@{BOT_USER_ID}> banana bread recipe with walnuts"))
    (call,) = bot.fake.wait_for("chat.postMessage")
    text = call.all_text()
    assert "Not in the knowledge base" in text
    assert "banana" in text  # the reason names what was missing
    assert "/kb sources" in text
    assert not any(str(b.get("block_id", "")).startswith("quote_") for b in call.blocks())
    assert bot.logs.wait_for("answer.served")[0]["answered"] is False
