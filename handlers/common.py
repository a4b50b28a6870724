"""What every Slack surface shares: request ids, question text, auditing and delivery.

The audit records follow the shape documented in ``bot/audit_records.py`` (handlers
cannot import ``bot``, so the few field names are repeated here): ``answer.served``
before an answer is shown, ``answer.delivered`` with the message ts or the error after.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog
from slack_bolt import BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient

from handlers.blocks import Message, apology_message, failure_message, unavailable_message
from handlers.deps import AuditUnavailable, Deps
from knowledge.models import Answer

log = structlog.get_logger("licensebot.slack")

# Errors where Slack refused the message itself; a plain-text retry may still get through.
CONTENT_ERRORS = frozenset(
    {"invalid_blocks", "invalid_blocks_format", "msg_too_long", "too_many_blocks"}
)

_SLACK_ENTITY = re.compile(r"<([^<>]*)>")
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")


def new_request_id() -> str:
    """A short reference a user can quote back to us."""
    return secrets.token_hex(6)


def request_id(context: Mapping[str, Any]) -> str:
    rid = context.get("request_id")
    return rid if isinstance(rid, str) else new_request_id()


def received_at(context: Mapping[str, Any]) -> float:
    at = context.get("received_at")
    return float(at) if isinstance(at, int | float) else time.monotonic()


def valid_user_id(value: object) -> str | None:
    return value if isinstance(value, str) and _USER_ID.fullmatch(value) else None


def slack_to_plain(text: str, *, bot_user_id: str | None = None) -> str:
    """The words of a Slack-formatted message: mentions of the bot dropped, other
    entities reduced to their label, HTML entities undone, whitespace collapsed."""

    def entity(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            if bot_user_id is not None and target[1:] == bot_user_id:
                return " "
            return "@" + (label or target[1:])
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):
            name = target[1:].split("^")[0]
            return label or "@" + name
        return label or target

    plain = _SLACK_ENTITY.sub(entity, text)
    plain = plain.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(plain.split())


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class AskRequest:
    """One question from one place in Slack."""

    request_id: str
    surface: str  # "mention" | "dm" | "ask" | "post_to_channel"
    question: str
    user: str
    channel: str
    team: str | None = None
    thread_ts: str | None = None
    started: float = field(default_factory=time.monotonic)

    def context_fields(self) -> dict[str, Any]:
        return {
            "team": self.team,
            "channel": self.channel,
            "user": self.user,
            "thread_ts": self.thread_ts,
        }

    def elapsed_ms(self) -> float:
        return round((time.monotonic() - self.started) * 1000, 3)


def _quote_fields(answer: Answer) -> list[dict[str, Any]]:
    return [
        {
            "passage_id": q.passage_id,
            "doc_id": q.doc_id,
            "start": q.start,
            "end": q.end,
            "score": q.score,
            "text": q.text,
        }
        for q in answer.quotes
    ]


class AnswerFlow:
    """Answer → audit ``answer.served`` → (caller delivers) → ``finish``."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def prepare(self, req: AskRequest, *, top: int | None = None, **extra: Any) -> Answer:
        """The answer, durably audited. Raises ``AuditUnavailable``: then say nothing of it."""
        top = top if top is not None else self.deps.top_k
        answer = self.deps.kb.answer(req.question, top)
        self.record_served(
            req,
            question=answer.question,
            answered=answer.answered,
            reason=answer.reason,
            truncated=answer.truncated,
            kb_version=answer.kb_version,
            top=top,
            quotes=_quote_fields(answer),
            **extra,
        )
        return answer

    def record_served(self, req: AskRequest, **fields: Any) -> None:
        """Audit ``answer.served`` for what ``req`` is about to be shown. Raises
        ``AuditUnavailable``: then show none of it."""
        self.deps.audit.record(
            "answer.served",
            request_id=req.request_id,
            surface=req.surface,
            latency_ms=req.elapsed_ms(),
            **req.context_fields(),
            **fields,
        )

    def finish(
        self,
        req: AskRequest,
        answer: Answer,
        *,
        ts: str | None = None,
        error: str | None = None,
        via: str = "chat.postMessage",
    ) -> None:
        """Record and log how delivery went; one ``answer.served`` log line per answer."""
        self.delivered(
            req,
            ts=ts,
            error=error,
            via=via,
            log_event="answer.served",
            answered=answer.answered,
            passage_ids=[q.passage_id for q in answer.quotes],
            kb_version=answer.kb_version,
        )

    def delivered(
        self,
        req: AskRequest,
        *,
        ts: str | None,
        error: str | None,
        via: str,
        log_event: str,
        **log_fields: Any,
    ) -> None:
        latency = req.elapsed_ms()
        try:
            self.deps.audit.record(
                "answer.delivered",
                request_id=req.request_id,
                surface=req.surface,
                outcome="failed" if error is not None else "delivered",
                message_ts=ts,
                error=error,
                latency_ms=latency,
                **req.context_fields(),
            )
        except AuditUnavailable as exc:
            # The answer is out and its served record exists; losing the outcome is logged.
            log.error("audit.delivery_unrecorded", request_id=req.request_id, error=str(exc))
        log.info(
            log_event,
            request_id=req.request_id,
            surface=req.surface,
            user=req.user,
            channel=req.channel,
            **log_fields,
            delivered=error is None,
            via=via,
            latency_ms=latency,
        )
        if error is not None:
            log.error(
                "delivery.failed",
                request_id=req.request_id,
                surface=req.surface,
                channel=req.channel,
                error=error,
                via=via,
            )

    def refused(self, req: AskRequest, exc: AuditUnavailable) -> None:
        log.error(
            "answer.withheld",
            request_id=req.request_id,
            surface=req.surface,
            user=req.user,
            channel=req.channel,
            reason="audit_unavailable",
            error=str(exc),
        )

    def failed(self, req: AskRequest, exc: Exception) -> Message:
        """Log (and audit) why ``req`` got no answer; the message to tell the user instead."""
        if isinstance(exc, AuditUnavailable):
            self.refused(req, exc)
            return unavailable_message(req.request_id)
        self.report_error(req, exc)
        return failure_message(req.request_id)

    def report_error(self, req: AskRequest, error: BaseException) -> None:
        """Log (and if possible audit) an unexpected failure shown to the user by reference."""
        log.error(
            "answer.failed",
            request_id=req.request_id,
            surface=req.surface,
            user=req.user,
            channel=req.channel,
            exc_info=error,
        )
        try:
            self.deps.audit.record(
                "error.reported",
                ref=req.request_id,
                request_id=req.request_id,
                surface=req.surface,
                error=f"{type(error).__name__}: {error}",
                **req.context_fields(),
            )
        except AuditUnavailable:
            log.error("audit.error_unrecorded", request_id=req.request_id)


# --------------------------------------------------------------------------- delivery


@dataclass(frozen=True)
class Delivered:
    ok: bool
    ts: str | None = None
    error: str | None = None


def api_error(exc: SlackApiError) -> str:
    """Slack's error code (``not_in_channel``), or ``http_<status>`` when there is none."""
    response = exc.response
    if response.status_code != 200:
        return f"http_{response.status_code}"
    code = response.get("error") if isinstance(response.data, dict) else None
    return str(code) if code else "unknown_error"


def post_message(
    client: WebClient, message: Message, *, channel: str, thread_ts: str | None = None
) -> Delivered:
    """chat.postMessage (the client retries what cannot post twice, see bot.delivery); a
    content error gets one plain-text retry."""
    payload = message.as_payload()
    for attempt in range(2):
        try:
            response = client.chat_postMessage(
                channel=channel,
                thread_ts=thread_ts,
                unfurl_links=False,
                unfurl_media=False,
                **payload,
            )
        except SlackApiError as exc:
            error = api_error(exc)
            if attempt == 0 and error in CONTENT_ERRORS:
                log.warning("delivery.blocks_rejected", channel=channel, error=error)
                payload = {"text": message.text}
                continue
            return Delivered(ok=False, error=error)
        except (SlackClientError, OSError) as exc:
            return Delivered(ok=False, error=type(exc).__name__)
        ts = response.get("ts")
        return Delivered(ok=True, ts=ts if isinstance(ts, str) else None)
    return Delivered(ok=False, error="unreachable")


def post_ephemeral(
    client: WebClient, message: Message, *, channel: str, user: str, thread_ts: str | None = None
) -> Delivered:
    try:
        response = client.chat_postEphemeral(
            channel=channel, user=user, thread_ts=thread_ts, **message.as_payload()
        )
    except SlackApiError as exc:
        return Delivered(ok=False, error=api_error(exc))
    except (SlackClientError, OSError) as exc:
        return Delivered(ok=False, error=type(exc).__name__)
    ts = response.get("message_ts")
    return Delivered(ok=True, ts=ts if isinstance(ts, str) else None)


def send_response(client: WebClient, response_url: str, payload: Mapping[str, Any]) -> Delivered:
    """POST to a ``response_url`` with the Web API client's retry policy."""
    webhook = WebhookClient(
        url=response_url,
        timeout=client.timeout,
        retry_handlers=list(client.retry_handlers),
        logger=client.logger,
    )
    try:
        response = webhook.send_dict(dict(payload))
    except (SlackClientError, OSError) as exc:
        return Delivered(ok=False, error=type(exc).__name__)
    if response.status_code != 200:
        return Delivered(ok=False, error=f"http_{response.status_code}:{response.body[:100]}")
    return Delivered(ok=True)


def report_crash(
    client: WebClient | None, body: Mapping[str, Any], ref: str, error: BaseException
) -> None:
    """A listener failed unexpectedly: log it with the reference and tell the user
    briefly through the payload's ``response_url``, never with a traceback.

    Only for bodies that passed verification: their ``response_url`` is Slack's.
    """
    log.error(
        "listener.error",
        request_id=ref,
        kind=body.get("type") or body.get("command"),
        exc_info=error,
    )
    response_url = body.get("response_url")
    if isinstance(response_url, str) and client is not None:
        sent = send_response(client, response_url, private_payload(failure_message(ref)))
        if not sent.ok:
            log.error("delivery.failed", request_id=ref, error=sent.error, via="response_url")


def private_payload(message: Message, *, replace_original: bool = False) -> dict[str, Any]:
    return {
        "response_type": "ephemeral",
        "replace_original": replace_original,
        **message.as_payload(),
    }


def tell_privately(
    client: WebClient,
    message: Message,
    *,
    channel: str,
    user: str,
    response_url: str | None = None,
    thread_ts: str | None = None,
    replace_original: bool = False,
) -> Delivered:
    """An ephemeral message: through ``response_url`` when there is one, else chat.postEphemeral."""
    errors: list[str] = []
    if response_url is not None:
        sent = send_response(
            client, response_url, private_payload(message, replace_original=replace_original)
        )
        if sent.ok:
            return sent
        errors.append(f"response_url:{sent.error}")
    sent = post_ephemeral(client, message, channel=channel, user=user, thread_ts=thread_ts)
    if sent.ok:
        return sent
    errors.append(f"chat.postEphemeral:{sent.error}")
    return Delivered(ok=False, error="; ".join(errors))


def apologize(
    client: WebClient,
    req: AskRequest,
    *,
    response_url: str | None = None,
    what: str = "answer your question",
) -> None:
    """Tell the user delivery failed, with the reference; log if even that fails."""
    sent = tell_privately(
        client,
        apology_message(req.request_id, what),
        channel=req.channel,
        user=req.user,
        response_url=response_url,
        thread_ts=req.thread_ts,
    )
    if sent.ok:
        log.info("delivery.apology_sent", request_id=req.request_id, channel=req.channel)
    else:
        log.error(
            "delivery.apology_failed",
            request_id=req.request_id,
            channel=req.channel,
            error=sent.error,
        )


def context_team(context: BoltContext) -> str | None:
    team = context.team_id
    return team if isinstance(team, str) else None
