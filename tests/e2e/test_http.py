"""The HTTP surface: signatures, malformed input, health and readiness."""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlencode

import pytest
from conftest import Bot, app_mention, dm_message, event_callback, http, sign
from fake_slack import BOT_USER_ID

QUESTION = "What did Vincent Pang say about the talks?"


def still_serving(bot: Bot) -> None:
    assert bot.get("/healthz").status == 200
    bot.fake.reset()
    bot.event(dm_message(QUESTION))
    bot.fake.wait_for("chat.postMessage")


def test_health_and_readiness(bot: Bot) -> None:
    health = bot.get("/healthz")
    assert health.status == 200 and health.json() == {"status": "ok"}
    ready = bot.get("/readyz")
    assert ready.status == 200
    body = ready.json()
    assert body["status"] == "ready"
    assert body["kb"]["kb_version"] == bot.kb.kb_version and body["kb"]["passages"] > 0
    assert body["audit"]["ok"] is True


def test_bad_signature_is_rejected(bot: Bot) -> None:
    body = json.dumps(event_callback(app_mention(f"<@{BOT_USER_ID}> {QUESTION}"))).encode()
    forged = bot.post(body, "application/json", sign(body, secret="not-the-secret"), signed=False)
    assert forged.status == 401
    unsigned = bot.post(body, "application/json", signed=False)
    assert unsigned.status == 401
    bot.fake.quiet(0.2)
    assert bot.fake.calls("chat.postMessage") == []


@pytest.mark.parametrize("age", [301, 3600, -301])
def test_stale_or_future_timestamp_is_rejected(bot: Bot, age: int) -> None:
    body = json.dumps(event_callback(app_mention(f"<@{BOT_USER_ID}> {QUESTION}"))).encode()
    reply = bot.post(body, "application/json", timestamp=int(time.time()) - age)
    assert reply.status == 401


def test_a_body_changed_after_signing_is_rejected(bot: Bot) -> None:
    body = json.dumps(event_callback(dm_message(QUESTION))).encode()
    headers = sign(body)
    tampered = body.replace(QUESTION.encode(), b"Something else entirely")
    assert bot.post(tampered, "application/json", headers, signed=False).status == 401


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"\xff\xfe\x00garbage", "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b'"just a string"', "application/json"),
        (b"payload=%7Bbroken", "application/x-www-form-urlencoded"),
        (urlencode({"payload": "[]"}).encode(), "application/x-www-form-urlencoded"),
        (b"", "application/json"),
    ],
)
@pytest.mark.parametrize("signed", [True, False])
def test_malformed_bodies_get_4xx_and_the_server_keeps_serving(
    bot: Bot, body: bytes, content_type: str, signed: bool
) -> None:
    reply = bot.post(body, content_type, signed=signed)
    assert 400 <= reply.status < 500, reply
    assert b"Traceback" not in reply.body
    still_serving(bot)


def test_signed_envelope_with_missing_parts_is_not_an_error(bot: Bot) -> None:
    for envelope in (
        {"type": "event_callback", "event_id": "EvBROKEN01", "event": "not an object"},
        {"type": "event_callback", "event_id": "EvBROKEN02"},
        {"type": "block_actions", "actions": "nope"},
        {"type": "mystery"},
    ):
        reply = bot.post(json.dumps(envelope).encode(), "application/json")
        assert reply.status < 500, (envelope, reply)
    still_serving(bot)


def test_oversized_body_is_refused(bot: Bot) -> None:
    # Only the headers are sent: the server must refuse on the declared length alone.
    # Streaming 2 MiB at a server that has already answered races its close (EPIPE/RST),
    # so the streamed-body limit is tested against read_body directly in tests/bot.
    host, port = bot.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(
            b"POST /slack/events HTTP/1.1\r\n"
            + f"Host: {host}\r\n".encode()
            + b"Content-Type: application/json\r\n"
            + f"Content-Length: {2 * 1024 * 1024}\r\n".encode()
            + b"Expect: 100-continue\r\n\r\n"
        )
        status_line = conn.makefile("rb").readline()
    assert status_line.split()[1] == b"413", status_line
    still_serving(bot)


def test_wrong_method_and_unknown_path(bot: Bot) -> None:
    assert bot.get("/slack/events").status == 405
    assert http("POST", bot.url + "/elsewhere", b"{}").status == 404


def test_url_verification_challenge(bot: Bot) -> None:
    envelope = {
        "token": "t",
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
        "type": "url_verification",
    }
    reply = bot.post(json.dumps(envelope).encode(), "application/json")
    assert reply.status == 200
    assert reply.json()["challenge"] == envelope["challenge"]


def test_ssl_check_is_answered(bot: Bot) -> None:
    body = urlencode({"ssl_check": "1", "token": "t"}).encode()
    assert bot.post(body, "application/x-www-form-urlencoded").status == 200
