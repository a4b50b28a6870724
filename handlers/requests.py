"""Who asked what, and where: the request a Slack payload makes, and its reference.

A request id is the bot's one form of reference: a user sees it ("ref 3f9c0a1b2d4e")
and quotes it back; every log line and audit record of the request carries it, on
every surface, the command line included.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from slack_bolt import BoltContext

from handlers.blocks.kit import is_user_id

_SLACK_ENTITY = re.compile(r"<([^<>]*)>")


def new_request_id() -> str:
    """A short reference a user can quote back to us: 12 hex digits (48 random bits)."""
    return secrets.token_hex(6)


def request_id(context: Mapping[str, Any]) -> str:
    rid = context.get("request_id")
    return rid if isinstance(rid, str) else new_request_id()


def received_at(context: Mapping[str, Any]) -> float:
    at = context.get("received_at")
    return float(at) if isinstance(at, int | float) else time.monotonic()


def context_team(context: BoltContext) -> str | None:
    team = context.team_id
    return team if isinstance(team, str) else None


def response_url_of(payload: Mapping[str, Any]) -> str | None:
    """The ``response_url`` of a command or interaction payload, if it has one."""
    url = payload.get("response_url")
    return url if isinstance(url, str) else None


def valid_user_id(value: object) -> str | None:
    return value if isinstance(value, str) and is_user_id(value) else None


def slack_to_plain(text: str, *, bot_user_id: str | None = None) -> str:
    """The words of a Slack-formatted message: mentions of the bot dropped, other
    entities reduced to their label, HTML entities undone, whitespace collapsed."""

    def entity(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            if bot_user_id is not None and target[1:] == bot_user_id:
                return " "
            return "@" + (label or target[1:])
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):
            name = target[1:].split("^")[0]
            return label or "@" + name
        return label or target

    plain = _SLACK_ENTITY.sub(entity, text)
    plain = plain.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(plain.split())


@dataclass(frozen=True)
class AskRequest:
    """One question from one place in Slack."""

    request_id: str
    surface: str  # "mention" | "dm" | "ask" | "post_to_channel" | "timeline" | …
    question: str
    user: str
    channel: str
    team: str | None = None
    thread_ts: str | None = None
    started: float = field(default_factory=time.monotonic)

    def context_fields(self) -> dict[str, Any]:
        return {
            "team": self.team,
            "channel": self.channel,
            "user": self.user,
            "thread_ts": self.thread_ts,
        }

    def elapsed_ms(self) -> float:
        return round((time.monotonic() - self.started) * 1000, 3)


def request_in(
    context: BoltContext,
    *,
    surface: str,
    question: str,
    user: str,
    channel: str,
    thread_ts: object = None,
) -> AskRequest:
    """The request a Slack payload makes: its reference and arrival time come from the
    context the HTTP adapter (or the app's middleware) set; ``thread_ts`` if a str."""
    return AskRequest(
        request_id=request_id(context),
        surface=surface,
        question=question,
        user=user,
        channel=channel,
        team=context_team(context),
        thread_ts=thread_ts if isinstance(thread_ts, str) else None,
        started=received_at(context),
    )
