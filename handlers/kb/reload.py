"""Reloading the knowledge base on an admin's behalf, audited, with the report to show:
shared by ``/kb reload`` and the Home tab's Reload button."""

from __future__ import annotations

import structlog

from handlers.blocks.kb import kb_busy_message, kb_refused_message, kb_reload_message
from handlers.blocks.kit import Message
from handlers.deps import Deps
from handlers.kb.admin import KbRequest, audit
from handlers.kb.records import problem_fields, reload_fields
from knowledge.service import KBInvalid, ReloadInProgress, ReloadProgress

log = structlog.get_logger("licensebot.kb")


def reload_and_report(
    deps: Deps,
    req: KbRequest,
    progress: ReloadProgress | None = None,
    *,
    skip_invalid: bool = False,
) -> Message:
    """Reload (``progress`` hears each stage), audit the outcome, and the message for it:
    the diff, "a reload is running", or every problem (nothing changed then).
    ``skip_invalid`` serves the valid articles and lists the skipped ones."""
    kb = deps.kb
    try:
        result = kb.reload(by=req.user, progress=progress, skip_invalid=skip_invalid)
    except ReloadInProgress:
        log.info("kb.reload_refused", reason="in_progress", **req.fields())
        audit(
            deps,
            "kb.reload_refused",
            reason="in_progress",
            serving=kb.kb_version,
            problems=[],
            **req.fields(),
        )
        return kb_busy_message(kb.kb_version)
    except KBInvalid as exc:
        log.warning(
            "kb.reload_refused",
            reason="invalid",
            serving=kb.kb_version,
            problems=[str(p) for p in exc.problems],
            **req.fields(),
        )
        audit(
            deps,
            "kb.reload_refused",
            reason="invalid",
            serving=kb.kb_version,
            problems=problem_fields(exc.problems),
            **req.fields(),
        )
        return kb_refused_message(exc.problems, serving=kb.kb_version)
    log.info("kb.reloaded", **reload_fields(result), **req.fields())
    audit(deps, "kb.reloaded", **reload_fields(result), **req.fields())
    return kb_reload_message(result)
