"""Getting a reply to Slack: chat.postMessage, chat.postEphemeral, ``response_url``, and
telling a user with the reference when a reply did not get through."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient

from handlers.blocks.kit import Message
from handlers.blocks.notices import apology_message
from handlers.requests import AskRequest

log = structlog.get_logger("licensebot.slack")

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
    """chat.postMessage (the client retries 429/5xx); a content error gets one plain-text retry."""
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
