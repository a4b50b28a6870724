"""Delivery under failure: Slack retries, rate limits, outages, audit loss, crashes."""

from __future__ import annotations

import sys
import time
import types
from collections.abc import Mapping
from typing import Any

import pytest
from conftest import CHANNEL, USER, Bot, BotFactory, app_mention, dm_message
from fake_slack import BOT_USER_ID
from slack_bolt import Ack, App

from bot.audit.records import AnswerRecords
from handlers.deps import AuditUnavailable, Deps
from knowledge.models import Answer
from knowledge.service import KnowledgeBase

QUESTION = "When was Huawei added to the Entity List?"


def test_slack_retries_of_an_event_are_answered_once(bot: Bot) -> None:
    event = app_mention(f"<@{BOT_USER_ID}> {QUESTION}")
    first = bot.event(event, event_id="EvRETRY0001")
    again = [bot.event(event, event_id="EvRETRY0001", retry_num=n) for n in (1, 2, 3)]
    assert first.status == 200
    assert [r.status for r in again] == [200, 200, 200]
    assert all(r.body == b"" for r in again)
    bot.fake.wait_for("chat.postMessage")
    bot.fake.quiet()
    assert len(bot.fake.calls("chat.postMessage")) == 1
    duplicates = bot.logs.records("event.duplicate")
    assert [d["retry_num"] for d in duplicates] == ["1", "2", "3"]
    assert len(bot.logs.records("answer.served")) == 1


def test_rate_limited_post_is_retried_after_retry_after(bot: Bot) -> None:
    bot.fake.rate_limit("chat.postMessage", times=1, retry_after=1)
    bot.event(dm_message(QUESTION))
    calls = bot.fake.wait_for("chat.postMessage", 2)
    assert calls[1].at - calls[0].at >= 1.0  # honoured Retry-After
    bot.fake.quiet()
    assert len(bot.fake.calls("chat.postMessage")) == 2
    served = bot.logs.wait_for("answer.served")
    assert served[0]["delivered"] is True
    assert bot.audit_records("answer.delivered")[0]["outcome"] == "delivered"
    assert bot.fake.calls("chat.postEphemeral") == []


def test_server_errors_for_ever_end_in_an_apology_and_a_logged_failure(bot: Bot) -> None:
    bot.fake.fail("chat.postMessage", status=500, times=None)
    bot.event(app_mention(f"<@{BOT_USER_ID}> {QUESTION}"))
    (apology,) = bot.fake.wait_for("chat.postEphemeral", timeout=15)
    bot.fake.quiet()
    # Not retried: Slack may have posted the message before answering 500.
    assert len(bot.fake.calls("chat.postMessage")) == 1
    failed = bot.logs.wait_for("delivery.failed")
    ref = failed[0]["request_id"]
    assert failed[0]["error"] == "http_500"
    assert apology.body["user"] == USER and apology.body["channel"] == CHANNEL
    assert f"ref {ref}" in apology.body["text"]
    assert bot.logs.records("answer.served")[0]["delivered"] is False
    assert bot.audit_records("answer.delivered")[0]["outcome"] == "failed"


class BrokenAuditor(AnswerRecords):
    """An audit trail whose disk went away."""

    healthy = False

    def record(self, event: str, **fields: Any) -> Mapping[str, Any]:
        raise AuditUnavailable("disk full")


def test_no_audit_no_answer(make_bot: BotFactory) -> None:
    bot = make_bot(audit=BrokenAuditor())
    bot.event(dm_message(QUESTION))
    (call,) = bot.fake.wait_for("chat.postMessage")
    assert call.body["text"].startswith("I can't answer right now (ref ")
    assert "quote_" not in str(call.blocks())
    assert bot.logs.wait_for("answer.withheld")[0]["reason"] == "audit_unavailable"
    body = bot.command(QUESTION).json()
    assert body["text"].startswith("I can't answer right now (ref ")
    assert bot.get("/readyz").status == 503


class ExplodingKnowledgeBase(KnowledgeBase):
    def answer(self, question: str, top: int = 3) -> Answer:
        raise RuntimeError("index corrupted: /secret/path/traceback-detail")


def test_listener_exceptions_never_leak_to_slack(make_bot: BotFactory, kb: KnowledgeBase) -> None:
    bot = make_bot(knowledge=ExplodingKnowledgeBase(kb.snapshot))
    reply = bot.command(QUESTION)
    assert reply.status == 200
    body = reply.json()
    assert body["text"].startswith("Sorry — something went wrong on my side (ref ")
    assert "Traceback" not in reply.body.decode() and "/secret/path" not in reply.body.decode()

    bot.event(dm_message(QUESTION))
    (call,) = bot.fake.wait_for("chat.postMessage")
    assert "something went wrong" in call.body["text"]
    assert "/secret/path" not in call.all_text()
    failures = bot.logs.wait_for("answer.failed", 2)
    assert "RuntimeError" in failures[0]["exception"]  # the traceback stays in our logs
    assert len(bot.audit_records("error.reported")) == 2


def test_events_ack_before_the_answer_is_delivered(bot: Bot) -> None:
    bot.fake.rate_limit("chat.postMessage", times=1, retry_after=1)
    started = time.monotonic()
    reply = bot.event(dm_message(QUESTION))
    acked = time.monotonic() - started
    assert reply.status == 200
    assert acked < 0.5  # while the reply waits out the rate limit
    bot.fake.wait_for("chat.postMessage", 2)


def crashing_module() -> types.ModuleType:
    """A plug-in handler module whose listeners raise, to exercise the global backstop."""
    module = types.ModuleType("crashing_handlers")

    def register(app: App, deps: Deps) -> None:
        def boom_command(ack: Ack) -> None:
            raise RuntimeError("before ack: /secret/detail")

        def boom_action(ack: Ack) -> None:
            raise RuntimeError("in a button: /secret/detail")

        app.command("/boom")(boom_command)
        app.action("boom")(boom_action)

    module.register = register  # type: ignore[attr-defined]
    return module


def test_plugged_in_listener_crashes_are_caught_by_the_backstop(
    make_bot: BotFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.app

    monkeypatch.setitem(sys.modules, "crashing_handlers", crashing_module())
    monkeypatch.setattr(bot.app, "HANDLER_MODULES", (*bot.app.HANDLER_MODULES, "crashing_handlers"))
    slack = make_bot()

    reply = slack.command("anything", command="/boom")
    assert reply.status == 200
    body = reply.json()
    assert body["response_type"] == "ephemeral"
    assert body["text"].startswith("Sorry — something went wrong on my side (ref ")
    assert b"/secret/detail" not in reply.body and b"Traceback" not in reply.body

    assert slack.click({"action_id": "boom", "value": "x"}, response_key="boom").status == 200
    (apology,) = slack.fake.wait_for("response_url")
    assert "something went wrong" in apology.body["text"]
    assert "/secret/detail" not in apology.body["text"]
    errors = slack.logs.wait_for("listener.error", 2)
    assert all("RuntimeError" in e["exception"] for e in errors)
