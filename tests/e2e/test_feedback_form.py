""" "Not helpful" opens a form (views.open); its submission is audited; /kb gaps shows them."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from conftest import CHANNEL, USER, Bot, BotFactory, app_mention, find_button
from conversation_payloads import radio, text_input, view_submission
from fake_slack import BOT_USER_ID

QUESTION = "What did Vincent Pang say about the talks?"
ADMIN = "U0ADMIN01"


def not_helpful(bot: Bot, question: str = QUESTION) -> tuple[str, dict[str, Any]]:
    """Ask, click "Not helpful"; (the answer's request id, the modal as opened)."""
    before = len(bot.fake.calls("chat.postMessage"))
    bot.event(app_mention(f"<@{BOT_USER_ID}> {question}"))
    call = bot.fake.wait_for("chat.postMessage", before + 1)[-1]
    bot.logs.wait_for("answer.served", before + 1)
    rid = bot.audit_records("answer.served")[-1]["request_id"]
    opened_before = len(bot.fake.calls("views.open"))
    assert bot.click(find_button(call.blocks(), "feedback_not_helpful")).status == 200
    opened = bot.fake.wait_for("views.open", opened_before + 1)[-1]
    assert opened.body["trigger_id"]
    return rid, opened.view()


def submit(bot: Bot, view: dict[str, Any], reason: str | None, comment: str | None) -> Any:
    values = {
        **radio("reason", "reason_choice", reason),
        **text_input("comment", "comment_text", comment),
    }
    return bot.interact(view_submission(view, values))


def test_not_helpful_is_recorded_and_opens_the_reasons_form(bot: Bot) -> None:
    rid, view = not_helpful(bot)
    (feedback,) = bot.audit_records("answer.feedback")
    assert feedback["helpful"] is False and feedback["request_id"] == rid
    assert view["type"] == "modal" and view["callback_id"] == "feedback_reason"
    assert len(view["title"]["text"]) <= 24 and len(view["blocks"]) <= 100
    (choice,) = [b for b in view["blocks"] if b.get("block_id") == "reason"]
    assert [o["value"] for o in choice["element"]["options"]] == [
        "wrong_quote",
        "outdated",
        "article_missing",
        "other",
    ]
    assert json.loads(view["private_metadata"])["r"] == rid


def test_a_submitted_reason_is_audited_with_the_answers_request_id(bot: Bot) -> None:
    rid, view = not_helpful(bot)
    reply = submit(bot, view, "article_missing", "Nothing on Ericsson's side")
    assert reply.status == 200 and reply.body in (b"", b"{}")  # closes the modal
    time.sleep(0.2)
    (reason,) = bot.audit_records("answer.feedback_reason")
    (feedback,) = bot.audit_records("answer.feedback")
    assert reason["request_id"] == rid
    assert reason["feedback_id"] == feedback["feedback_id"]
    assert reason["reason"] == "article_missing"
    assert reason["comment"] == "Nothing on Ericsson's side"
    assert reason["user"] == USER and reason["channel"] == CHANNEL
    thanks = bot.fake.wait_for("chat.postEphemeral")[-1]
    assert thanks.body["user"] == USER and "not helpful" in thanks.body["text"]


@pytest.mark.parametrize(
    ("reason", "comment", "field"),
    [("other", None, "comment"), ("other", "   ", "comment"), (None, "x", "reason")],
)
def test_the_form_asks_again_for_what_is_missing(
    bot: Bot, reason: str | None, comment: str | None, field: str
) -> None:
    _rid, view = not_helpful(bot)
    reply = submit(bot, view, reason, comment)
    assert reply.status == 200
    body = reply.json()
    assert body["response_action"] == "errors" and field in body["errors"]
    assert bot.audit_records("answer.feedback_reason") == []


def test_a_forged_form_is_dropped(bot: Bot) -> None:
    view = {"type": "modal", "callback_id": "feedback_reason", "private_metadata": "{bad"}
    assert submit(bot, view, "outdated", None).status == 200
    time.sleep(0.2)
    assert bot.audit_records("answer.feedback_reason") == []
    assert bot.logs.wait_for("feedback.bad_form")


def test_kb_gaps_groups_refusals_and_not_helpful_answers(make_bot: BotFactory) -> None:
    bot = make_bot(admins=frozenset({ADMIN}))
    for n, question in enumerate(
        ["What did Apple say?", "Apple patents?", "Samsung Galaxy price?"]
    ):
        bot.event(app_mention(f"<@{BOT_USER_ID}> {question}"))
        bot.logs.wait_for("answer.served", n + 1)
    _rid, view = not_helpful(bot)
    submit(bot, view, "wrong_quote", None)
    bot.logs.wait_for("feedback.reason_recorded")
    reply = bot.command("gaps", command="/kb", user=ADMIN).json()
    text = reply["text"] + json.dumps(reply["blocks"], ensure_ascii=False)
    assert "4 refused or not-helpful questions" in text
    assert "*Apple* — 2: 2 refused" in text
    assert "wrong_quote" in text and "Vincent Pang" in text
    assert len(reply["blocks"]) <= 50
    month = bot.command("gaps 30", command="/kb", user=ADMIN).json()
    assert "last 30 days" in month["text"]
    # Not an admin: refused, and the attempt audited.
    denied = bot.command("gaps", command="/kb", user=USER).json()
    assert "Apple" not in json.dumps(denied)
    assert [r["action"] for r in bot.audit_records("admin.denied")] == ["/kb gaps"]
    for bad in ("gaps 0", "gaps many", "gaps 9999", "gaps 3 4"):
        usage = bot.command(bad, command="/kb", user=ADMIN).json()
        assert "Knowledge-base commands" in json.dumps(usage), bad
