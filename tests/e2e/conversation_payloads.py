"""Payloads of the conversation surfaces (issue 17), in the shapes Slack documents:
thread replies (``message.channels``), ``app_home_opened`` (tabs home and messages),
``app_context_changed``, block actions from a Home view, the ``message_action`` of a
message shortcut, and a modal's ``view_submission``."""

from __future__ import annotations

import json
import time
from typing import Any

from conftest import CHANNEL, DM_CHANNEL, USER, dm_message, message_ts, next_id
from fake_slack import TEAM_ID

OTHER_USER = "U0OTHER02"


def thread_reply(
    text: str,
    *,
    thread_ts: str,
    user: str = USER,
    channel: str = CHANNEL,
    channel_type: str = "channel",
    **extra: Any,
) -> dict[str, Any]:
    """A reply in a thread (``message.channels`` / ``message.groups`` / ``message.im``)."""
    return dm_message(
        text,
        user=user,
        channel=channel,
        channel_type=channel_type,
        thread_ts=thread_ts,
        parent_user_id=user,
        **extra,
    )


def channel_message(text: str, *, user: str = USER, channel: str = CHANNEL) -> dict[str, Any]:
    """A top-level channel message (``message.channels``), no thread."""
    return dm_message(text, user=user, channel=channel, channel_type="channel")


def app_home_opened(tab: str, *, user: str = USER, channel: str = DM_CHANNEL) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "app_home_opened",
        "user": user,
        "channel": channel,
        "tab": tab,
        "event_ts": f"{time.time():.6f}",
    }
    if tab == "home":
        # Present once a Home view was published before.
        event["view"] = {
            "id": "VHOME0001",
            "team_id": TEAM_ID,
            "type": "home",
            "blocks": [],
            "private_metadata": "",
            "callback_id": "home",
            "hash": "1231232323.12321312",
            "app_id": "A0APP0001",
            "bot_id": "BBOT0001",
        }
    return event


def app_context_changed(channel: str) -> dict[str, Any]:
    return {
        "type": "app_context_changed",
        "context": {
            "entities": [{"type": "slack#/types/channel_id", "value": channel, "team_id": TEAM_ID}]
        },
    }


def human_authorizations(user: str = USER) -> list[dict[str, Any]]:
    """``authorizations`` of an event about a person (app_context_changed)."""
    return [
        {
            "enterprise_id": None,
            "team_id": TEAM_ID,
            "user_id": user,
            "is_bot": False,
            "is_enterprise_install": False,
        }
    ]


def view_block_actions(
    action: dict[str, Any], view: dict[str, Any], *, user: str = USER
) -> dict[str, Any]:
    """A button click in a published view (the Home tab): no channel, no response_url."""
    n = next_id()
    return {
        "type": "block_actions",
        "user": {"id": user, "username": "asker", "name": "asker", "team_id": TEAM_ID},
        "api_app_id": "A0APP0001",
        "token": "legacy-verification-token",
        "container": {"type": "view", "view_id": view.get("id", "VHOME0001")},
        "trigger_id": f"{n}.{TEAM_ID}.trigger",
        "team": {"id": TEAM_ID, "domain": "fake"},
        "enterprise": None,
        "is_enterprise_install": False,
        "view": {**view, "id": view.get("id", "VHOME0001"), "team_id": TEAM_ID},
        "actions": [
            {
                "action_id": action["action_id"],
                "block_id": action.get("block_id", "home"),
                "text": action.get("text", {"type": "plain_text", "text": "button"}),
                "value": action["value"],
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def message_action(
    text: str,
    *,
    response_url: str,
    user: str = USER,
    channel: str = CHANNEL,
    author: str = OTHER_USER,
    ts: str | None = None,
    thread_ts: str | None = None,
    callback_id: str = "check_claim",
) -> dict[str, Any]:
    """A message shortcut on someone's message."""
    n = next_id()
    ts = ts or message_ts()
    message: dict[str, Any] = {"type": "message", "user": author, "text": text, "ts": ts}
    if thread_ts is not None:
        message["thread_ts"] = thread_ts
    return {
        "type": "message_action",
        "token": "legacy-verification-token",
        "action_ts": f"{time.time():.6f}",
        "team": {"id": TEAM_ID, "domain": "fake"},
        "user": {"id": user, "name": "checker"},
        "channel": {"id": channel, "name": "general"},
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": f"{n}.{TEAM_ID}.trigger",
        "response_url": response_url,
        "message_ts": ts,
        "message": message,
    }


def view_submission(
    view: dict[str, Any], values: dict[str, Any], *, user: str = USER
) -> dict[str, Any]:
    """Submitting a modal: the view as opened, with the inputs' state."""
    n = next_id()
    return {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": "fake"},
        "user": {"id": user, "username": "asker", "name": "asker", "team_id": TEAM_ID},
        "api_app_id": "A0APP0001",
        "token": "legacy-verification-token",
        "trigger_id": f"{n}.{TEAM_ID}.trigger",
        "view": {
            **view,
            "id": "VMODAL001",
            "team_id": TEAM_ID,
            "state": {"values": values},
            "hash": "156772938.1827394",
        },
        "response_urls": [],
        "is_enterprise_install": False,
    }


def radio(block: str, action: str, value: str | None) -> dict[str, Any]:
    chosen = {"text": {"type": "plain_text", "text": value}, "value": value} if value else None
    return {block: {action: {"type": "radio_buttons", "selected_option": chosen}}}


def text_input(block: str, action: str, value: str | None) -> dict[str, Any]:
    return {block: {action: {"type": "plain_text_input", "value": value}}}


def parse_view(raw: Any) -> dict[str, Any]:
    return dict(json.loads(raw) if isinstance(raw, str) else raw)
