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
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from handlers.blocks.kit import Message
from handlers.blocks.refs import (
    ACTION_TIMELINE_MORE,
    ACTION_TIMELINE_POST,
    TimelineRef,
    decode_timeline_ref,
)
from handlers.blocks.timeline import (
    TIMELINE_TOPIC_MAX_CHARS,
    timeline_message,
    timeline_page_span,
    timeline_usage_message,
)
from handlers.buttons import Button, Click, confirm_posted, post_publicly, tell
from handlers.commands import DeferredCommand, ack_with, is_help
from handlers.deps import Deps
from handlers.flow import AnswerFlow
from handlers.replies import apologize, tell_privately
from handlers.requests import AskRequest, slack_to_plain, valid_user_id
from knowledge.answering.timeline import Timeline

COMMAND = "/timeline"
SURFACE = "timeline"
SHARE_SURFACE = "post_to_channel"
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


class TimelinePages:
    """Timeline page → audit ``answer.served`` → (caller delivers) → ``AnswerFlow.delivered``."""

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
            **timeline.audit_fields(truncated=truncated),
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


class TimelineCommand(DeferredCommand[TimelinePage]):
    """``/timeline [topic]``: the first page, privately."""

    surface = SURFACE
    placeholder = "Building the timeline…"
    deferred_event = "timeline.deferred"
    what = "show the timeline"

    def __init__(self, pages: TimelinePages) -> None:
        super().__init__(pages.answers, workers=_WORKERS, thread_name="timeline-page")
        self.pages = pages

    def on_command(
        self, ack: Ack, command: dict[str, Any], context: BoltContext, client: WebClient
    ) -> None:
        topic, truncated = _topic(str(command.get("text") or ""))
        if topic is not None and is_help(topic):
            ack_with(ack, timeline_usage_message())
            return

        def serve(req: AskRequest) -> TimelinePage:
            return self.pages.serve(req, topic, truncated=truncated)

        self.respond(ack, command, context, client, question=topic or "", serve=serve)

    def reply(self, req: AskRequest, value: TimelinePage) -> Message:
        return value.message(req, shareable=True)

    def finish(self, req: AskRequest, value: TimelinePage, *, error: str | None, via: str) -> None:
        self.pages.finish(req, value, error=error, via=via)

    def failed_later(
        self, client: WebClient, req: AskRequest, response_url: str | None, exc: Exception
    ) -> None:
        tell(client, req, response_url, self.flow.failed(req, exc), replace_original=True)


class TimelineButtons:
    """ "Show more" (the next page, privately) and "Post to channel" (this page, publicly)."""

    def __init__(self, pages: TimelinePages) -> None:
        self.pages = pages

    def _served(
        self,
        req: AskRequest,
        serve: Callable[[], TimelinePage],
        client: WebClient,
        response_url: str | None,
    ) -> TimelinePage | None:
        """``serve()``; when it fails the user is told privately with the reference."""
        try:
            return serve()
        except Exception as exc:
            tell(client, req, response_url, self.pages.answers.failed(req, exc))
            return None

    def on_show_more(self, ref: TimelineRef, click: Click) -> None:
        req, response_url, client = click.req, click.response_url, click.client

        def serve() -> TimelinePage:
            return self.pages.serve(
                req, ref.topic, ref.offset, expected_version=ref.kb_version, page_of=ref.request_id
            )

        page = self._served(req, serve, client, response_url)
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
        self.pages.finish(req, page, ts=sent.ts, error=sent.error, via=via)
        if not sent.ok:
            apologize(client, req, what="show more of the timeline")

    def on_post_to_channel(self, ref: TimelineRef, click: Click) -> None:
        req, response_url, client = click.req, click.response_url, click.client

        def serve() -> TimelinePage:
            return self.pages.serve(
                req,
                ref.topic,
                ref.offset,
                expected_version=ref.kb_version,
                what="it was shown to you",
                shared_from=ref.request_id,
            )

        page = self._served(req, serve, client, response_url)
        if page is None:
            return
        message = page.message(req, shareable=False, asked_by=valid_user_id(req.user))
        sent, via = post_publicly(client, message, req, response_url)
        self.pages.finish(req, page, ts=sent.ts, error=sent.error, via=via)
        if not sent.ok:
            apologize(client, req, response_url=response_url, what="post the timeline")
            return
        confirm_posted(client, response_url)


def register(app: App, deps: Deps) -> None:
    pages = TimelinePages(deps)
    buttons = TimelineButtons(pages)
    app.command(COMMAND)(TimelineCommand(pages).on_command)
    app.action(ACTION_TIMELINE_MORE)(_MORE.listener(deps, buttons.on_show_more))
    app.action(ACTION_TIMELINE_POST)(_SHARE.listener(deps, buttons.on_post_to_channel))
