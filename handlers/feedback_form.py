""" "Not helpful": recorded at once, then a small form (``views.open``) asks why.

The click is audited as ``answer.feedback`` (``helpful: false``) whether or not the form
is sent, so dismissing it loses nothing. A submitted form is audited as
``answer.feedback_reason`` with the answer's request id, the click's feedback id, the
reason (wrong_quote, outdated, article_missing, other) and the comment; "other" needs
a comment. The gaps digest reads both.
"""

from __future__ import annotations

from typing import Any

import structlog
from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from handlers.answer_buttons import FEEDBACK, AnswerButtons
from handlers.blocks.feedback import (
    COMMENT_BLOCK,
    REASONS,
    VIEW_FEEDBACK,
    FeedbackForm,
    decode_form,
    feedback_modal,
    submitted,
)
from handlers.blocks.notices import notice_message
from handlers.blocks.refs import ACTION_FEEDBACK_NOT_HELPFUL, FeedbackRef
from handlers.buttons import Click, tell
from handlers.deps import AuditUnavailable, Deps
from handlers.replies import in_background, open_view, post_ephemeral
from handlers.requests import request_id

log = structlog.get_logger("licensebot.slack")

NOTED = "Thanks — I noted that this answer was not helpful."


class FeedbackForms:
    """The "Not helpful" button and the form it opens."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.buttons = AnswerButtons(deps)

    def on_feedback_not_helpful(self, ref: FeedbackRef, click: Click) -> None:
        req, response_url, client = click.req, click.response_url, click.client
        if not self.buttons.record_feedback(ref, click, helpful=False):
            return
        form = FeedbackForm(
            request_id=ref.request_id,
            feedback_id=req.request_id,
            channel=req.channel,
            user=req.user,
            kb_version=ref.kb_version,
        )
        opened = open_view(client, click.body.get("trigger_id"), feedback_modal(form, ref.question))
        if not opened.ok:
            # The feedback is recorded; only the reason cannot be asked for.
            log.warning("feedback.form_failed", feedback_id=req.request_id, error=opened.error)
            tell(client, req, response_url, notice_message(NOTED))
            return
        log.info("feedback.form_opened", request_id=ref.request_id, feedback_id=req.request_id)

    def on_submit(
        self, ack: Ack, body: dict[str, Any], context: BoltContext, client: WebClient
    ) -> None:
        view = body.get("view") or {}
        user = str((body.get("user") or {}).get("id") or "")
        try:
            form = decode_form(str(view.get("private_metadata") or ""))
        except ValueError:
            log.warning("feedback.bad_form", user=user)
            ack()
            return
        reason, comment = submitted(((view.get("state") or {}).get("values")) or {})
        if reason is None:
            ack(response_action="errors", errors={"reason": "Pick a reason."})
            return
        if reason == "other" and not comment:
            ack(response_action="errors", errors={COMMENT_BLOCK: "Say what was wrong."})
            return
        try:
            self.deps.audit.record(
                "answer.feedback_reason",
                request_id=form.request_id,
                feedback_id=form.feedback_id,
                reason=reason,
                reason_label=REASONS[reason],
                comment=comment or None,
                user=user,
                channel=form.channel,
                kb_version=form.kb_version,
                submission_id=request_id(context),
            )
        except AuditUnavailable as exc:
            log.error("feedback.reason_unrecorded", feedback_id=form.feedback_id, error=str(exc))
            ack(response_action="errors", errors={"reason": "I couldn't record this; try again."})
            return
        ack()
        log.info(
            "feedback.reason_recorded",
            request_id=form.request_id,
            feedback_id=form.feedback_id,
            reason=reason,
        )
        if form.channel:
            channel = form.channel

            def thank() -> None:
                sent = post_ephemeral(client, notice_message(NOTED), channel=channel, user=user)
                if not sent.ok:
                    log.warning("feedback.thanks_failed", error=sent.error)

            in_background(self.deps, thank, request_id=form.feedback_id, surface="feedback")


def register(app: App, deps: Deps) -> None:
    forms = FeedbackForms(deps)
    app.action(ACTION_FEEDBACK_NOT_HELPFUL)(FEEDBACK.listener(deps, forms.on_feedback_not_helpful))
    app.view_submission(VIEW_FEEDBACK)(forms.on_submit)
