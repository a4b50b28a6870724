"""Conversations: the threads the bot answered in, and answering a message in one.

``ThreadRegistry`` is the thread registry over the shared store (``Deps.conversations``):
which threads the bot answered in, who asked there, and the turns so far, so a reply
can be combined with what came before (``knowledge.answering.followup``). A store that
cannot be reached loses follow-ups, never answers: mentions and DMs are answered as
self-contained questions and the failure is logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import structlog
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from handlers.blocks.agent import status_arguments
from handlers.blocks.answer import answer_message
from handlers.blocks.notices import notice_message, usage_message
from handlers.deps import Deps, KeyValueStore, StoreUnavailable
from handlers.flow import AnswerFlow
from handlers.replies import apologize, in_background, post_message
from handlers.requests import AskRequest
from knowledge.answering.followup import (
    MAX_QUOTES,
    Conversation,
    Followup,
    FollowupKind,
    Turn,
    resolve_followup,
)
from knowledge.models import Answer

log = structlog.get_logger("licensebot.slack")


def thread_key(team: str | None, channel: str, thread_ts: str) -> str:
    return f"thread:{team or '-'}:{channel}:{thread_ts}"


class ThreadRegistry:
    """The thread registry: ``get`` a conversation, ``record`` a turn of it."""

    def __init__(self, store: KeyValueStore | None) -> None:
        self.store = store

    def get(self, team: str | None, channel: str, thread_ts: str) -> Conversation | None:
        if self.store is None:
            return None
        try:
            raw = self.store.recall(thread_key(team, channel, thread_ts))
        except StoreUnavailable as exc:
            log.error("thread.registry_unavailable", op="recall", error=str(exc))
            return None
        if raw is None:
            return None
        try:
            return Conversation.model_validate_json(raw)
        except ValueError:
            log.warning("thread.registry_unreadable", channel=channel, thread_ts=thread_ts)
            return None

    def record(
        self, req: AskRequest, thread_ts: str, turn: Turn, conversation: Conversation | None = None
    ) -> None:
        """Add ``turn`` to the conversation in ``thread_ts`` of ``req``'s channel; a new one
        (none given, none stored) is ``req.user``'s."""
        if self.store is None:
            return
        base = conversation or self.get(req.team, req.channel, thread_ts)
        if base is None:
            base = Conversation(asker=req.user, channel=req.channel, thread_ts=thread_ts)
        try:
            self.store.remember(
                thread_key(req.team, req.channel, thread_ts),
                base.with_turn(turn).model_dump_json(),
            )
        except StoreUnavailable as exc:
            log.error("thread.registry_unavailable", op="remember", error=str(exc))

    def remember_answer(
        self,
        req: AskRequest,
        thread_ts: str,
        answer: Answer,
        *,
        top: int,
        followup: Followup | None = None,
        conversation: Conversation | None = None,
    ) -> None:
        """``answer`` (to ``followup``, or to ``req`` as asked) as the conversation's next turn."""
        turn = Turn(
            request_id=req.request_id,
            question=followup.question if followup is not None else answer.question,
            kind=followup.kind if followup is not None else FollowupKind.STANDALONE,
            answered=answer.answered,
            top=top,
            skip=followup.skip if followup is not None else 0,
            shown=len(answer.quotes),
            builds_on=followup.builds_on if followup is not None else (),
        )
        self.record(req, thread_ts, turn, conversation)


@dataclass(frozen=True)
class Reply:
    """Where an answer goes: ``thread_ts`` None posts it at the top of the channel (then
    the answer's own message is the thread a follow-up would reply in)."""

    thread_ts: str | None
    # Show the "thinking" status in the thread while looking up (agent messaging surface).
    status: bool = False


def _more_exhausted(followup: Followup) -> bool:
    return followup.kind is FollowupKind.MORE and followup.skip >= MAX_QUOTES


def set_status(client: WebClient, channel: str, thread_ts: str, *, clear: bool = False) -> None:
    """The "thinking" status (cleared with ``clear``); a failure only costs the status."""
    arguments = (
        {"channel_id": channel, "thread_ts": thread_ts, "status": ""}
        if clear
        else status_arguments(channel, thread_ts)
    )
    try:
        client.assistant_threads_setStatus(**arguments)
    except (SlackApiError, SlackClientError, OSError) as exc:
        log.warning("agent.status_failed", channel=channel, thread_ts=thread_ts, error=str(exc))


class Turns:
    """Answering messages as turns of conversations, in the delivery pool."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.flow = AnswerFlow(deps)
        self.threads = ThreadRegistry(deps.conversations)

    def answer_later(
        self,
        client: WebClient,
        req: AskRequest,
        reply: Reply,
        *,
        thread: str | None = None,
        asker_only: bool = False,
        audit_fields: Mapping[str, Any] | None = None,
    ) -> None:
        """In the delivery pool: look up the conversation of ``thread`` (if any) and answer
        ``req`` as its next turn. ``asker_only``: only in a thread the bot answered in, and
        only for the one who asked there (a reply without a mention)."""

        def run() -> None:
            conversation = None
            if thread is not None:
                conversation = self.threads.get(req.team, req.channel, thread)
            if asker_only:
                if conversation is None:
                    return  # a thread the bot has not answered in
                if conversation.asker != req.user:
                    log.info("followup.not_asker", channel=req.channel, thread_ts=thread)
                    return  # anyone else mentions the bot
            self.answer(
                client, req, conversation=conversation, reply=reply, audit_fields=audit_fields
            )

        in_background(self.deps, run, request_id=req.request_id, surface=req.surface)

    def answer(
        self,
        client: WebClient,
        req: AskRequest,
        *,
        conversation: Conversation | None,
        reply: Reply,
        audit_fields: Mapping[str, Any] | None = None,
    ) -> None:
        """Answer ``req`` as a turn of ``conversation`` (None: a new one) and remember it;
        ``audit_fields`` go into the answer's ``answer.served`` record too."""
        flow = self.flow
        if not req.question:
            sent = post_message(
                client, usage_message(), channel=req.channel, thread_ts=reply.thread_ts
            )
            log.info("usage.shown", request_id=req.request_id, surface=req.surface, ok=sent.ok)
            return
        analyzer = flow.deps.kb.snapshot.analyzer
        followup = resolve_followup(
            req.question, conversation.turns if conversation else (), analyzer
        )
        if followup.kind is FollowupKind.NOTHING:
            log.info("followup.ignored", request_id=req.request_id, surface=req.surface)
            return
        if _more_exhausted(followup):
            message = notice_message(f"That's every quote I have for “{followup.question}”.")
            post_message(client, message, channel=req.channel, thread_ts=reply.thread_ts)
            log.info("followup.no_more", request_id=req.request_id, builds_on=followup.builds_on)
            return
        if reply.status and reply.thread_ts is not None:
            set_status(client, req.channel, reply.thread_ts)
        top = flow.deps.top_k + followup.skip if followup.kind is FollowupKind.MORE else None
        asked = replace(req, question=followup.question)
        extra: dict[str, Any] = dict(audit_fields or {})
        if followup.rewritten:
            extra |= {
                "asked": followup.asked,
                "followup": followup.kind.value,
                "builds_on": list(followup.builds_on),
            }
        try:
            answer = flow.prepare(
                asked, top=min(top, MAX_QUOTES) if top else None, skip=followup.skip, **extra
            )
        except Exception as exc:
            post_message(
                client, flow.failed(req, exc), channel=req.channel, thread_ts=reply.thread_ts
            )
            if reply.status and reply.thread_ts is not None:
                set_status(client, req.channel, reply.thread_ts, clear=True)
            return
        if followup.kind is FollowupKind.MORE and not answer.quotes:
            message = notice_message(f"That's every quote I have for “{followup.question}”.")
        else:
            message = answer_message(
                answer,
                request_id=req.request_id,
                top=top or flow.deps.top_k,
                answering=followup.question if followup.rewritten else None,
                asked=followup.asked if followup.rewritten else None,
            )
        sent = post_message(client, message, channel=req.channel, thread_ts=reply.thread_ts)
        root_ts = reply.thread_ts or sent.ts
        if sent.ok and root_ts is not None:
            # Remembered before the delivery is recorded: once that is logged, a follow-up
            # in the thread (to any process) finds this turn.
            self.threads.remember_answer(
                req,
                root_ts,
                answer,
                top=top or flow.deps.top_k,
                followup=followup,
                conversation=conversation,
            )
        flow.finish(asked, answer, ts=sent.ts, error=sent.error)
        if not sent.ok:
            if reply.status and reply.thread_ts is not None:
                set_status(client, req.channel, reply.thread_ts, clear=True)
            apologize(client, req)
