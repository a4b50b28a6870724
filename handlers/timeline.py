"""``/timeline [topic]``: the reported events, privately, with "Show more" and "Post to channel".

The first page rides on the acknowledgement when it is ready within the ack budget,
as for ``/ask``; otherwise a placeholder is acknowledged and replaced through
``response_url``. "Show more" answers privately with the next page (a new ephemeral
message: replacing a page posted in the channel would rewrite a public message);
"Post to channel" posts the page the user was looking at, attributed to them.

Every page is audited before it is shown (``answer.served``, surface ``timeline`` or
``post_to_channel``) and its delivery after (``answer.delivered``). The served record
carries the whole filtered timeline's quotes, so ``licensebot audit replay`` can
rebuild it from the topic, plus which events the page showed (``offset``,
``page_events``, ``total_events``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

import structlog
from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from handlers.blocks import (
    ACTION_TIMELINE_MORE,
    ACTION_TIMELINE_POST,
    TIMELINE_TOPIC_MAX_CHARS,
    Message,
    decode_timeline_ref,
    failure_message,
    notice_message,
    timeline_message,
    timeline_page_span,
    timeline_usage_message,
    unavailable_message,
)
from handlers.common import (
    AnswerFlow,
    AskRequest,
    Delivered,
    apologize,
    context_team,
    post_message,
    private_payload,
    received_at,
    request_id,
    send_response,
    slack_to_plain,
    tell_privately,
    valid_user_id,
)
from handlers.deps import AuditUnavailable, Deps
from knowledge.timeline import Timeline

COMMAND = "/timeline"
SURFACE = "timeline"
SHARE_SURFACE = "post_to_channel"
# Slack gives a command 3 s; what is left after this goes to the HTTP round trip.
ACK_BUDGET_S = 2.0
_HELP_WORDS = frozenset({"help", "-h", "--help", "?", "usage"})
_WORKERS = 4
# chat.postMessage cannot reach a conversation the bot is not in; response_url can.
_NOT_A_MEMBER = frozenset({"not_in_channel", "channel_not_found"})
_STALE_BUTTON = "That button no longer works; please run `/timeline` again."

log = structlog.get_logger("licensebot.slack")


@dataclass(frozen=True)
class TimelinePage:
    """A timeline and the event its page starts at, already audited as served."""

    timeline: Timeline
    offset: int
    truncated: bool = False
    note: str | None = None

    def message(self, req: AskRequest, *, shareable: bool, asked_by: str | None = None) -> Message:
        return timeline_message(
            self.timeline,
            request_id=req.request_id,
            offset=self.offset,
            shareable=shareable,
            asked_by=asked_by,
            note=self.note,
            truncated=self.truncated,
        )


def _topic(text: str) -> tuple[str | None, bool]:
    """The topic words (None: every event) and whether they had to be shortened."""
    topic = slack_to_plain(text)
    if len(topic) <= TIMELINE_TOPIC_MAX_CHARS:
        return topic or None, False
    cut = topic[:TIMELINE_TOPIC_MAX_CHARS]
    space = cut.rfind(" ")
    return (cut[:space] if space > TIMELINE_TOPIC_MAX_CHARS // 2 else cut).strip(), True


def _start(timeline: Timeline, offset: int) -> tuple[int, bool]:
    """Where the page starts, and whether ``offset`` was past the end (then: the start)."""
    if offset < len(timeline.events):
        return offset, False
    return 0, bool(timeline.events)


def _changed_note(old: str, new: str, *, restarted: bool, what: str) -> str:
    note = (
        f"The knowledge base changed since {what} (kb {old[:8]} → {new[:8]}); "
        "this is the current version's page"
    )
    return note + (", from the first event: it has fewer events now." if restarted else ".")


class TimelineFlow:
    """Timeline → audit ``answer.served`` → (caller delivers) → ``AnswerFlow.delivered``."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.answers = AnswerFlow(deps)

    def serve(
        self,
        req: AskRequest,
        topic: str | None,
        offset: int = 0,
        *,
        truncated: bool = False,
        expected_version: str | None = None,
        what: str = "the previous page",
        **extra: Any,
    ) -> TimelinePage:
        """The page at ``offset``, durably audited. Raises ``AuditUnavailable``."""
        timeline = self.deps.kb.timeline(topic)
        start, restarted = _start(timeline, offset)
        note: str | None = None
        if expected_version is not None and expected_version != timeline.kb_version:
            note = _changed_note(
                expected_version, timeline.kb_version, restarted=restarted, what=what
            )
        elif restarted:
            note = "The timeline has fewer events than that page needs; here it is from the start."
        first, end = timeline_page_span(timeline, start)
        self.deps.audit.record(
            "answer.served",
            request_id=req.request_id,
            surface=req.surface,
            latency_ms=req.elapsed_ms(),
            **req.context_fields(),
            question=timeline.topic,
            answered=bool(timeline.events),
            reason=timeline.reason,
            truncated=truncated,
            kb_version=timeline.kb_version,
            top=None,
            quotes=timeline.audit_quotes(),
            content="timeline",
            offset=first,
            page_events=end - first,
            total_events=len(timeline.events),
            **extra,
        )
        return TimelinePage(timeline, first, truncated=truncated, note=note)

    def finish(
        self,
        req: AskRequest,
        page: TimelinePage,
        *,
        ts: str | None = None,
        error: str | None = None,
        via: str,
    ) -> None:
        self.answers.delivered(
            req,
            ts=ts,
            error=error,
            via=via,
            log_event="timeline.served",
            topic=page.timeline.topic,
            events=len(page.timeline.events),
            offset=page.offset,
            kb_version=page.timeline.kb_version,
        )


def _ack_with(ack: Ack, message: Message) -> None:
    ack(text=message.text, blocks=message.blocks, response_type="ephemeral")


def _click(
    body: dict[str, Any], context: BoltContext, surface: str, question: str
) -> tuple[AskRequest, str | None]:
    container = body.get("container") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id") or ""
    thread_ts = container.get("thread_ts")
    response_url = body.get("response_url")
    req = AskRequest(
        request_id=request_id(context),
        surface=surface,
        question=question,
        user=str((body.get("user") or {}).get("id") or ""),
        channel=str(channel),
        team=context_team(context),
        thread_ts=thread_ts if isinstance(thread_ts, str) else None,
        started=received_at(context),
    )
    return req, response_url if isinstance(response_url, str) else None


def _tell(
    client: WebClient,
    req: AskRequest,
    response_url: str | None,
    message: Message,
    *,
    replace_original: bool = False,
) -> None:
    sent = tell_privately(
        client,
        message,
        channel=req.channel,
        user=req.user,
        response_url=response_url,
        thread_ts=req.thread_ts,
        replace_original=replace_original,
    )
    if not sent.ok:
        log.error(
            "delivery.failed",
            request_id=req.request_id,
            surface=req.surface,
            channel=req.channel,
            error=sent.error,
            via="notice",
        )


def _post_publicly(
    client: WebClient, message: Message, req: AskRequest, response_url: str | None
) -> tuple[Delivered, str]:
    """chat.postMessage, or ``response_url`` in_channel where the bot is not a member."""
    sent = post_message(client, message, channel=req.channel, thread_ts=req.thread_ts)
    if sent.ok or sent.error not in _NOT_A_MEMBER or response_url is None:
        return sent, "chat.postMessage"
    public = {"response_type": "in_channel", "replace_original": False, **message.as_payload()}
    retry = send_response(client, response_url, public)
    if retry.ok:
        return retry, "response_url"
    return Delivered(ok=False, error=f"{sent.error}; {retry.error}"), "response_url"


def register(app: App, deps: Deps) -> None:
    flow = TimelineFlow(deps)
    # Pages are built here so the command listener can stop waiting at the ack budget.
    pool = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="timeline-page")

    def served_or_refused(
        req: AskRequest,
        serve: Callable[[], TimelinePage],
        client: WebClient,
        url: str | None,
        *,
        replace_original: bool = False,
    ) -> TimelinePage | None:
        """``serve()``; when it fails the user is told privately with the reference."""
        try:
            return serve()
        except AuditUnavailable as exc:
            flow.answers.refused(req, exc)
            message = unavailable_message(req.request_id)
        except Exception as exc:
            flow.answers.report_error(req, exc)
            message = failure_message(req.request_id)
        _tell(client, req, url, message, replace_original=replace_original)
        return None

    def finish_later(
        req: AskRequest, future: Future[TimelinePage], response_url: str | None, client: WebClient
    ) -> None:
        page = served_or_refused(req, future.result, client, response_url, replace_original=True)
        if page is None:
            return
        if response_url is None:
            flow.finish(req, page, error="no_response_url", via="response_url")
            apologize(client, req, what="show the timeline")
            return
        message = page.message(req, shareable=True)
        sent = send_response(client, response_url, private_payload(message, replace_original=True))
        flow.finish(req, page, error=sent.error, via="response_url")
        if not sent.ok:
            apologize(client, req, what="show the timeline")

    def on_timeline(
        ack: Ack, command: dict[str, Any], context: BoltContext, client: WebClient
    ) -> None:
        topic, truncated = _topic(str(command.get("text") or ""))
        if topic is not None and topic.lower() in _HELP_WORDS:
            _ack_with(ack, timeline_usage_message())
            return
        req = AskRequest(
            request_id=request_id(context),
            surface=SURFACE,
            question=topic or "",
            user=str(command.get("user_id") or ""),
            channel=str(command.get("channel_id") or ""),
            team=context_team(context),
            started=received_at(context),
        )
        response_url = command.get("response_url")
        response_url = response_url if isinstance(response_url, str) else None
        future = pool.submit(flow.serve, req, topic, truncated=truncated)
        budget = max(0.05, ACK_BUDGET_S - (time.monotonic() - req.started))
        try:
            page = future.result(timeout=budget)
        except FutureTimeout:
            _ack_with(ack, notice_message("Building the timeline…"))
            log.info("timeline.deferred", request_id=req.request_id, budget_s=round(budget, 3))
            finish_later(req, future, response_url, client)
            return
        except AuditUnavailable as exc:
            flow.answers.refused(req, exc)
            _ack_with(ack, unavailable_message(req.request_id))
            return
        except Exception as exc:
            flow.answers.report_error(req, exc)
            _ack_with(ack, failure_message(req.request_id))
            return
        _ack_with(ack, page.message(req, shareable=True))
        flow.finish(req, page, via="ack")

    def on_show_more(
        ack: Ack,
        body: dict[str, Any],
        action: dict[str, Any],
        context: BoltContext,
        client: WebClient,
    ) -> None:
        ack()
        try:
            ref = decode_timeline_ref(str(action.get("value")))
        except ValueError:
            req, response_url = _click(body, context, SURFACE, "")
            log.warning("action.bad_value", request_id=req.request_id, action="timeline_more")
            _tell(client, req, response_url, notice_message(_STALE_BUTTON))
            return
        req, response_url = _click(body, context, SURFACE, ref.topic or "")

        def serve() -> TimelinePage:
            return flow.serve(
                req, ref.topic, ref.offset, expected_version=ref.kb_version, page_of=ref.request_id
            )

        page = served_or_refused(req, serve, client, response_url)
        if page is None:
            return
        sent = tell_privately(
            client,
            page.message(req, shareable=True),
            channel=req.channel,
            user=req.user,
            response_url=response_url,
            thread_ts=req.thread_ts,
        )
        # Only chat.postEphemeral (the fallback when response_url fails) returns a ts.
        via = (
            "chat.postEphemeral" if sent.ts is not None or response_url is None else "response_url"
        )
        flow.finish(req, page, ts=sent.ts, error=sent.error, via=via)
        if not sent.ok:
            apologize(client, req, what="show more of the timeline")

    def on_post_to_channel(
        ack: Ack,
        body: dict[str, Any],
        action: dict[str, Any],
        context: BoltContext,
        client: WebClient,
    ) -> None:
        ack()
        try:
            ref = decode_timeline_ref(str(action.get("value")))
        except ValueError:
            req, response_url = _click(body, context, SHARE_SURFACE, "")
            log.warning("action.bad_value", request_id=req.request_id, action="timeline_post")
            _tell(client, req, response_url, notice_message(_STALE_BUTTON))
            return
        req, response_url = _click(body, context, SHARE_SURFACE, ref.topic or "")

        def serve() -> TimelinePage:
            return flow.serve(
                req,
                ref.topic,
                ref.offset,
                expected_version=ref.kb_version,
                what="it was shown to you",
                shared_from=ref.request_id,
            )

        page = served_or_refused(req, serve, client, response_url)
        if page is None:
            return
        message = page.message(req, shareable=False, asked_by=valid_user_id(req.user))
        sent, via = _post_publicly(client, message, req, response_url)
        flow.finish(req, page, ts=sent.ts, error=sent.error, via=via)
        if not sent.ok:
            apologize(client, req, response_url=response_url, what="post the timeline")
            return
        if response_url is not None:
            send_response(
                client,
                response_url,
                private_payload(notice_message("Posted to the channel."), replace_original=True),
            )

    app.command(COMMAND)(on_timeline)
    app.action(ACTION_TIMELINE_MORE)(on_show_more)
    app.action(ACTION_TIMELINE_POST)(on_post_to_channel)
