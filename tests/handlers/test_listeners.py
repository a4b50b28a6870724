"""Listeners are named methods of small classes, so they can be driven without an app.

Slack is not involved: the ack is a recorder, the audit trail an in-memory port.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from slack_bolt import BoltContext

from handlers.ask import AskCommand
from handlers.blocks.refs import ArticleRef, decode_article, encode_article
from handlers.buttons import Button, Click
from handlers.commands import HELP_WORDS, command_request, is_help
from handlers.deps import ACK_RECEIPT, Deps
from handlers.requests import response_url_of
from knowledge.service import KnowledgeBase


class MemoryAuditor:
    """The Auditor port, in memory."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def record(self, event: str, **fields: Any) -> Mapping[str, Any]:
        with self._lock:
            self.records.append({"event": event, **fields})
            return self.records[-1]

    def served(self, content: Mapping[str, Any], **fields: Any) -> Mapping[str, Any]:
        return self.record("answer.served", **fields, **content)

    def delivered(self, **fields: Any) -> Mapping[str, Any]:
        return self.record("answer.delivered", **fields)

    def error_reported(self, **fields: Any) -> Mapping[str, Any]:
        return self.record("error.reported", **fields)


class NoDedupe:
    def first_time(self, key: str) -> bool:
        return True


class Inline:
    """The delivery pool, run at once on the caller's thread."""

    def submit(self, work: Callable[[], None]) -> bool:
        work()
        return True

    def room(self) -> int:
        return 1


class AckedInTime:
    def wait(self, timeout: float) -> str | None:
        return None


class Ack:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return KnowledgeBase.load()


def context(request_id: str = "req1") -> BoltContext:
    return BoltContext(
        {"request_id": request_id, "received_at": time.monotonic(), ACK_RECEIPT: AckedInTime()}
    )


def deps(kb: KnowledgeBase, audit: MemoryAuditor) -> Deps:
    return Deps(kb=kb, audit=audit, dedupe=NoDedupe(), background=Inline())


def command(text: str) -> dict[str, Any]:
    return {
        "command": "/ask",
        "text": text,
        "user_id": "U0ASKER1",
        "channel_id": "C0CHAN1",
        "response_url": "https://hooks.slack.invalid/commands/1",
    }


def test_help_words() -> None:
    assert all(is_help(word) for word in HELP_WORDS)
    assert is_help("HELP") and is_help("Usage")
    assert not is_help("help me") and not is_help("")


def test_the_request_a_command_makes() -> None:
    req = command_request(command("who?"), context("r9"), surface="ask", question="who?")
    assert (req.request_id, req.surface, req.question) == ("r9", "ask", "who?")
    assert (req.user, req.channel, req.thread_ts) == ("U0ASKER1", "C0CHAN1", None)
    assert response_url_of(command("x")) == "https://hooks.slack.invalid/commands/1"
    assert response_url_of({"response_url": 7}) is None


def test_ask_answers_in_the_ack_and_audits_before_and_after(kb: KnowledgeBase) -> None:
    audit = MemoryAuditor()
    ask = AskCommand(deps(kb, audit))
    ack = Ack()
    ask.on_command(ack, command("Which US companies is Huawei talking to?"), context(), None)
    (reply,) = ack.calls
    assert reply["response_type"] == "ephemeral"
    assert [b.get("block_id") for b in reply["blocks"]][:2] == ["question", "quote_0"]
    served, delivered = audit.records
    assert (served["event"], served["surface"], served["request_id"]) == (
        "answer.served",
        "ask",
        "req1",
    )
    assert served["answered"] is True and served["quotes"]
    assert (delivered["event"], delivered["message_ts"], delivered["error"]) == (
        "answer.delivered",
        None,
        None,
    )


def test_ask_with_a_help_word_shows_the_usage_and_audits_nothing(kb: KnowledgeBase) -> None:
    audit = MemoryAuditor()
    ask = AskCommand(deps(kb, audit))
    ack = Ack()
    ask.on_command(ack, command("help"), context(), None)
    (reply,) = ack.calls
    assert "/ask" in reply["text"] and audit.records == []


def test_a_button_listener_acks_decodes_and_hands_on_a_named_click(kb: KnowledgeBase) -> None:
    seen: list[tuple[ArticleRef, Click]] = []
    button = Button("full_article", "full_article", decode_article, "stale")

    def on_click(ref: ArticleRef, click: Click) -> None:
        seen.append((ref, click))

    listen = button.listener(deps(kb, MemoryAuditor()), on_click)
    ack = Ack()
    ref = ArticleRef(doc_id="d1", start=0, end=5, kb_version="v1")
    body = {
        "user": {"id": "U0ASKER1"},
        "channel": {"id": "C0CHAN1"},
        "container": {"thread_ts": "1.2"},
        "response_url": "https://hooks.slack.invalid/actions/1",
    }
    listen(ack, body, {"value": encode_article(ref)}, context("r2"), None)
    assert ack.calls == [{}]
    ((got, click),) = seen
    assert got == ref and listen.__name__ == "on_click"
    assert (click.req.request_id, click.req.user, click.req.channel) == (
        "r2",
        "U0ASKER1",
        "C0CHAN1",
    )
    assert click.req.thread_ts == "1.2"
    assert click.response_url == "https://hooks.slack.invalid/actions/1"
