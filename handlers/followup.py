"""Replies in channel threads where the bot answered: the asker needs no @mention.

Slack sends every message of the channels the bot is in (``message.channels``,
``message.groups``). This listener takes only replies in a thread (``thread_ts`` set,
not the thread's root), written by a person, without a mention of the bot (those come
as ``app_mention`` too and are answered there, once). Of those it answers the ones in
a thread the bot answered in, written by the person who asked there; every other
message is dropped without a word.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from handlers.deps import Deps
from handlers.requests import request_in, slack_to_plain
from handlers.threads import Reply, Turns

CHANNEL_TYPES = frozenset({"channel", "group"})


def is_thread_reply(event: dict[str, Any], context: BoltContext) -> bool:
    """A person's plain reply in a channel thread, not mentioning the bot."""
    if event.get("channel_type") not in CHANNEL_TYPES:
        return False
    if event.get("subtype") is not None or event.get("bot_id") or "edited" in event:
        return False
    thread_ts, ts = event.get("thread_ts"), event.get("ts")
    if not isinstance(thread_ts, str) or not thread_ts or thread_ts == ts:
        return False
    user, text = event.get("user"), event.get("text")
    if not isinstance(user, str) or not user or user == context.bot_user_id:
        return False
    if not isinstance(text, str) or not isinstance(event.get("channel"), str):
        return False
    return not (context.bot_user_id and f"<@{context.bot_user_id}" in text)


class ThreadReplies:
    """Replies in channel threads: answered for the asker of a thread the bot is in."""

    def __init__(self, deps: Deps) -> None:
        self.turns = Turns(deps)

    def is_thread_reply(self, event: dict[str, Any], context: BoltContext) -> bool:
        return is_thread_reply(event, context)

    def on_thread_reply(
        self, event: dict[str, Any], context: BoltContext, client: WebClient
    ) -> None:
        thread = str(event["thread_ts"])
        req = request_in(
            context,
            surface="thread",
            question=slack_to_plain(event["text"], bot_user_id=context.bot_user_id),
            user=event["user"],
            channel=event["channel"],
            thread_ts=thread,
        )
        self.turns.answer_later(client, req, Reply(thread), thread=thread, asker_only=True)


def register(app: App, deps: Deps) -> None:
    replies = ThreadReplies(deps)
    app.event("message", matchers=[replies.is_thread_reply])(replies.on_thread_reply)
