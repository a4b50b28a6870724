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
from slack_sdk.errors import SlackApiError, SlackClientError

from handlers.actions import FEEDBACK, record_feedback
from handlers.blocks import ACTION_FEEDBACK_NOT_HELPFUL, notice_message
from handlers.blocks_feedback import (
    COMMENT_BLOCK,
    REASONS,
    VIEW_FEEDBACK,
    FeedbackForm,
    decode_form,
    feedback_modal,
    submitted,
)
from handlers.common import AnswerFlow, api_error, post_ephemeral, request_id
from handlers.deps import AuditUnavailable, Deps
from handlers.interaction import tell

log = structlog.get_logger("licensebot.slack")

NOTED = "Thanks — I noted that this answer was not helpful."


def register(app: App, deps: Deps) -> None:
    flow = AnswerFlow(deps)

    def on_not_helpful(
        ack: Ack,
        body: dict[str, Any],
        action: dict[str, Any],
        context: BoltContext,
        client: WebClient,
    ) -> None:
        ack()
        clicked = FEEDBACK.read(body, action, context, client)
        if clicked is None:
            return
        ref, req, response_url = clicked
        if not record_feedback(flow, client, ref, req, response_url, helpful=False):
            return
        form = FeedbackForm(
            request_id=ref.request_id,
            feedback_id=req.request_id,
            channel=req.channel,
            user=req.user,
            kb_version=ref.kb_version,
        )
        error: str | None = None
        try:
            client.views_open(
                trigger_id=str(body.get("trigger_id")), view=feedback_modal(form, ref.question)
            )
        except SlackApiError as exc:
            error = api_error(exc)
        except (SlackClientError, OSError) as exc:
            error = type(exc).__name__
        if error is not None:
            # The feedback is recorded; only the reason cannot be asked for.
            log.warning("feedback.form_failed", feedback_id=req.request_id, error=error)
            tell(client, req, response_url, notice_message(NOTED))
            return
        log.info("feedback.form_opened", request_id=ref.request_id, feedback_id=req.request_id)

    def on_submit(ack: Ack, body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
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
            deps.audit.record(
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
            sent = post_ephemeral(client, notice_message(NOTED), channel=form.channel, user=user)
            if not sent.ok:
                log.warning("feedback.thanks_failed", error=sent.error)

    app.action(ACTION_FEEDBACK_NOT_HELPFUL)(on_not_helpful)
    app.view_submission(VIEW_FEEDBACK)(on_submit)
