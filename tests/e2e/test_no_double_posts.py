"""Retries never post an answer twice: a 5xx to a call that adds a message is not retried
(Slack may have acted before failing), a 429 is, and so are idempotent calls."""

from __future__ import annotations

from conftest import CHANNEL, USER, Bot, BotFactory, app_mention, find_button
from fake_slack import BOT_USER_ID, FakeSlack

QUESTION = "When was Huawei added to the Entity List?"


def test_a_post_answered_500_is_made_once_then_apologised_for(bot: Bot) -> None:
    bot.fake.fail("chat.postMessage", status=500, times=1)
    bot.event(app_mention(f"<@{BOT_USER_ID}> {QUESTION}"))
    (apology,) = bot.fake.wait_for("chat.postEphemeral", timeout=15)
    bot.fake.quiet()
    assert len(bot.fake.calls("chat.postMessage")) == 1
    assert apology.body["user"] == USER and apology.body["channel"] == CHANNEL
    (delivered,) = bot.audit_records("answer.delivered")
    assert delivered["outcome"] == "failed" and delivered["error"] == "http_500"


def test_a_response_url_answered_500_is_posted_to_once(bot: Bot) -> None:
    bot.event(app_mention(f"<@{BOT_USER_ID}> {QUESTION}"))
    (answer,) = bot.fake.wait_for("chat.postMessage")
    bot.fake.fail("response_url", status=500, times=None)
    button = find_button(answer.blocks(), "feedback_helpful")
    assert bot.click(button, response_key="fb").status == 200
    # The thanks falls back to chat.postEphemeral instead of trying the URL again.
    (thanks,) = bot.fake.wait_for("chat.postEphemeral", timeout=15)
    bot.fake.quiet()
    assert len(bot.fake.calls("response_url")) == 1
    assert "helpful" in thanks.body["text"]


def test_rate_limits_and_idempotent_calls_are_still_retried(
    fake_slack: FakeSlack, make_bot: BotFactory
) -> None:
    fake_slack.fail("auth.test", status=500, times=1)  # read-only: safe to repeat
    bot = make_bot()
    assert len(bot.fake.calls("auth.test")) == 2
    bot.fake.rate_limit("chat.postMessage", times=1, retry_after=1)
    bot.event(app_mention(f"<@{BOT_USER_ID}> {QUESTION}"))
    bot.fake.wait_for("chat.postMessage", 2, timeout=15)
    bot.fake.quiet()
    assert len(bot.fake.calls("chat.postMessage")) == 2
    bot.logs.wait_for("answer.served")
    (delivered,) = bot.audit_records("answer.delivered")
    assert delivered["outcome"] == "delivered"
