"""``@licensebot question`` in a channel (answered in a thread) and direct messages."""

from __future__ import annotations

from typing import Any

import structlog
from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from handlers.blocks.answer import answer_message
from handlers.blocks.notices import usage_message
from handlers.deps import Deps
from handlers.flow import AnswerFlow
from handlers.replies import apologize, post_message
from handlers.requests import AskRequest, context_team, received_at, request_id, slack_to_plain

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


def answer_in_conversation(flow: AnswerFlow, client: WebClient, req: AskRequest) -> None:
    """Answer ``req`` in its channel/thread: usage, answer, or a referenced apology."""
    if not req.question:
        sent = post_message(client, usage_message(), channel=req.channel, thread_ts=req.thread_ts)
        log.info("usage.shown", request_id=req.request_id, surface=req.surface, ok=sent.ok)
        return
    try:
        answer = flow.prepare(req)
    except Exception as exc:
        post_message(client, flow.failed(req, exc), channel=req.channel, thread_ts=req.thread_ts)
        return
    message = answer_message(answer, request_id=req.request_id, top=flow.deps.top_k)
    sent = post_message(client, message, channel=req.channel, thread_ts=req.thread_ts)
    flow.finish(req, answer, ts=sent.ts, error=sent.error)
    if not sent.ok:
        apologize(client, req)


class Conversations:
    """Questions in conversation: an @mention in a channel (answered in its thread) and
    a direct message to the bot."""

    def __init__(self, deps: Deps) -> None:
        self.flow = AnswerFlow(deps)

    def on_app_mention(
        self, event: dict[str, Any], context: BoltContext, client: WebClient
    ) -> None:
        # A mention inside a DM is answered by the message listener below.
        if not _from_a_person(event, context) or str(event["channel"]).startswith("D"):
            return
        thread_ts = event.get("thread_ts") or event.get("ts")
        answer_in_conversation(self.flow, client, _request(event, context, "mention", thread_ts))

    def on_message(self, event: dict[str, Any], context: BoltContext, client: WebClient) -> None:
        # Only direct messages; channel messages reach the bot as app_mention.
        if event.get("channel_type") != "im" or not _from_a_person(event, context):
            return
        thread_ts = event.get("thread_ts")
        answer_in_conversation(self.flow, client, _request(event, context, "dm", thread_ts))


def register(app: App, deps: Deps) -> None:
    conversations = Conversations(deps)
    app.event("app_mention")(conversations.on_app_mention)
    app.event("message")(conversations.on_message)
