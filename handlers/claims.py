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

from handlers.blocks.claims import claim_check_message
from handlers.blocks.notices import notice_message
from handlers.blocks.refs import ACTION_CLAIM_POST, ClaimRef, decode_claim
from handlers.buttons import Button, Click, confirm_posted, post_publicly, tell
from handlers.deps import AuditUnavailable, Deps, StoreUnavailable
from handlers.flow import AnswerFlow
from handlers.replies import apologize, in_background, report_crash, tell_privately
from handlers.requests import (
    AskRequest,
    request_in,
    response_url_of,
    slack_to_plain,
    valid_user_id,
)
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


_POST = Button("claim_post_in_thread", SURFACE, decode_claim, _STALE)


class ClaimChecks:
    """The shortcut and its "Post in thread" button."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.flow = AnswerFlow(deps)

    def keep(self, rid: str, text: str, day: dt.date | None) -> bool:
        """Keep the checked text for "Post in thread"; False when it cannot be."""
        store = self.deps.conversations
        if store is None:
            return False
        value = json.dumps({"text": text, "said_on": day.isoformat() if day else None})
        try:
            store.remember(claim_key(rid), value, CLAIM_TTL_SECONDS)
        except StoreUnavailable as exc:
            log.error("claim.unstored", request_id=rid, error=str(exc))
            return False
        return True

    def kept(self, rid: str) -> tuple[str, dt.date | None] | None:
        store = self.deps.conversations
        if store is None:
            return None
        try:
            raw = store.recall(claim_key(rid))
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

    def on_check(
        self, ack: Ack, body: dict[str, Any], context: BoltContext, client: WebClient
    ) -> None:
        ack()
        message = body.get("message") or {}
        root = str(message.get("thread_ts") or message.get("ts") or "")
        req = request_in(
            context,
            surface=SURFACE,
            question=slack_to_plain(str(message.get("text") or "")),
            user=str((body.get("user") or {}).get("id") or ""),
            channel=str((body.get("channel") or {}).get("id") or ""),
            thread_ts=root or None,
        )

        def run() -> None:
            try:
                self.check(client, req, message, response_url_of(body))
            except Exception as exc:
                # Off Bolt's threads its error handler is not called: do what it does.
                report_crash(client, body, req.request_id, exc)

        in_background(self.deps, run, request_id=req.request_id, surface=SURFACE)

    def check(
        self,
        client: WebClient,
        req: AskRequest,
        message: dict[str, Any],
        response_url: str | None,
    ) -> None:
        day = said_on(message.get("ts"))
        check = self.deps.kb.check_claims(req.question, said_on=day)
        try:
            self.flow.record_served(req, message_ts=message.get("ts"), **_served_fields(check, day))
        except AuditUnavailable as exc:
            tell(client, req, response_url, self.flow.failed(req, exc))
            return
        post = None
        if check.statements and req.thread_ts and self.keep(req.request_id, check.text, day):
            post = ClaimRef(req.request_id, req.channel, req.thread_ts, check.kb_version)
        result = claim_check_message(check, request_id=req.request_id, post=post)
        sent = tell_privately(
            client, result, channel=req.channel, user=req.user, response_url=response_url
        )
        self.flow.delivered(
            req,
            ts=sent.ts,
            error=sent.error,
            via="response_url" if response_url else "chat.postEphemeral",
            log_event="claim.checked",
            statements=len(check.statements),
            kb_version=check.kb_version,
        )

    def on_post(self, ref: ClaimRef, click: Click) -> None:
        client, response_url = click.client, click.response_url
        found = self.kept(ref.request_id)
        if found is None:
            tell(client, click.req, response_url, notice_message(_STALE))
            return
        text, day = found
        req = AskRequest(
            request_id=click.req.request_id,
            surface=SURFACE,
            question=text,
            user=click.req.user,
            channel=ref.channel,
            team=click.req.team,
            thread_ts=ref.thread_ts,
            started=click.req.started,
        )
        check = self.deps.kb.check_claims(text, said_on=day)
        try:
            self.flow.record_served(req, shared_from=ref.request_id, **_served_fields(check, day))
        except AuditUnavailable as exc:
            tell(client, req, response_url, self.flow.failed(req, exc))
            return
        note = None
        if check.kb_version != ref.kb_version:
            note = "The knowledge base changed since the check; this is the check against it now."
        public = claim_check_message(
            check, request_id=req.request_id, checked_for=valid_user_id(req.user), note=note
        )
        sent, via = post_publicly(client, public, req, response_url)
        self.flow.delivered(
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


def register(app: App, deps: Deps) -> None:
    checks = ClaimChecks(deps)
    app.message_shortcut(CALLBACK_ID)(checks.on_check)
    app.action(ACTION_CLAIM_POST)(_POST.listener(deps, checks.on_post))
