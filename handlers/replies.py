"""Getting a reply to Slack: chat.postMessage, chat.postEphemeral, ``response_url``,
telling a user with the reference when a reply did not get through, and handing slow
Web API work to the delivery pool."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient

from handlers.blocks.kit import Message
from handlers.blocks.notices import apology_message, failure_message
from handlers.deps import Deps
from handlers.requests import AskRequest, response_url_of

log = structlog.get_logger("licensebot.slack")

# answer.delivered's error when the delivery pool had no room for the delivery.
QUEUE_FULL = "delivery_queue_full"
# Errors where Slack refused the message itself; a plain-text retry may still get through.
CONTENT_ERRORS = frozenset(
    {"invalid_blocks", "invalid_blocks_format", "msg_too_long", "too_many_blocks"}
)


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
    """chat.postMessage (the client retries what cannot post twice, see bot.delivery.client); a
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
    response_url = response_url_of(body)
    if response_url is not None and client is not None:
        sent = send_response(client, response_url, private_payload(failure_message(ref)))
        if not sent.ok:
            log.error("delivery.failed", request_id=ref, error=sent.error, via="response_url")


def in_background(
    deps: Deps,
    work: Callable[[], None],
    *,
    request_id: str,
    surface: str,
    on_shed: Callable[[], None] | None = None,
) -> None:
    """Run ``work`` in the delivery pool; when that is full it is dropped, logged, and
    ``on_shed`` runs here instead (it must not call Slack)."""
    if deps.background.submit(work):
        return
    log.error("delivery.shed", request_id=request_id, surface=surface, reason=QUEUE_FULL)
    if on_shed is not None:
        on_shed()


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
