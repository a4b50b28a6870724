"""The message shortcut "Check against the KB" (``callback_id`` ``check_claim``).

The message's statements are checked against the knowledge base
(``knowledge.answering.claims``) and the result is shown privately to whoever used the
shortcut, through the shortcut's ``response_url``, with a "Post in thread" button that
posts it in the message's thread for everyone. Both are audited like answers
(``surface: "check_claim"``; the message text is the ``question``, every quote shown is
recorded with its verdict). The checked text waits for the button in the conversation
store for a day; after that, the button asks for the shortcut again.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import structlog
from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from handlers.blocks import notice_message
from handlers.blocks_claims import (
    ACTION_CLAIM_POST,
    ClaimRef,
    claim_check_message,
    decode_claim,
)
from handlers.common import (
    AnswerFlow,
    AskRequest,
    apologize,
    context_team,
    received_at,
    request_id,
    slack_to_plain,
    tell_privately,
    valid_user_id,
)
from handlers.deps import AuditUnavailable, Deps, StoreUnavailable
from handlers.interaction import click, confirm_posted, post_publicly, tell
from knowledge.answering.claims import ClaimCheck

log = structlog.get_logger("licensebot.slack")

CALLBACK_ID = "check_claim"
SURFACE = "check_claim"
# How long "Post in thread" keeps working: the checked text is kept this long.
CLAIM_TTL_SECONDS = 86_400.0
_STALE = "That button no longer works; use “Check against the KB” on the message again."


def claim_key(request_id: str) -> str:
    return f"claim:{request_id}"


def said_on(ts: object) -> dt.date | None:
    """The day a message was written, from its Slack ``ts`` (seconds since the epoch)."""
    try:
        return dt.datetime.fromtimestamp(float(str(ts)), dt.UTC).date()
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _served_fields(check: ClaimCheck, day: dt.date | None) -> dict[str, Any]:
    return {
        "question": check.text,
        "answered": any(s.matched for s in check.statements),
        "reason": check.reason,
        "truncated": check.truncated,
        "kb_version": check.kb_version,
        "top": None,
        "quotes": check.audit_quotes(),
        "statements": check.audit_statements(),
        "said_on": day.isoformat() if day is not None else None,
    }


def register(app: App, deps: Deps) -> None:
    flow = AnswerFlow(deps)

    def keep(rid: str, text: str, day: dt.date | None) -> bool:
        if deps.conversations is None:
            return False
        value = json.dumps({"text": text, "said_on": day.isoformat() if day else None})
        try:
            deps.conversations.remember(claim_key(rid), value, CLAIM_TTL_SECONDS)
        except StoreUnavailable as exc:
            log.error("claim.unstored", request_id=rid, error=str(exc))
            return False
        return True

    def kept(rid: str) -> tuple[str, dt.date | None] | None:
        if deps.conversations is None:
            return None
        try:
            raw = deps.conversations.recall(claim_key(rid))
        except StoreUnavailable as exc:
            log.error("claim.unreadable", request_id=rid, error=str(exc))
            return None
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("text"), str):
            return None
        day = data.get("said_on")
        try:
            return data["text"], dt.date.fromisoformat(day) if isinstance(day, str) else None
        except ValueError:
            return data["text"], None

    def on_check(ack: Ack, body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
        ack()
        message = body.get("message") or {}
        channel = str((body.get("channel") or {}).get("id") or "")
        response_url = body.get("response_url")
        response_url = response_url if isinstance(response_url, str) else None
        root = str(message.get("thread_ts") or message.get("ts") or "")
        day = said_on(message.get("ts"))
        req = AskRequest(
            request_id=request_id(context),
            surface=SURFACE,
            question=slack_to_plain(str(message.get("text") or "")),
            user=str((body.get("user") or {}).get("id") or ""),
            channel=channel,
            team=context_team(context),
            thread_ts=root or None,
            started=received_at(context),
        )
        check = deps.kb.check_claims(req.question, said_on=day)
        try:
            flow.record_served(req, message_ts=message.get("ts"), **_served_fields(check, day))
        except AuditUnavailable as exc:
            tell_privately(
                client,
                flow.failed(req, exc),
                channel=channel,
                user=req.user,
                response_url=response_url,
            )
            return
        post = None
        if check.statements and root and keep(req.request_id, check.text, day):
            post = ClaimRef(req.request_id, channel, root, check.kb_version)
        result = claim_check_message(check, request_id=req.request_id, post=post)
        sent = tell_privately(
            client, result, channel=channel, user=req.user, response_url=response_url
        )
        flow.delivered(
            req,
            ts=sent.ts,
            error=sent.error,
            via="response_url" if response_url else "chat.postEphemeral",
            log_event="claim.checked",
            statements=len(check.statements),
            kb_version=check.kb_version,
        )

    def on_post(
        ack: Ack,
        body: dict[str, Any],
        action: dict[str, Any],
        context: BoltContext,
        client: WebClient,
    ) -> None:
        ack()
        req, response_url = click(body, context, SURFACE)
        try:
            ref = decode_claim(str(action.get("value")))
        except ValueError:
            log.warning("action.bad_value", request_id=req.request_id, action=ACTION_CLAIM_POST)
            tell(client, req, response_url, notice_message(_STALE))
            return
        found = kept(ref.request_id)
        if found is None:
            tell(client, req, response_url, notice_message(_STALE))
            return
        text, day = found
        req = AskRequest(
            request_id=req.request_id,
            surface=SURFACE,
            question=text,
            user=req.user,
            channel=ref.channel,
            team=req.team,
            thread_ts=ref.thread_ts,
            started=req.started,
        )
        check = deps.kb.check_claims(text, said_on=day)
        try:
            flow.record_served(req, shared_from=ref.request_id, **_served_fields(check, day))
        except AuditUnavailable as exc:
            tell(client, req, response_url, flow.failed(req, exc))
            return
        note = None
        if check.kb_version != ref.kb_version:
            note = "The knowledge base changed since the check; this is the check against it now."
        public = claim_check_message(
            check, request_id=req.request_id, checked_for=valid_user_id(req.user), note=note
        )
        sent, via = post_publicly(client, public, req, response_url)
        flow.delivered(
            req,
            ts=sent.ts,
            error=sent.error,
            via=via,
            log_event="claim.posted",
            statements=len(check.statements),
            kb_version=check.kb_version,
        )
        if sent.ok:
            confirm_posted(client, response_url)
        else:
            apologize(client, req, response_url=response_url, what="post the check in the thread")

    app.message_shortcut(CALLBACK_ID)(on_check)
    app.action(ACTION_CLAIM_POST)(on_post)
