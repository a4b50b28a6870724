"""What callers write to the audit trail, in one shape for every surface.

Field names (a contract for ``licensebot audit show`` and for auditors):

``answer.served``   request_id, surface, team, channel, user, thread_ts (Slack) or
                    user, host (CLI), question, answered, reason, truncated,
                    kb_version, top, quotes [{passage_id, doc_id, start, end, score,
                    text}], latency_ms
``answer.delivered`` request_id, surface, outcome ("delivered" | "failed"),
                    message_ts or error, latency_ms, plus the same context fields
``error.reported``  ref, request_id, surface, error, plus context

Every record also gets ts (UTC), event, bot_version, seq, prev_hash and hash from
the trail itself.
"""

from __future__ import annotations

import getpass
import os
import socket
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import structlog

from handlers.deps import Auditor, AuditUnavailable
from handlers.requests import new_request_id
from knowledge.models import Answer

ANSWER_SERVED = "answer.served"
ANSWER_DELIVERED = "answer.delivered"
ERROR_REPORTED = "error.reported"

SURFACES: frozenset[str] = frozenset(
    {
        "mention",
        "dm",
        "ask",
        "post_to_channel",
        "timeline",
        "full_article",
        "cli_ask",
        "cli_timeline",
    }
)

# What a user is told when the answer could not be audited (the answer is withheld).
UNAVAILABLE_MESSAGE = (
    "I can't answer right now: the audit trail is unavailable. Please try again later."
)

T = TypeVar("T")

_log = structlog.get_logger("licensebot.audit")


def cli_context() -> dict[str, str]:
    """Who asked on the command line: the OS user and host."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        # No login name and no passwd entry (e.g. an arbitrary container uid).
        user = f"uid:{os.getuid()}"
    return {"user": user, "host": socket.gethostname()}


def _check_surface(surface: str) -> None:
    if surface not in SURFACES:
        raise ValueError(f"unknown surface {surface!r}; one of {sorted(SURFACES)}")


class AnswerRecords:
    """The records of the ``Auditor`` port (``handlers.deps``), written once over ``record``.

    ``AuditTrail`` inherits them; so can any other trail (or a test double) that
    implements ``record``.
    """

    def record(self, event: str, **fields: Any) -> Mapping[str, Any]:
        raise NotImplementedError

    def served(
        self,
        content: Mapping[str, Any],
        *,
        surface: str,
        request_id: str,
        latency_ms: float,
        **context: Any,
    ) -> Mapping[str, Any]:
        """Record ``answer.served``; raises ``AuditUnavailable`` (then do not answer).

        ``content`` is what is shown (``Answer.audit_fields``, ``Timeline.audit_fields``
        or the span of an article); ``context`` carries team/channel/user/thread_ts
        (Slack) or ``cli_context()``.
        """
        _check_surface(surface)
        return self.record(
            ANSWER_SERVED,
            request_id=request_id,
            surface=surface,
            latency_ms=round(latency_ms, 3),
            **context,
            **content,
        )

    def delivered(
        self,
        *,
        surface: str,
        request_id: str,
        latency_ms: float,
        message_ts: str | None = None,
        error: str | None = None,
        **context: Any,
    ) -> Mapping[str, Any]:
        """Record the outcome of delivering a served answer (a Slack ts, or the error)."""
        _check_surface(surface)
        outcome = "failed" if error is not None else "delivered"
        return self.record(
            ANSWER_DELIVERED,
            request_id=request_id,
            surface=surface,
            outcome=outcome,
            message_ts=message_ts,
            error=error,
            latency_ms=round(latency_ms, 3),
            **context,
        )

    def error_reported(
        self,
        *,
        ref: str,
        error: str,
        surface: str | None = None,
        request_id: str | None = None,
        **context: Any,
    ) -> Mapping[str, Any]:
        """Record an error shown to a user with reference ``ref``."""
        return self.record(
            ERROR_REPORTED, ref=ref, error=error, surface=surface, request_id=request_id, **context
        )


def audit_answer(
    auditor: Auditor,
    answer: Answer,
    *,
    surface: str,
    request_id: str,
    top: int,
    latency_ms: float,
    **context: Any,
) -> Mapping[str, Any]:
    """Record ``answer.served`` for ``answer`` before it is delivered.

    Raises ``AuditUnavailable``: the caller must then withhold the answer.
    """
    return auditor.served(
        answer.audit_fields(top=top),
        surface=surface,
        request_id=request_id,
        latency_ms=latency_ms,
        **context,
    )


def deliver_audited(
    auditor: Auditor,
    answer: Answer,
    deliver: Callable[[], T],
    *,
    surface: str,
    top: int,
    started: float,
    request_id: str | None = None,
    message_ts: Callable[[T], str | None] = lambda _result: None,
    **context: Any,
) -> T:
    """Served record (durable) → ``deliver()`` → delivered record, for one answer.

    ``started`` is ``time.perf_counter()`` when the request arrived. Raises
    ``AuditUnavailable`` without calling ``deliver`` if the answer cannot be
    audited. A failing ``deliver`` is recorded as ``outcome: failed`` and re-raised.
    A failure to record the outcome after delivery is logged, not raised: the answer
    is out, and the served record already proves what was said.
    """
    rid = request_id or new_request_id()
    audit_answer(
        auditor,
        answer,
        surface=surface,
        request_id=rid,
        top=top,
        latency_ms=(time.perf_counter() - started) * 1000,
        **context,
    )
    try:
        result = deliver()
    except Exception as exc:
        _record_outcome(
            auditor,
            surface=surface,
            request_id=rid,
            started=started,
            ts=None,
            error=f"{type(exc).__name__}: {exc}",
            context=context,
        )
        raise
    _record_outcome(
        auditor,
        surface=surface,
        request_id=rid,
        started=started,
        ts=message_ts(result),
        error=None,
        context=context,
    )
    return result


def _record_outcome(
    auditor: Auditor,
    *,
    surface: str,
    request_id: str,
    started: float,
    ts: str | None,
    error: str | None,
    context: Mapping[str, Any],
) -> None:
    try:
        auditor.delivered(
            surface=surface,
            request_id=request_id,
            latency_ms=(time.perf_counter() - started) * 1000,
            message_ts=ts,
            error=error,
            **context,
        )
    except AuditUnavailable as exc:
        _log.error("audit.delivery_unrecorded", request_id=request_id, error=str(exc))
