"""A signed command or button click captured and sent again within Slack's 300 s window
is answered with an empty 200 and does nothing: it is recognised by its ``trigger_id``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from conftest import Bot, BotFactory, block_actions, find_button, sign, slash_command
from tcp_proxy import TcpProxy

QUESTION = "Which US companies is Huawei talking to about licensing its 5G technology?"
FORM = "application/x-www-form-urlencoded"


def send_twice(bot: Bot, body: bytes) -> tuple[int, bytes, int, bytes]:
    """The same bytes with the same signature headers, as an eavesdropper would replay them."""
    headers = sign(body, secret=bot.secret, timestamp=int(time.time()) - 5)
    first = bot.post(body, FORM, headers, signed=False)
    again = bot.post(body, FORM, headers, signed=False)
    return first.status, first.body, again.status, again.body


def test_a_replayed_command_is_answered_harmlessly(bot: Bot) -> None:
    form = slash_command(QUESTION, response_url=bot.fake.response_url("cmd"))
    status, body, again_status, again_body = send_twice(bot, urlencode(form).encode())
    assert status == 200 and b"quote_" in body
    assert again_status == 200 and again_body == b""
    assert [r["surface"] for r in bot.audit_records("answer.served")] == ["ask"]
    (replayed,) = bot.logs.wait_for("request.replayed")
    assert replayed["trigger_id"] == form["trigger_id"] and replayed["kind"] == "/ask"
    # A new command (a new trigger_id) is answered as usual.
    assert b"quote_" in bot.command(QUESTION, response_key="next").body


def test_a_replayed_post_to_channel_posts_once(bot: Bot) -> None:
    answer = bot.command(QUESTION).json()
    button = find_button(answer["blocks"], "post_to_channel")
    payload = block_actions(button, response_url=bot.fake.response_url("share"), ephemeral=True)
    body = urlencode({"payload": json.dumps(payload)}).encode()
    status, _, again_status, again_body = send_twice(bot, body)
    assert (status, again_status, again_body) == (200, 200, b"")
    bot.fake.wait_for("chat.postMessage")
    bot.fake.quiet()
    assert len(bot.fake.calls("chat.postMessage")) == 1
    surfaces = [r["surface"] for r in bot.audit_records("answer.served")]
    assert surfaces == ["ask", "post_to_channel"]
    assert bot.logs.wait_for("request.replayed")[0]["kind"] == "block_actions"


@pytest.mark.needs_redis
def test_a_command_replayed_to_another_replica_is_not_run_again(
    make_bot: BotFactory, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    first, second = (
        make_bot(redis_url=redis_url, redis_key_prefix=redis_prefix, data_dir=tmp_path / name)
        for name in ("a", "b")
    )
    form = slash_command(QUESTION, response_url=first.fake.response_url("cmd"))
    body = urlencode(form).encode()
    headers = sign(body, secret=first.secret)
    assert b"quote_" in first.post(body, FORM, headers, signed=False).body
    again = second.post(body, FORM, headers, signed=False)
    assert (again.status, again.body) == (200, b"")
    assert second.audit_records("answer.served") == []


@pytest.mark.needs_redis
def test_commands_are_answered_while_the_dedupe_store_is_unreachable(
    make_bot: BotFactory, redis_url: str, redis_prefix: str
) -> None:
    parts = urlsplit(redis_url)
    with TcpProxy(parts.hostname or "127.0.0.1", parts.port or 6379) as proxy:
        bot = make_bot(redis_url=proxy.url(), redis_key_prefix=redis_prefix)
        proxy.set_mode("down")
        # Slack never re-sends a command, so refusing it would only fail it.
        reply = bot.command(QUESTION)
        assert reply.status == 200 and b"quote_" in reply.body
        (logged,) = bot.logs.wait_for("request.dedupe_unavailable")
        assert logged["kind"] == "/ask" and logged["level"] == "error"
