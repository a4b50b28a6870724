"""Whether a signed body has the shape Slack documents for its kind of payload.

Bolt and the handlers index into payloads as Slack sends them (``body["actions"][0]``,
``body["user"]["id"]``, ``body["view"]["type"]``); a signed body of another shape would end
in a Bolt exception, a 500 or the error handler. The HTTP server answers 400 instead.

Shapes follow Slack's reference pages for slash commands, the Events API envelope and its
``message``/``app_mention`` events, and the interaction payloads (block_actions,
block_suggestion, shortcuts, message actions, view submissions and closes, legacy
interactive messages and dialogs). Only fields something here reads are checked; unknown
fields are left alone, as Slack adds them over time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_STR = (str,)
_OBJ = (dict,)
_LIST = (list,)

# name -> (required, allowed types)
Shape = Mapping[str, tuple[bool, tuple[type, ...]]]


def _opt(*types: type) -> tuple[bool, tuple[type, ...]]:
    return False, types


def _req(*types: type) -> tuple[bool, tuple[type, ...]]:
    return True, types


# Top-level fields of any payload kind, with every type Slack uses for them.
_ANY_PAYLOAD: Shape = {
    "type": _opt(str),
    "event": _opt(dict),
    "actions": _opt(list),
    "container": _opt(dict),
    "view": _opt(dict),
    "message": _opt(dict),
    "user": _opt(dict, str),
    "channel": _opt(dict, str),
    "team": _opt(dict, str, type(None)),
    "enterprise": _opt(dict, str, type(None)),
    "authorizations": _opt(list),
    "response_url": _opt(str),
    "trigger_id": _opt(str),
    "team_id": _opt(str, type(None)),
    "api_app_id": _opt(str),
}

# Slash commands arrive form-encoded, so every value is a string; these are always sent.
_COMMAND: Shape = {
    "command": _req(str),
    "user_id": _req(str),
    "channel_id": _req(str),
    "team_id": _req(str),
}

_ENVELOPE: Shape = {"event": _req(dict), "event_id": _req(str)}

# message and app_mention events (Slack's "message" event reference).
_MESSAGE_EVENT: Shape = {
    "user": _opt(str),
    "channel": _opt(str),
    "text": _opt(str),
    "ts": _opt(str),
    "thread_ts": _opt(str),
    "event_ts": _opt(str),
    "subtype": _opt(str),
    "bot_id": _opt(str),
    "channel_type": _opt(str),
    "client_msg_id": _opt(str),
    "team": _opt(str),
    "files": _opt(list),
    "blocks": _opt(list),
    "message": _opt(dict),
}
_FILE: Shape = {"id": _req(str)}

_USER: Shape = {"id": _req(str)}
_BLOCK_ACTION: Shape = {
    "action_id": _req(str),
    "block_id": _opt(str),
    "type": _opt(str),
    "value": _opt(str),
    "action_ts": _opt(str),
}
_LEGACY_ACTION: Shape = {"name": _opt(str), "type": _opt(str), "value": _opt(str)}
_VIEW: Shape = {
    "id": _req(str),
    "type": _req(str),
    "callback_id": _req(str),
    "state": _opt(dict),
    "private_metadata": _opt(str),
}
_CALLBACK: Shape = {"callback_id": _req(str)}

# Interaction payload kinds, each with what it always carries beyond a user object.
_INTERACTIONS: dict[str, Shape] = {
    "block_actions": {"actions": _req(list)},
    "block_suggestion": {"action_id": _req(str), "value": _req(str)},
    "interactive_message": {"actions": _req(list), **_CALLBACK},
    "shortcut": {**_CALLBACK, "trigger_id": _req(str)},
    "message_action": {**_CALLBACK, "trigger_id": _req(str), "message": _req(dict)},
    "view_submission": {"view": _req(dict)},
    "view_closed": {"view": _req(dict)},
    "dialog_submission": _CALLBACK,
    "dialog_cancellation": _CALLBACK,
    "dialog_suggestion": _CALLBACK,
}
_EVENT_SHAPES: dict[str, Shape] = {"message": _MESSAGE_EVENT, "app_mention": _MESSAGE_EVENT}


def _fields(obj: Mapping[str, Any], shape: Shape, where: str) -> str | None:
    for name, (required, types) in shape.items():
        if name not in obj:
            if required:
                return f"{where}{name} is missing"
        elif not isinstance(obj[name], types):
            return f"{where}{name} has the wrong type"
    return None


def _each(items: list[Any], shape: Shape, where: str) -> str | None:
    for item in items:
        if not isinstance(item, dict):
            return f"{where} are not objects"
        problem = _fields(item, shape, f"{where} item ")
        if problem is not None:
            return problem
    return None


def shape_problem(body: object) -> str | None:
    """Why a parsed, signed body cannot be a Slack payload, or None when its shape fits."""
    if not isinstance(body, dict):
        return "not an object"
    problem = _fields(body, _ANY_PAYLOAD, "")
    if problem is not None:
        return problem
    if "command" in body:
        return _fields(body, _COMMAND, "")
    if "type" not in body and "ssl_check" not in body:
        return "neither a command nor a typed payload"
    kind = body.get("type")
    if kind == "event_callback":
        return _event_problem(body)
    shape = _INTERACTIONS.get(str(kind))
    if shape is not None:
        return _interaction_problem(str(kind), body, shape)
    return None


def _event_problem(body: dict[str, Any]) -> str | None:
    problem = _fields(body, _ENVELOPE, "")
    if problem is not None:
        return problem
    problem = _each(body.get("authorizations") or [], {}, "authorizations")
    if problem is not None:
        return problem
    event: dict[str, Any] = body["event"]
    if not isinstance(event.get("type"), str):
        return "event type is missing"
    shape = _EVENT_SHAPES.get(event["type"])
    if shape is None:
        return None
    problem = _fields(event, shape, "event ")
    if problem is None and isinstance(event.get("files"), list):
        problem = _each(event["files"], _FILE, "event files")
    return problem


def _interaction_problem(kind: str, body: dict[str, Any], shape: Shape) -> str | None:
    user = body.get("user")
    if not isinstance(user, dict):
        return "user is not an object"
    problem = _fields(user, _USER, "user ") or _fields(body, shape, "")
    if problem is not None:
        return problem
    if kind in ("block_actions", "interactive_message"):
        actions: list[Any] = body["actions"]
        if not actions:
            return "actions are empty"
        shape = _BLOCK_ACTION if kind == "block_actions" else _LEGACY_ACTION
        return _each(actions, shape, "actions")
    if kind in ("view_submission", "view_closed"):
        return _fields(body["view"], _VIEW, "view ")
    return None
