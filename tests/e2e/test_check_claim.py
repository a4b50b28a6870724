"""The check_claim message shortcut: a private result with supporting and differing
quotes per statement, "Post in thread", audited."""

from __future__ import annotations

import json
import time
from typing import Any

from conftest import CHANNEL, USER, Bot, find_button
from conversation_payloads import message_action

CLAIM = (
    "Huawei was added to the Entity List in March 2019. "
    "Nokia acquired Alcatel-Lucent in November 2016. "
    "Huawei makes excellent cheese."
)


def check(bot: Bot, text: str = CLAIM, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
    payload = message_action(text, response_url=bot.fake.response_url("claim"), **kwargs)
    started = time.monotonic()
    reply = bot.interact(payload)
    assert reply.status == 200 and reply.body == b""  # acknowledged at once, nothing shown
    assert time.monotonic() - started < 3
    (result,) = bot.fake.wait_for("response_url")
    return result, payload


def test_each_statement_gets_its_quotes_or_says_none_match(bot: Bot) -> None:
    result, payload = check(bot)
    body = result.body
    assert body["response_type"] == "ephemeral"
    blocks = body["blocks"]
    assert len(blocks) <= 50
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section")
    verdicts = {
        b["block_id"]: b for b in blocks if str(b.get("block_id", "")).startswith("verdict_")
    }
    first = verdicts["verdict_1"]["text"]["text"]
    assert "⚠️ *Differs* (date: the message says “in March 2019”" in first
    assert "May 2019" in first
    second = verdicts["verdict_2"]["text"]["text"]
    assert "✅ *Supports*" in second and "E&amp;T (IET) · ≈ 2019-09-26" in second
    assert (
        verdicts["verdict_3"]["elements"][0]["text"] == "No matching quote in the knowledge base."
    )
    button = find_button(blocks, "claim_post_in_thread")
    ref = json.loads(button["value"])
    assert ref["c"] == CHANNEL and ref["t"] == payload["message"]["ts"]
    (record,) = [r for r in bot.audit_records("answer.served") if r["surface"] == "check_claim"]
    assert record["question"] == CLAIM and record["user"] == USER
    assert record["said_on"] and record["message_ts"] == payload["message"]["ts"]
    assert {q["verdict"] for q in record["quotes"]} == {"supports", "differs"}
    assert [s["differing"] > 0 for s in record["statements"]] == [True, False, False]
    assert bot.logs.wait_for("claim.checked")


def test_post_in_thread_posts_the_check_for_everyone(bot: Bot) -> None:
    result, _ = check(bot, thread_ts="1700000000.000001")
    button = find_button(result.body["blocks"], "claim_post_in_thread")
    assert bot.click(button, response_key="post", ephemeral=True).status == 200
    (public,) = bot.fake.wait_for("chat.postMessage")
    assert public.body["channel"] == CHANNEL
    assert public.body["thread_ts"] == "1700000000.000001"  # the checked message's thread
    assert f"for <@{USER}>" in public.all_text()
    assert find_button_or_none(public.blocks(), "claim_post_in_thread") is None
    bot.logs.wait_for("claim.posted")
    records = [r for r in bot.audit_records("answer.served") if r["surface"] == "check_claim"]
    assert len(records) == 2 and records[1]["shared_from"] == records[0]["request_id"]
    confirm = bot.fake.wait_for("response_url", 2)[-1]
    assert confirm.body["replace_original"] is True


def find_button_or_none(blocks: list[dict[str, Any]], action_id: str) -> dict[str, Any] | None:
    try:
        return find_button(blocks, action_id)
    except AssertionError:
        return None


def test_untrusted_message_text_is_escaped(bot: Bot) -> None:
    text = "<!channel> Huawei was added to the Entity List in March 2019 &lt;script&gt;."
    result, _ = check(bot, text)
    shown = json.dumps(result.body["blocks"])
    assert "<!channel>" not in shown and "<script>" not in shown
    assert "&lt;script&gt;" in shown


def test_a_message_without_statements_and_a_stale_button(bot: Bot) -> None:
    result, _ = check(bot, "lol 🎉")
    assert "makes no statement to check" in result.body["text"]
    assert find_button_or_none(result.body["blocks"], "claim_post_in_thread") is None
    stale = {
        "action_id": "claim_post_in_thread",
        "value": json.dumps({"r": "nope", "c": CHANNEL, "t": "1.1", "v": "x"}),
    }
    assert bot.click(stale, response_key="stale").status == 200
    notice = bot.fake.wait_for("response_url", 2)[-1]
    assert "no longer works" in notice.body["text"]
    assert bot.fake.calls("chat.postMessage") == []


def test_an_unsigned_shortcut_does_nothing(bot: Bot) -> None:
    payload = message_action(CLAIM, response_url=bot.fake.response_url("claim"))
    body = ("payload=" + json.dumps(payload)).encode()
    assert bot.post(body, "application/x-www-form-urlencoded", signed=False).status == 401
    time.sleep(0.3)
    assert bot.fake.calls("response_url") == []
    assert bot.audit_records("answer.served") == []


def test_a_replayed_shortcut_is_checked_once(bot: Bot) -> None:
    payload = message_action(CLAIM, response_url=bot.fake.response_url("claim"))
    assert bot.interact(payload).status == 200
    assert bot.interact(payload).status == 200  # the same trigger_id again
    bot.fake.wait_for("response_url")
    time.sleep(0.3)
    assert len(bot.fake.calls("response_url")) == 1
    assert len([r for r in bot.audit_records("answer.served")]) == 1
    assert bot.logs.wait_for("request.replayed")
