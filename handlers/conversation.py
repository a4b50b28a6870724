"""``@licensebot question`` in a channel (answered in a thread) and direct messages.

Events are acknowledged before their listener runs; the answer is then posted from the
delivery pool, so a slow ``chat.postMessage`` never holds a thread a command needs.
"""

from __future__ import annotations

from typing import Any

import structlog
from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from handlers.blocks.answer import answer_message
from handlers.blocks.notices import usage_message
from handlers.deps import Deps
from handlers.flow import AnswerFlow
from handlers.replies import apologize, in_background, post_message
from handlers.requests import AskRequest, request_in, slack_to_plain

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
    return request_in(
        context,
        surface=surface,
        question=slack_to_plain(event["text"], bot_user_id=context.bot_user_id),
        user=event["user"],
        channel=event["channel"],
        thread_ts=thread_ts,
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
        self.deps = deps
        self.flow = AnswerFlow(deps)

    def answer_later(self, client: WebClient, req: AskRequest) -> None:
        in_background(
            self.deps,
            lambda: answer_in_conversation(self.flow, client, req),
            request_id=req.request_id,
            surface=req.surface,
        )

    def on_app_mention(
        self, event: dict[str, Any], context: BoltContext, client: WebClient
    ) -> None:
        # A mention inside a DM is answered by the message listener below.
        if not _from_a_person(event, context) or str(event["channel"]).startswith("D"):
            return
        thread_ts = event.get("thread_ts") or event.get("ts")
        self.answer_later(client, _request(event, context, "mention", thread_ts))

    def on_message(self, event: dict[str, Any], context: BoltContext, client: WebClient) -> None:
        # Only direct messages; channel messages reach the bot as app_mention.
        if event.get("channel_type") != "im" or not _from_a_person(event, context):
            return
        thread_ts = event.get("thread_ts")
        self.answer_later(client, _request(event, context, "dm", thread_ts))


def register(app: App, deps: Deps) -> None:
    conversations = Conversations(deps)
    app.event("app_mention")(conversations.on_app_mention)
    app.event("message")(conversations.on_message)
