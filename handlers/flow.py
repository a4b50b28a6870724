"""Answer → audit ``answer.served`` → (the caller delivers) → ``answer.delivered``.

The records themselves are the ``Auditor`` port's (``handlers.deps``), written once in
``bot.audit.records``; here is when each is written and what is logged beside it.
"""

from __future__ import annotations

from typing import Any

import structlog

from handlers.blocks.kit import Message
from handlers.blocks.notices import failure_message, unavailable_message
from handlers.deps import AuditUnavailable, Deps
from handlers.requests import AskRequest
from knowledge.models import Answer

log = structlog.get_logger("licensebot.slack")


class AnswerFlow:
    """Answer → audit ``answer.served`` → (caller delivers) → ``finish``."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def prepare(self, req: AskRequest, *, top: int | None = None, **extra: Any) -> Answer:
        """The answer, durably audited. Raises ``AuditUnavailable``: then say nothing of it."""
        top = top if top is not None else self.deps.top_k
        answer = self.deps.kb.answer(req.question, top)
        self.record_served(req, **answer.audit_fields(top=top), **extra)
        return answer

    def record_served(self, req: AskRequest, **fields: Any) -> None:
        """Audit ``answer.served`` for what ``req`` is about to be shown. Raises
        ``AuditUnavailable``: then show none of it."""
        self.deps.audit.served(
            fields,
            surface=req.surface,
            request_id=req.request_id,
            latency_ms=req.elapsed_ms(),
            **req.context_fields(),
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
            self.deps.audit.delivered(
                surface=req.surface,
                request_id=req.request_id,
                latency_ms=latency,
                message_ts=ts,
                error=error,
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
            self.deps.audit.error_reported(
                ref=req.request_id,
                error=f"{type(error).__name__}: {error}",
                surface=req.surface,
                request_id=req.request_id,
                **req.context_fields(),
            )
        except AuditUnavailable:
            log.error("audit.error_unrecorded", request_id=req.request_id)
