"""``@licensebot question`` in a channel (answered in a thread) and direct messages."""

from __future__ import annotations

from typing import Any

import structlog
from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from handlers.agent import viewed_channel
from handlers.common import (
    AnswerFlow,
    AskRequest,
    context_team,
    received_at,
    request_id,
    slack_to_plain,
)
from handlers.deps import Deps
from handlers.threads import Conversations, Reply, answer_turn

log = structlog.get_logger("licensebot.slack")


def _from_a_person(event: dict[str, Any], context: BoltContext) -> bool:
    """A plain, new message written by a human (no edits, joins, bot posts, our own)."""
    if event.get("subtype") is not None or event.get("bot_id") or "edited" in event:
        return False
    user = event.get("user")
    if not isinstance(user, str) or not user or user == context.bot_user_id:
        return False
    return isinstance(event.get("text"), str) and isinstance(event.get("channel"), str)


def _request(
    event: dict[str, Any], context: BoltContext, surface: str, thread_ts: object
) -> AskRequest:
    """The question a person's message asks, answered in ``thread_ts`` (if a str)."""
    return AskRequest(
        request_id=request_id(context),
        surface=surface,
        question=slack_to_plain(event["text"], bot_user_id=context.bot_user_id),
        user=event["user"],
        channel=event["channel"],
        team=context_team(context),
        thread_ts=thread_ts if isinstance(thread_ts, str) else None,
        started=received_at(context),
    )


def register(app: App, deps: Deps) -> None:
    flow = AnswerFlow(deps)
    conversations = Conversations(deps.conversations)

    def on_app_mention(event: dict[str, Any], context: BoltContext, client: WebClient) -> None:
        # A mention inside a DM is answered by the message listener below.
        if not _from_a_person(event, context) or str(event["channel"]).startswith("D"):
            return
        # Answered in the thread it was asked in, or in a new thread under it.
        root = str(event.get("thread_ts") or event.get("ts"))
        req = _request(event, context, "mention", root)
        conversation = (
            conversations.get(req.team, req.channel, root) if event.get("thread_ts") else None
        )
        answer_turn(flow, conversations, client, req, conversation=conversation, reply=Reply(root))

    def on_message(event: dict[str, Any], context: BoltContext, client: WebClient) -> None:
        # Only direct messages here; channel threads are handlers.followup's.
        if event.get("channel_type") != "im" or not _from_a_person(event, context):
            return
        thread_ts = event.get("thread_ts")
        if deps.agent_view:
            # The agent experience keeps each conversation in a thread of the Messages tab.
            root = str(thread_ts or event.get("ts"))
            req = _request(event, context, "agent", root)
            viewing = viewed_channel(deps.conversations, req.team, req.user)
            extra = {"context_channel": viewing} if viewing else {}
            reply = Reply(root, status=True)
        else:
            req = _request(event, context, "dm", thread_ts)
            extra, reply = {}, Reply(req.thread_ts)
        conversation = (
            conversations.get(req.team, req.channel, str(thread_ts)) if thread_ts else None
        )
        answer_turn(
            flow,
            conversations,
            client,
            req,
            conversation=conversation,
            reply=reply,
            audit_fields=extra,
        )

    app.event("app_mention")(on_app_mention)
    app.event("message")(on_message)
