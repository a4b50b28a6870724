"""The audit records of knowledge-base administration, shared by the Slack admin
surfaces and the bot's SIGHUP and polling reloaders (so: no Slack here)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog

from handlers.deps import Auditor, AuditUnavailable
from knowledge.models import Problem
from knowledge.service import ReloadResult

log = structlog.get_logger("licensebot.kb")


def record_kb_event(auditor: Auditor | None, event: str, **fields: Any) -> bool:
    """Record an admin event; a trail that cannot be written is logged, not raised.

    Admin actions are recorded after the fact: refusing to report a reload that already
    happened would only hide it. Answers, which are audited first, stop on their own.
    """
    if auditor is None:
        return False
    try:
        auditor.record(event, **fields)
    except AuditUnavailable as exc:
        log.error("audit.kb_unrecorded", audit_event=event, error=str(exc))
        return False
    return True


def reload_fields(result: ReloadResult) -> dict[str, Any]:
    return {
        "old_version": result.old_version,
        "new_version": result.new_version,
        "added": list(result.added),
        "removed": list(result.removed),
        "changed": list(result.changed),
        "articles_before": result.articles_before,
        "articles_after": result.articles_after,
        "passages_before": result.passages_before,
        "passages_after": result.passages_after,
        "seconds": result.seconds,
        "skipped": problem_fields(result.skipped),
    }


def problem_fields(problems: Sequence[Problem]) -> list[dict[str, Any]]:
    return [{"file": p.file, "line": p.line, "reason": p.reason} for p in problems]
