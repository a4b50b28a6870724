"""``@licensebot question`` in a channel (answered in a thread) and direct messages.

Both are turns of a conversation (``handlers.threads``): a mention in a thread the bot
answered in, and a reply in a DM thread, are combined with what was asked before. With
``Deps.agent_view`` (Slack's agent messaging experience) every direct message is
answered in its own thread, with the "thinking" status while the answer is looked up,
and the audit record names the channel the user was looking at.
"""

from __future__ import annotations

from typing import Any

import structlog
from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from handlers.agent import viewed_channel
from handlers.deps import Deps
from handlers.requests import AskRequest, request_in, slack_to_plain
from handlers.threads import Reply, Turns

log = structlog.get_logger("licensebot.slack")


def from_a_person(event: dict[str, Any], context: BoltContext) -> bool:
    """A plain, new message written by a human (no edits, joins, bot posts, our own)."""
    if event.get("subtype") is not None or event.get("bot_id") or "edited" in event:
        return False
    user = event.get("user")
    if not isinstance(user, str) or not user or user == context.bot_user_id:
        return False
    return isinstance(event.get("text"), str) and isinstance(event.get("channel"), str)


def request_of(
    event: dict[str, Any], context: BoltContext, surface: str, thread_ts: object
) -> AskRequest:
    """The question a person's message asks, answered in ``thread_ts`` (if a str)."""
    return request_in(
        context,
        surface=surface,
        question=slack_to_plain(event["text"], bot_user_id=context.bot_user_id),
        user=event["user"],
        channel=event["channel"],
        thread_ts=thread_ts,
    )


class Conversations:
    """Questions in conversation: an @mention in a channel (answered in its thread) and
    a direct message to the bot."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.turns = Turns(deps)

    def on_app_mention(
        self, event: dict[str, Any], context: BoltContext, client: WebClient
    ) -> None:
        # A mention inside a DM is answered by the message listener below.
        if not from_a_person(event, context) or str(event["channel"]).startswith("D"):
            return
        # Answered in the thread it was asked in, or in a new thread under it.
        root = str(event.get("thread_ts") or event.get("ts"))
        req = request_of(event, context, "mention", root)
        thread = root if event.get("thread_ts") else None
        self.turns.answer_later(client, req, Reply(root), thread=thread)

    def on_message(self, event: dict[str, Any], context: BoltContext, client: WebClient) -> None:
        # Only direct messages here; replies in channel threads are handlers.followup's.
        if event.get("channel_type") != "im" or not from_a_person(event, context):
            return
        thread_ts = event.get("thread_ts")
        thread = str(thread_ts) if thread_ts else None
        if not self.deps.agent_view:
            req = request_of(event, context, "dm", thread_ts)
            self.turns.answer_later(client, req, Reply(req.thread_ts), thread=thread)
            return
        # The agent experience keeps each conversation in a thread of the Messages tab.
        root = str(thread_ts or event.get("ts"))
        req = request_of(event, context, "agent", root)
        viewing = viewed_channel(self.deps.conversations, req.team, req.user)
        self.turns.answer_later(
            client,
            req,
            Reply(root, status=True),
            thread=thread,
            audit_fields={"context_channel": viewing} if viewing else None,
        )


def register(app: App, deps: Deps) -> None:
    conversations = Conversations(deps)
    app.event("app_mention")(conversations.on_app_mention)
    app.event("message")(conversations.on_message)
