"""Requests that fail Slack's signature check get 401 and cause nothing (issue 13, items 1-2).

Nothing means: no Web API or ``response_url`` call, no listener, no error handler acting
on the body, and one bounded log line without the body.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from conftest import (
    SIGNING_SECRET,
    Bot,
    LogSink,
    app_mention,
    block_actions,
    event_callback,
    sign,
    slash_command,
)
from fake_slack import BOT_TOKEN, BOT_USER_ID, FakeSlack
from slack_bolt import BoltRequest

from bot.app import LicenseBotApp, build_deps, create_app
from bot.audit.trail import AuditTrail
from bot.settings import load_settings
from knowledge.service import KnowledgeBase

NOW = str(int(time.time()))
VALID_LOOKING = "v0=" + "0" * 64

# (timestamp, signature) header values; None leaves the header out.
MALFORMED_HEADERS: dict[str, tuple[str | None, str | None]] = {
    "non-numeric timestamp": ("x", "v0=0"),
    "timestamp with a decimal point": (NOW + ".5", VALID_LOOKING),
    "timestamp in exponent form": ("1.7e9", VALID_LOOKING),
    "negative timestamp": ("-" + NOW, VALID_LOOKING),
    "full-width digits": ("".join(chr(0xFF10 + int(d)) for d in NOW), VALID_LOOKING),
    "underscored digits": (NOW[:4] + "_" + NOW[4:], VALID_LOOKING),
    "absurdly large timestamp": ("9" * 400, VALID_LOOKING),
    "more digits than int() accepts": ("9" * 5000, VALID_LOOKING),
    "non-ASCII signature": (NOW, "v0=" + "é" * 64),
    "signature of the wrong scheme": (NOW, "v1=" + "0" * 64),
    "short signature": (NOW, "v0=0"),
    "upper-case hex": (NOW, "v0=" + "A" * 64),
    "no signature": (NOW, None),
    "no timestamp": (None, VALID_LOOKING),
    "no headers": (None, None),
}


def _bodies(bot: Bot) -> dict[str, tuple[bytes, str]]:
    """An interaction, a command and an event, each pointing wherever the sender likes."""
    target = bot.fake.response_url("attacker")
    action = block_actions({"action_id": "full_article", "value": "x"}, response_url=target)
    command = slash_command("What did Vincent Pang say?", response_url=target)
    event = event_callback(app_mention(f"<@{BOT_USER_ID}> What did Vincent Pang say?"))
    return {
        "block_actions": (
            urlencode({"payload": json.dumps(action)}).encode(),
            "application/x-www-form-urlencoded",
        ),
        # The form from the reproduction.
        "bare form": (
            urlencode({"type": "block_actions", "response_url": target}).encode(),
            "application/x-www-form-urlencoded",
        ),
        "command": (urlencode(command).encode(), "application/x-www-form-urlencoded"),
        "event": (json.dumps(event).encode(), "application/json"),
    }


def _wire(value: str) -> str:
    # http.client sends header values as Latin-1: this puts the UTF-8 bytes on the wire.
    return value.encode("utf-8").decode("latin-1")


def _headers(content_type: str, timestamp: str | None, signature: str | None) -> dict[str, str]:
    headers = {"Content-Type": content_type}
    if timestamp is not None:
        headers["X-Slack-Request-Timestamp"] = _wire(timestamp)
    if signature is not None:
        headers["X-Slack-Signature"] = _wire(signature)
    return headers


@pytest.fixture(autouse=True)
def _started(bot: Bot) -> None:
    # Forget the auth.test made at startup: from here on every call counts.
    bot.fake.reset()


def assert_caused_nothing(bot: Bot, refused: int) -> None:
    calls = bot.fake.quiet(0.3)
    assert calls == [], [c.method for c in calls]
    events = [r["event"] for r in bot.logs.records()]
    assert "listener.error" not in events and "delivery.failed" not in events
    assert not any(e.startswith("Invalid request signature") for e in events)
    assert events.count("request.refused") == refused, events


@pytest.mark.parametrize("case", list(MALFORMED_HEADERS))
def test_malformed_signature_headers_get_401_and_cause_nothing(bot: Bot, case: str) -> None:
    timestamp, signature = MALFORMED_HEADERS[case]
    bodies = _bodies(bot)
    for body, content_type in bodies.values():
        headers = _headers(content_type, timestamp, signature)
        reply = bot.post(body, content_type, headers, signed=False)
        assert reply.status == 401, (case, reply)
        assert b"something went wrong" not in reply.body
    assert_caused_nothing(bot, refused=len(bodies))
    for record in bot.logs.records("request.refused"):
        assert set(record) >= {"reason", "size", "client"}
        assert record["client"].startswith("127.0.0.1:")
        assert "attacker" not in json.dumps(record)


def test_repeated_signature_headers_are_refused(bot: Bot) -> None:
    body, content_type = _bodies(bot)["command"]
    good = sign(body)
    host, port = bot.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.putrequest("POST", "/slack/events")
        conn.putheader("Content-Type", content_type)
        conn.putheader("Content-Length", str(len(body)))
        conn.putheader("X-Slack-Request-Timestamp", good["X-Slack-Request-Timestamp"])
        # A genuine signature next to a forged one: which one Bolt would read is not ours to bet on.
        conn.putheader("X-Slack-Signature", VALID_LOOKING)
        conn.putheader("X-Slack-Signature", good["X-Slack-Signature"])
        conn.endheaders(body)
        status = conn.getresponse().status
    finally:
        conn.close()
    assert status == 401
    assert_caused_nothing(bot, refused=1)
    (record,) = bot.logs.records("request.refused")
    assert record["reason"] == "repeated signature"


def test_a_signed_body_that_is_not_utf8_is_refused(bot: Bot) -> None:
    body = b"command=/ask&text=\xff\xfe"
    reply = bot.post(body, "application/x-www-form-urlencoded")
    assert reply.status == 401
    assert_caused_nothing(bot, refused=1)


def test_unsigned_requests_cannot_stall_signed_ones(bot: Bot) -> None:
    """The issue's stall: 42 forged requests aimed response_url at a 429 with Retry-After."""
    bot.fake.fail("response_url", status=429, times=None, headers={"Retry-After": "10"})
    body, content_type = _bodies(bot)["block_actions"]
    headers = _headers(content_type, "x", "v0=0")

    def forged(_n: int) -> int:
        return bot.post(body, content_type, headers, signed=False).status

    with ThreadPoolExecutor(42) as pool:
        flood = [pool.submit(forged, n) for n in range(42)]
        started = time.monotonic()
        ask = bot.command("What did Vincent Pang say about the talks?")
        ask_s = time.monotonic() - started
        started = time.monotonic()
        ready = bot.get("/readyz")
        ready_s = time.monotonic() - started
        statuses = [f.result(timeout=15) for f in flood]
    assert statuses == [401] * 42
    assert ask.status == 200 and ask.json()["blocks"], ask
    assert ask_s < 3.0, f"/ask acked after {ask_s:.2f} s"
    assert ready.status == 200 and ready_s < 1.0
    assert bot.fake.calls("response_url") == []


BIG = 512 * 1024


def test_twenty_unsigned_half_megabyte_posts_add_twenty_short_log_lines(bot: Bot) -> None:
    # A well-formed command, so that only the signature is wrong.
    prefix = b"command=%2Fask&text="
    body = prefix + b"Z" * (BIG - len(prefix))
    before = len(bot.logs.text())
    for _ in range(20):
        reply = bot.post(body, "application/x-www-form-urlencoded", signed=False)
        assert reply.status == 401
    grown = len(bot.logs.text()) - before
    assert grown < 20 * 400, f"log grew by {grown} bytes"
    assert "ZZZZ" not in bot.logs.text()
    records: list[dict[str, Any]] = bot.logs.records("request.refused")
    assert len(records) == 20
    assert all(r["size"] == BIG and r["reason"] == "missing timestamp" for r in records)


# --------------------------------------------------------------------------- defence in depth


@pytest.fixture
def bolt_app(fake_slack: FakeSlack, kb: KnowledgeBase, tmp_path: Path) -> Iterator[LicenseBotApp]:
    """The real Bolt app, driven without the HTTP server that normally refuses first."""
    settings = load_settings(
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=fake_slack.api_url,
        data_dir=tmp_path,
    )
    audit = AuditTrail(tmp_path / "audit.jsonl")
    yield create_app(settings, build_deps(settings, kb=kb, audit=audit))
    audit.close()


def test_the_error_handler_never_answers_an_unverified_request(
    bolt_app: LicenseBotApp, fake_slack: FakeSlack, logs: LogSink
) -> None:
    target = fake_slack.response_url("attacker")
    body = urlencode({"type": "block_actions", "response_url": target, "command": "/ask"})
    # Bolt's own verification raises on this timestamp; the error handler gets the body.
    request = BoltRequest(
        body=body,
        headers={"x-slack-request-timestamp": ["x"], "x-slack-signature": ["v0=0"]},
    )
    response = bolt_app.dispatch(request)
    assert response.status == 401
    assert "something went wrong" not in str(response.body)
    assert fake_slack.quiet(0.3) == []
    assert logs.records("request.unverified_error")
    assert logs.records("listener.error") == []


def test_the_error_handler_still_answers_a_socket_mode_request(
    bolt_app: LicenseBotApp, fake_slack: FakeSlack, logs: LogSink
) -> None:
    # Socket Mode payloads come over Slack's authenticated connection, unsigned.
    payload = block_actions(
        {"action_id": "full_article", "value": "x"}, response_url=fake_slack.response_url("sm")
    )
    payload["user"] = "U0USER001"  # makes the listener fail
    response = bolt_app.dispatch(BoltRequest(body=payload, mode="socket_mode"))
    assert response.status == 200
    (apology,) = fake_slack.wait_for("response_url")
    assert "something went wrong" in apology.all_text()
    assert logs.records("listener.error")
