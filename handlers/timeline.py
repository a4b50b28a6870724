"""``/timeline [topic]``: the reported events, privately, with "Show more" and "Post to channel".

The first page rides on the acknowledgement when it is ready within the ack budget,
as for ``/ask`` (and, as there, counts as delivered only if the ack went out in time);
otherwise a placeholder is acknowledged and replaced through ``response_url``.
"Show more" answers privately with the next page (a new ephemeral message: replacing
a page posted in the channel would rewrite a public message); "Post to channel" posts
the page the user was looking at, attributed to them. Both buttons are acked at once
and answered from the delivery pool.

Every page is audited before it is shown (``answer.served``, surface ``timeline`` or
``post_to_channel``) and its delivery after (``answer.delivered``). The served record
carries the whole filtered timeline's quotes, so ``licensebot audit replay`` can
rebuild it from the topic, plus which events the page showed (``offset``,
``page_events``, ``total_events``).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from handlers.blocks import (
    ACTION_TIMELINE_MORE,
    ACTION_TIMELINE_POST,
    TIMELINE_TOPIC_MAX_CHARS,
    Message,
    TimelineRef,
    decode_timeline_ref,
    notice_message,
    timeline_message,
    timeline_page_span,
    timeline_usage_message,
)
from handlers.common import (
    AnswerFlow,
    AskRequest,
    apologize,
    context_team,
    private_payload,
    received_at,
    request_id,
    send_response,
    slack_to_plain,
    tell_privately,
    valid_user_id,
)
from handlers.deps import Deps
from handlers.interaction import (
    QUEUE_FULL,
    Button,
    ack_in_time,
    ack_with,
    acked_then,
    answer_in_ack,
    confirm_posted,
    post_publicly,
    tell,
)
from knowledge.timeline import Timeline

COMMAND = "/timeline"
SURFACE = "timeline"
SHARE_SURFACE = "post_to_channel"
# Slack gives a command 3 s; what is left after this goes to the HTTP round trip.
ACK_BUDGET_S = 2.0
_HELP_WORDS = frozenset({"help", "-h", "--help", "?", "usage"})
_WORKERS = 4
_STALE_BUTTON = "That button no longer works; please run `/timeline` again."


def _topic_of(ref: TimelineRef) -> str:
    return ref.topic or ""


_MORE = Button("timeline_more", SURFACE, decode_timeline_ref, _STALE_BUTTON, _topic_of)
_SHARE = Button("timeline_post", SHARE_SURFACE, decode_timeline_ref, _STALE_BUTTON, _topic_of)


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
        self.answers.record_served(
            req,
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
        except Exception as exc:
            tell(client, req, url, flow.answers.failed(req, exc), replace_original=replace_original)
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
            ack_with(ack, timeline_usage_message())
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
        page = ack_in_time(
            ack,
            flow.answers,
            req,
            future,
            budget_s=ACK_BUDGET_S,
            placeholder=notice_message("Building the timeline…"),
            deferred_event="timeline.deferred",
            finish_later=lambda: finish_later(req, future, response_url, client),
            shed=lambda page: flow.finish(req, page, error=QUEUE_FULL, via="response_url"),
        )
        if page is None:
            return
        answer_in_ack(
            ack,
            context,
            client,
            req,
            page.message(req, shareable=True),
            deps=deps,
            response_url=response_url,
            finish=lambda error, via: flow.finish(req, page, error=error, via=via),
            what="show the timeline",
        )

    def on_show_more(
        body: dict[str, Any],
        action: dict[str, Any],
        context: BoltContext,
        client: WebClient,
    ) -> None:
        clicked = _MORE.read(body, action, context, client)
        if clicked is None:
            return
        ref, req, response_url = clicked

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
        body: dict[str, Any],
        action: dict[str, Any],
        context: BoltContext,
        client: WebClient,
    ) -> None:
        clicked = _SHARE.read(body, action, context, client)
        if clicked is None:
            return
        ref, req, response_url = clicked

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
        sent, via = post_publicly(client, message, req, response_url)
        flow.finish(req, page, ts=sent.ts, error=sent.error, via=via)
        if not sent.ok:
            apologize(client, req, response_url=response_url, what="post the timeline")
            return
        confirm_posted(client, response_url)

    app.command(COMMAND)(on_timeline)
    app.action(ACTION_TIMELINE_MORE)(acked_then(deps, _MORE.surface, on_show_more))
    app.action(ACTION_TIMELINE_POST)(acked_then(deps, _SHARE.surface, on_post_to_channel))
