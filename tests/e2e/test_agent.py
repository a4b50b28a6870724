"""The agent messaging surface (LICENSEBOT_AGENT_VIEW, manifest-agent.yml): the Messages
tab's prompts and greeting, answers in threads with the "thinking" status, follow-ups,
app_context_changed; and what stays classic without it."""

from __future__ import annotations

import time

from conftest import DM_CHANNEL, USER, Bot, BotFactory, dm_message, event_callback
from conversation_payloads import (
    app_context_changed,
    app_home_opened,
    human_authorizations,
    thread_reply,
)

QUESTION = "Which US companies is Huawei talking to about licensing its 5G technology?"


def agent_bot(make_bot: BotFactory) -> Bot:
    return make_bot(agent_view=True)


def test_opening_the_messages_tab_sets_prompts_and_greets_once(make_bot: BotFactory) -> None:
    bot = agent_bot(make_bot)
    assert bot.event(app_home_opened("messages")).status == 200
    (prompts,) = bot.fake.wait_for("assistant.threads.setSuggestedPrompts")
    body = prompts.body
    assert body["channel_id"] == DM_CHANNEL
    assert "thread_ts" not in body  # the agent experience sets them on the tab itself
    assert 1 <= len(body["prompts"]) <= 4 and body["title"]
    for prompt in body["prompts"]:
        assert set(prompt) == {"title", "message"}
        assert bot.kb.answer(prompt["message"]).answered
    (greeting,) = bot.fake.wait_for("chat.postMessage")
    assert greeting.body["channel"] == DM_CHANNEL
    assert "verbatim quotes" in greeting.all_text()
    # The second visit: prompts again, no second greeting.
    bot.event(app_home_opened("messages"))
    bot.fake.wait_for("assistant.threads.setSuggestedPrompts", 2)
    time.sleep(0.3)
    assert len(bot.fake.calls("chat.postMessage")) == 1


def test_a_message_is_answered_in_its_thread_with_the_thinking_status(
    make_bot: BotFactory,
) -> None:
    bot = agent_bot(make_bot)
    message = dm_message(QUESTION)
    bot.event(message)
    (answer,) = bot.fake.wait_for("chat.postMessage")
    (status,) = bot.fake.calls("assistant.threads.setStatus")
    assert status.body["channel_id"] == DM_CHANNEL
    assert status.body["thread_ts"] == message["ts"] and status.body["status"]
    assert status.at <= answer.at  # shown while looking up, before the answer
    assert answer.body["thread_ts"] == message["ts"]
    bot.logs.wait_for("answer.served")
    assert bot.audit_records("answer.served")[-1]["surface"] == "agent"
    # A follow-up in the thread is combined with the question.
    bot.event(thread_reply("more", thread_ts=message["ts"], channel=DM_CHANNEL, channel_type="im"))
    more = bot.fake.wait_for("chat.postMessage", 2)[-1]
    assert more.body["thread_ts"] == message["ts"]
    bot.logs.wait_for("answer.served", 2)
    record = bot.audit_records("answer.served")[-1]
    assert record["followup"] == "more" and record["surface"] == "agent"
    assert len(bot.fake.calls("assistant.threads.setStatus")) == 2


def test_the_status_is_cleared_when_the_answer_cannot_be_posted(make_bot: BotFactory) -> None:
    bot = agent_bot(make_bot)
    bot.fake.api_error("chat.postMessage", "channel_not_found", times=None)
    bot.event(dm_message(QUESTION))
    statuses = bot.fake.wait_for("assistant.threads.setStatus", 2)
    assert statuses[-1].body["status"] == ""


def test_the_channel_in_view_is_recorded_with_the_next_answer(make_bot: BotFactory) -> None:
    bot = agent_bot(make_bot)
    envelope = event_callback(app_context_changed("C0VIEWED1"))
    envelope["authorizations"] = human_authorizations(USER)
    assert bot.send_envelope(envelope).status == 200
    bot.logs.wait_for("agent.context_changed")
    bot.event(dm_message(QUESTION))
    bot.logs.wait_for("answer.served")
    assert bot.audit_records("answer.served")[-1]["context_channel"] == "C0VIEWED1"
    # An empty context is accepted and changes nothing.
    assert (
        bot.send_envelope(event_callback({"type": "app_context_changed", "context": {}})).status
        == 200
    )


def test_without_the_agent_view_dms_stay_classic(bot: Bot) -> None:
    bot.event(app_home_opened("messages"))
    bot.fake.wait_for("chat.postMessage")  # the greeting, once
    bot.event(dm_message(QUESTION))
    answer = bot.fake.wait_for("chat.postMessage", 2)[-1]
    assert not answer.body.get("thread_ts")
    time.sleep(0.3)
    assert bot.fake.calls("assistant.threads.setSuggestedPrompts") == []
    assert bot.fake.calls("assistant.threads.setStatus") == []
    bot.logs.wait_for("answer.served")
    assert bot.audit_records("answer.served")[-1]["surface"] == "dm"
