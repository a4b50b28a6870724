"""What the event dedupe middleware answers when its store cannot be reached.

Answering anyway could answer twice: a replica that does reach the store, or Slack's
retry of a slow ack, may answer the same event. Treating the event as seen would drop
it. So the event is refused for now: a 503 (in Socket Mode, no ack) makes Slack deliver
it again (at once, after about 1 and 5 minutes), by which time the store may be back
and exactly one delivery claims it. Each refusal is logged at error level with the
event id, so an outage longer than Slack's retries loses nothing silently.
"""

from __future__ import annotations

import structlog
from slack_bolt import BoltResponse

log = structlog.get_logger("licensebot.app")

RETRY_LATER_STATUS = 503


def dedupe_unavailable(event_id: str, retry_num: str | None, exc: Exception) -> BoltResponse:
    log.error(
        "event.dedupe_unavailable",
        event_id=event_id,
        retry_num=retry_num,
        error=str(exc),
        status=RETRY_LATER_STATUS,
    )
    return BoltResponse(status=RETRY_LATER_STATUS, body="")
