"""Signed payloads of a shape Slack never sends get 400 and one log line (issue 13, item 5).

Each of these ended, before, in a listener exception (and an apology posted to the body's
``response_url``) or in a 500 from inside Bolt.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from conftest import Bot, app_mention, block_actions, dm_message, event_callback, slash_command
from fake_slack import BOT_USER_ID

QUESTION = "What did Vincent Pang say about the talks?"


def _click(bot: Bot, **changes: Any) -> dict[str, Any]:
    payload = block_actions(
        {"action_id": "full_article", "value": "x"}, response_url=bot.fake.response_url("odd")
    )
    payload.update(changes)
    return payload


def _action(**fields: Any) -> list[dict[str, Any]]:
    return [{"block_id": "answer_actions", "type": "button", "value": "x", **fields}]


def _view(**fields: Any) -> dict[str, Any]:
    return {
        "type": "view_submission",
        "user": {"id": "U0USER001"},
        "trigger_id": "1.T.t",
        "view": fields,
    }


INTERACTIONS = {
    "user as a string": lambda bot: _click(bot, user="U0USER001"),
    "user without an id": lambda bot: _click(bot, user={"name": "asker"}),
    "action without action_id": lambda bot: _click(bot, actions=_action()),
    "action_id not a string": lambda bot: _click(bot, actions=_action(action_id=7)),
    "no actions at all": lambda bot: _click(bot, actions=[]),
    "action not an object": lambda bot: _click(bot, actions=["full_article"]),
    "button value not a string": lambda bot: _click(
        bot, actions=_action(action_id="full_article", value={"doc": 1})
    ),
    "type not a string": lambda bot: _click(bot, type=["block_actions"]),
    "response_url not a string": lambda bot: _click(bot, response_url=9),
    "view without its type": lambda _bot: _view(id="V1", callback_id="cb"),
    "view callback_id not a string": lambda _bot: _view(id="V1", type="modal", callback_id=5),
    "shortcut without callback_id": lambda _bot: {
        "type": "shortcut",
        "user": {"id": "U0USER001"},
        "trigger_id": "1.T.t",
    },
}


def _mention(**changes: Any) -> dict[str, Any]:
    return {**app_mention(f"<@{BOT_USER_ID}> {QUESTION}"), **changes}


EVENTS = {
    "event without a type": {"user": "U0USER001", "text": QUESTION},
    "event user as an object": _mention(user={"id": "U0USER001"}),
    "event text not a string": _mention(text=["hi"]),
    "event channel as an object": _mention(channel={"id": "C0CHAN001"}),
    "dm files not objects": {**dm_message(QUESTION), "subtype": "file_share", "files": ["F1"]},
    "dm file without an id": {**dm_message(QUESTION), "subtype": "file_share", "files": [{}]},
}


def assert_refused_once(bot: Bot, reply_status: int) -> None:
    assert 400 <= reply_status < 500, reply_status
    calls = bot.fake.quiet(0.3)
    assert calls == [], [c.method for c in calls]
    records = bot.logs.records()
    assert [r["event"] for r in records].count("request.malformed") == 1
    assert not [r for r in records if r.get("level") in ("error", "critical")], records
    assert not [r for r in records if str(r["event"]).startswith("Unhandled request")]


@pytest.fixture
def quiet_bot(bot: Bot) -> Bot:
    bot.fake.reset()
    return bot


@pytest.mark.parametrize("case", list(INTERACTIONS))
def test_odd_interaction_payloads_get_400(quiet_bot: Bot, case: str) -> None:
    payload = INTERACTIONS[case](quiet_bot)
    body = urlencode({"payload": json.dumps(payload)}).encode()
    reply = quiet_bot.post(body, "application/x-www-form-urlencoded")
    assert reply.status == 400 and b"Traceback" not in reply.body
    assert_refused_once(quiet_bot, reply.status)


@pytest.mark.parametrize("case", list(EVENTS))
def test_odd_event_payloads_get_400(quiet_bot: Bot, case: str) -> None:
    reply = quiet_bot.send_envelope(event_callback(EVENTS[case]))
    assert_refused_once(quiet_bot, reply.status)


def test_odd_envelopes_get_400(quiet_bot: Bot) -> None:
    for envelope in (
        {**event_callback(dm_message(QUESTION)), "authorizations": [5]},
        {k: v for k, v in event_callback(dm_message(QUESTION)).items() if k != "event_id"},
    ):
        reply = quiet_bot.send_envelope(envelope)
        assert reply.status == 400
    assert len(quiet_bot.logs.records("request.malformed")) == 2
    assert quiet_bot.fake.quiet(0.3) == []


@pytest.mark.parametrize("missing", ["user_id", "channel_id", "team_id", "command"])
def test_a_command_missing_what_slack_always_sends_gets_400(quiet_bot: Bot, missing: str) -> None:
    form = slash_command(QUESTION, response_url=quiet_bot.fake.response_url("cmd"))
    form.pop(missing)
    reply = quiet_bot.post(urlencode(form).encode(), "application/x-www-form-urlencoded")
    assert_refused_once(quiet_bot, reply.status)


def test_well_shaped_payloads_still_work(quiet_bot: Bot) -> None:
    reply = quiet_bot.event(app_mention(f"<@{BOT_USER_ID}> {QUESTION}"))
    assert reply.status == 200
    (call,) = quiet_bot.fake.wait_for("chat.postMessage")
    assert quiet_bot.command(QUESTION).status == 200
    assert quiet_bot.logs.records("request.malformed") == []
    assert call.blocks()
