"""The answer message's buttons: Post to channel, Full article, Helpful / Not helpful."""

from __future__ import annotations

from typing import Any

import structlog
from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from handlers.blocks import (
    ACTION_FEEDBACK_HELPFUL,
    ACTION_FEEDBACK_NOT_HELPFUL,
    ACTION_FULL_ARTICLE,
    ACTION_POST_TO_CHANNEL,
    answer_message,
    article_view,
    decode_article,
    decode_feedback,
    decode_share,
    notice_message,
    unavailable_message,
)
from handlers.common import (
    AnswerFlow,
    api_error,
    apologize,
    tell_privately,
    valid_user_id,
)
from handlers.deps import AuditUnavailable, Deps
from handlers.interaction import Button, acked_then, confirm_posted, post_publicly, tell

log = structlog.get_logger("licensebot.slack")

_STALE_BUTTON = "That button no longer works; please ask again."
_SHARE = Button(
    "post_to_channel", "post_to_channel", decode_share, _STALE_BUTTON, lambda ref: ref.question
)
_ARTICLE = Button("full_article", "full_article", decode_article, _STALE_BUTTON)
_FEEDBACK = Button("feedback", "feedback", decode_feedback, _STALE_BUTTON)


def register(app: App, deps: Deps) -> None:
    flow = AnswerFlow(deps)

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
        try:
            answer = flow.prepare(req, top=ref.top, shared_from=ref.request_id)
        except Exception as exc:
            tell_privately(
                client,
                flow.failed(req, exc),
                channel=req.channel,
                user=req.user,
                response_url=response_url,
            )
            return
        note = None
        if answer.kb_version != ref.kb_version:
            note = "The knowledge base changed after this was asked; this is the current answer."
        message = answer_message(
            answer,
            request_id=req.request_id,
            top=ref.top,
            asked_by=valid_user_id(req.user),
            note=note,
        )
        sent, via = post_publicly(client, message, req, response_url)
        flow.finish(req, answer, ts=sent.ts, error=sent.error, via=via)
        if sent.ok:
            confirm_posted(client, response_url)
        else:
            apologize(client, req, response_url=response_url, what="post the answer to the channel")

    def on_full_article(
        body: dict[str, Any],
        action: dict[str, Any],
        context: BoltContext,
        client: WebClient,
    ) -> None:
        clicked = _ARTICLE.read(body, action, context, client)
        if clicked is None:
            return
        ref, req, response_url = clicked
        snapshot_version = deps.kb.kb_version
        article = deps.kb.article(ref.doc_id)
        if article is None:
            tell(
                client,
                req,
                response_url,
                notice_message("That article is no longer in the knowledge base."),
            )
            return
        same = ref.kb_version == snapshot_version
        note = (
            None
            if same
            else (
                "The knowledge base changed after this answer, so the quoted passage is not marked."
            )
        )
        view = article_view(
            article, start=ref.start if same else None, end=ref.end if same else None, note=note
        )
        try:
            flow.record_served(
                req,
                question=None,
                answered=True,
                reason=None,
                truncated=False,
                kb_version=snapshot_version,
                top=None,
                quotes=[
                    {
                        "doc_id": article.doc_id,
                        "start": 0,
                        "end": len(article.text),
                        "marked_start": ref.start if same else None,
                        "marked_end": ref.end if same else None,
                    }
                ],
            )
        except AuditUnavailable as exc:
            flow.refused(req, exc)
            tell_privately(
                client,
                unavailable_message(req.request_id),
                channel=req.channel,
                user=req.user,
                response_url=response_url,
            )
            return
        trigger_id = body.get("trigger_id")
        error: str | None = None
        view_id: str | None = None
        try:
            opened = client.views_open(trigger_id=str(trigger_id), view=view)
            view_id = (opened.get("view") or {}).get("id")
        except SlackApiError as exc:
            error = api_error(exc)
        except (SlackClientError, OSError) as exc:
            error = type(exc).__name__
        flow.delivered(
            req,
            ts=view_id,
            error=error,
            via="views.open",
            log_event="article.shown",
            doc_id=article.doc_id,
            kb_version=snapshot_version,
        )
        if error is not None:
            apologize(client, req, response_url=response_url, what="open the article")

    def feedback(helpful: bool) -> Any:
        def on_feedback(
            body: dict[str, Any],
            action: dict[str, Any],
            context: BoltContext,
            client: WebClient,
        ) -> None:
            clicked = _FEEDBACK.read(body, action, context, client)
            if clicked is None:
                return
            ref, req, response_url = clicked
            try:
                deps.audit.record(
                    "answer.feedback",
                    request_id=ref.request_id,
                    feedback_id=req.request_id,
                    helpful=helpful,
                    **req.context_fields(),
                    kb_version=ref.kb_version,
                    answered=ref.answered,
                    passage_ids=list(ref.passage_ids),
                    question=ref.question,
                )
            except AuditUnavailable as exc:
                flow.refused(req, exc)
                tell(
                    client,
                    req,
                    response_url,
                    notice_message(
                        f"I couldn't record your feedback right now (ref {req.request_id})."
                    ),
                )
                return
            log.info(
                "feedback.recorded",
                request_id=ref.request_id,
                feedback_id=req.request_id,
                user=req.user,
                channel=req.channel,
                helpful=helpful,
                passage_ids=list(ref.passage_ids),
            )
            verdict = "helpful" if helpful else "not helpful"
            tell(
                client,
                req,
                response_url,
                notice_message(f"Thanks — I noted that this answer was {verdict}."),
            )

        on_feedback.__name__ = "on_feedback_helpful" if helpful else "on_feedback_not_helpful"
        return acked_then(deps, _FEEDBACK.surface, on_feedback)

    app.action(ACTION_POST_TO_CHANNEL)(acked_then(deps, _SHARE.surface, on_post_to_channel))
    app.action(ACTION_FULL_ARTICLE)(acked_then(deps, _ARTICLE.surface, on_full_article))
    app.action(ACTION_FEEDBACK_HELPFUL)(feedback(True))
    app.action(ACTION_FEEDBACK_NOT_HELPFUL)(feedback(False))
