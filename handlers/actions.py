"""The answer message's buttons: Post to channel, Full article, Helpful / Not helpful."""

from __future__ import annotations

from typing import Any

import structlog
from slack_bolt import Ack, App, BoltContext
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
    failure_message,
    notice_message,
    unavailable_message,
)
from handlers.common import (
    AnswerFlow,
    AskRequest,
    Delivered,
    api_error,
    apologize,
    context_team,
    post_message,
    received_at,
    request_id,
    send_response,
    tell_privately,
    valid_user_id,
)
from handlers.deps import AuditUnavailable, Deps

log = structlog.get_logger("licensebot.slack")

# chat.postMessage cannot reach a conversation the bot is not in; response_url can.
_NOT_A_MEMBER = frozenset({"not_in_channel", "channel_not_found"})


def _click(
    body: dict[str, Any],
    action: dict[str, Any],
    context: BoltContext,
    surface: str,
    question: str = "",
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


def register(app: App, deps: Deps) -> None:
    flow = AnswerFlow(deps)

    def tell(client: WebClient, req: AskRequest, response_url: str | None, text: str) -> None:
        sent = tell_privately(
            client,
            notice_message(text),
            channel=req.channel,
            user=req.user,
            response_url=response_url,
            thread_ts=req.thread_ts,
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

    def on_post_to_channel(
        ack: Ack,
        body: dict[str, Any],
        action: dict[str, Any],
        context: BoltContext,
        client: WebClient,
    ) -> None:
        ack()
        try:
            ref = decode_share(str(action.get("value")))
        except ValueError:
            req, response_url = _click(body, action, context, "post_to_channel")
            log.warning("action.bad_value", request_id=req.request_id, action="post_to_channel")
            tell(client, req, response_url, "That button no longer works; please ask again.")
            return
        req, response_url = _click(body, action, context, "post_to_channel", ref.question)
        try:
            answer = flow.prepare(req, top=ref.top, shared_from=ref.request_id)
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
        except Exception as exc:
            flow.report_error(req, exc)
            tell_privately(
                client,
                failure_message(req.request_id),
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
        sent = post_message(client, message, channel=req.channel, thread_ts=req.thread_ts)
        via = "chat.postMessage"
        if not sent.ok and sent.error in _NOT_A_MEMBER and response_url is not None:
            public = {
                "response_type": "in_channel",
                "replace_original": False,
                **message.as_payload(),
            }
            retry = send_response(client, response_url, public)
            via = "response_url"
            sent = retry if retry.ok else Delivered(ok=False, error=f"{sent.error}; {retry.error}")
        flow.finish(req, answer, ts=sent.ts, error=sent.error, via=via)
        if sent.ok:
            if response_url is not None:
                send_response(
                    client,
                    response_url,
                    {
                        "response_type": "ephemeral",
                        "replace_original": True,
                        **notice_message("Posted to the channel.").as_payload(),
                    },
                )
        else:
            apologize(client, req, response_url=response_url, what="post the answer to the channel")

    def on_full_article(
        ack: Ack,
        body: dict[str, Any],
        action: dict[str, Any],
        context: BoltContext,
        client: WebClient,
    ) -> None:
        ack()
        req, response_url = _click(body, action, context, "full_article")
        try:
            ref = decode_article(str(action.get("value")))
        except ValueError:
            log.warning("action.bad_value", request_id=req.request_id, action="full_article")
            tell(client, req, response_url, "That button no longer works; please ask again.")
            return
        snapshot_version = deps.kb.kb_version
        article = deps.kb.article(ref.doc_id)
        if article is None:
            tell(client, req, response_url, "That article is no longer in the knowledge base.")
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
            deps.audit.record(
                "answer.served",
                request_id=req.request_id,
                surface="full_article",
                latency_ms=req.elapsed_ms(),
                **req.context_fields(),
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
            ack: Ack,
            body: dict[str, Any],
            action: dict[str, Any],
            context: BoltContext,
            client: WebClient,
        ) -> None:
            ack()
            req, response_url = _click(body, action, context, "feedback")
            try:
                ref = decode_feedback(str(action.get("value")))
            except ValueError:
                log.warning("action.bad_value", request_id=req.request_id, action="feedback")
                tell(client, req, response_url, "That button no longer works; please ask again.")
                return
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
                    f"I couldn't record your feedback right now (ref {req.request_id}).",
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
            tell(client, req, response_url, f"Thanks — I noted that this answer was {verdict}.")

        on_feedback.__name__ = "on_feedback_helpful" if helpful else "on_feedback_not_helpful"
        return on_feedback

    app.action(ACTION_POST_TO_CHANNEL)(on_post_to_channel)
    app.action(ACTION_FULL_ARTICLE)(on_full_article)
    app.action(ACTION_FEEDBACK_HELPFUL)(feedback(True))
    app.action(ACTION_FEEDBACK_NOT_HELPFUL)(feedback(False))
