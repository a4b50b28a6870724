"""The answer message's buttons: Post to channel, Full article, Helpful / Not helpful."""

from __future__ import annotations

import structlog
from slack_bolt import App
from slack_sdk.errors import SlackApiError, SlackClientError

from handlers.blocks.answer import answer_message
from handlers.blocks.article import article_view
from handlers.blocks.notices import notice_message, unavailable_message
from handlers.blocks.refs import (
    ACTION_FEEDBACK_HELPFUL,
    ACTION_FEEDBACK_NOT_HELPFUL,
    ACTION_FULL_ARTICLE,
    ACTION_POST_TO_CHANNEL,
    ArticleRef,
    FeedbackRef,
    ShareRef,
    decode_article,
    decode_feedback,
    decode_share,
)
from handlers.buttons import Button, Click, confirm_posted, post_publicly, tell
from handlers.deps import AuditUnavailable, Deps
from handlers.flow import AnswerFlow
from handlers.replies import api_error, apologize, tell_privately
from handlers.requests import valid_user_id

log = structlog.get_logger("licensebot.slack")

_STALE_BUTTON = "That button no longer works; please ask again."
_SHARE = Button(
    "post_to_channel", "post_to_channel", decode_share, _STALE_BUTTON, lambda ref: ref.question
)
_ARTICLE = Button("full_article", "full_article", decode_article, _STALE_BUTTON)
_FEEDBACK = Button("feedback", "feedback", decode_feedback, _STALE_BUTTON)


class AnswerButtons:
    """The buttons under an answer."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.flow = AnswerFlow(deps)

    def on_post_to_channel(self, ref: ShareRef, click: Click) -> None:
        req, response_url, client = click.req, click.response_url, click.client
        try:
            answer = self.flow.prepare(req, top=ref.top, shared_from=ref.request_id)
        except Exception as exc:
            tell_privately(
                client,
                self.flow.failed(req, exc),
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
        self.flow.finish(req, answer, ts=sent.ts, error=sent.error, via=via)
        if sent.ok:
            confirm_posted(client, response_url)
        else:
            apologize(client, req, response_url=response_url, what="post the answer to the channel")

    def on_full_article(self, ref: ArticleRef, click: Click) -> None:
        req, response_url, client = click.req, click.response_url, click.client
        body = click.body
        snapshot_version = self.deps.kb.kb_version
        article = self.deps.kb.article(ref.doc_id)
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
            self.flow.record_served(
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
            self.flow.refused(req, exc)
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
        self.flow.delivered(
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

    def on_feedback_helpful(self, ref: FeedbackRef, click: Click) -> None:
        self.feedback(ref, click, helpful=True)

    def on_feedback_not_helpful(self, ref: FeedbackRef, click: Click) -> None:
        self.feedback(ref, click, helpful=False)

    def feedback(self, ref: FeedbackRef, click: Click, *, helpful: bool) -> None:
        req, response_url, client = click.req, click.response_url, click.client
        try:
            self.deps.audit.record(
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
            self.flow.refused(req, exc)
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


def register(app: App, deps: Deps) -> None:
    buttons = AnswerButtons(deps)
    app.action(ACTION_POST_TO_CHANNEL)(_SHARE.listener(deps, buttons.on_post_to_channel))
    app.action(ACTION_FULL_ARTICLE)(_ARTICLE.listener(deps, buttons.on_full_article))
    app.action(ACTION_FEEDBACK_HELPFUL)(_FEEDBACK.listener(deps, buttons.on_feedback_helpful))
    app.action(ACTION_FEEDBACK_NOT_HELPFUL)(
        _FEEDBACK.listener(deps, buttons.on_feedback_not_helpful)
    )
