"""Claiming a Slack event once, and what is answered when the dedupe store cannot say.

Answering anyway could answer twice: a replica that does reach the store, or Slack's
retry of a slow ack, may answer the same event. Treating the event as seen would drop
it. So the event is refused for now: a 503 (in Socket Mode, no ack) makes Slack deliver
it again (at once, after about 1 and 5 minutes), by which time the store may be back
and exactly one delivery claims it. Each refusal is logged at error level with the
event id, so an outage longer than Slack's retries loses nothing silently.

``claim_event`` is the one rule, used where an event is acknowledged: by the HTTP
server before Bolt sees the event (``bot.delivery.intake``), and by the Bolt middleware
for events that arrive another way (Socket Mode).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from slack_bolt import BoltResponse

from handlers.deps import EventDedupe, StoreUnavailable

log = structlog.get_logger("licensebot.app")

RETRY_LATER_STATUS = 503


def event_id_of(body: Mapping[str, Any]) -> str | None:
    """The ``event_id`` of an Events API delivery (``event_callback``), else None."""
    event_id = body.get("event_id")
    if body.get("type") == "event_callback" and isinstance(event_id, str) and event_id:
        return event_id
    return None


def _header(headers: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = headers.get(name)
    return values[0] if values else None


def claim_event(
    dedupe: EventDedupe, event_id: str, headers: Mapping[str, Sequence[str]]
) -> BoltResponse | None:
    """None when this delivery is the first of ``event_id`` (act on it); otherwise the
    acknowledgement to answer instead: an empty 200 for a repeat, 503 for a retry later."""
    retry = _header(headers, "x-slack-retry-num")
    try:
        first = dedupe.first_time(f"event:{event_id}")
    except StoreUnavailable as exc:
        return dedupe_unavailable(event_id, retry, exc)
    if first:
        return None
    reason = _header(headers, "x-slack-retry-reason")
    log.info("event.duplicate", event_id=event_id, retry_num=retry, retry_reason=reason)
    # Not 404: Slack would count that as a failure and retry.
    return BoltResponse(status=200, body="")


def dedupe_unavailable(event_id: str, retry_num: str | None, exc: Exception) -> BoltResponse:
    log.error(
        "event.dedupe_unavailable",
        event_id=event_id,
        retry_num=retry_num,
        error=str(exc),
        status=RETRY_LATER_STATUS,
    )
    return BoltResponse(status=RETRY_LATER_STATUS, body="")
