"""``/kb status|sources|reload|add|help``: knowledge-base administration from Slack.

``status`` and ``sources`` are open to everyone and answered in the acknowledgement.
``reload`` and ``add`` are for the user ids in ``LICENSEBOT_ADMINS``; anyone else is
refused politely and the attempt is audited (``admin.denied``). A reload is
acknowledged at once with "Reloading…", which is then replaced through
``response_url`` as the stages finish and finally by the diff (or every problem).

Adding an article is a file sent to the bot in a DM: see ``handlers.kb_upload``, whose
listener this module registers too (before ``handlers.mention``'s catch-all DM listener).
"""

from __future__ import annotations

import os
import socket
from typing import Any

import structlog
from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from handlers import kb_upload
from handlers.blocks import (
    Message,
    kb_add_instructions_message,
    kb_busy_message,
    kb_denied_message,
    kb_progress_message,
    kb_refused_message,
    kb_reload_message,
    kb_sources_message,
    kb_status_message,
    kb_usage_message,
)
from handlers.common import (
    Delivered,
    context_team,
    private_payload,
    request_id,
    send_response,
    slack_to_plain,
    tell_privately,
)
from handlers.deps import Deps
from handlers.interaction import ack_with
from handlers.kb_common import (
    KbRequest,
    ProgressMessage,
    audit,
    denied,
    is_admin,
)
from handlers.kb_records import problem_fields, reload_fields
from knowledge.service import KBInvalid, ReloadInProgress
from knowledge.store.admin import directory_version, not_writable_reason

COMMAND = "/kb"
RELOAD_TITLE = "Reloading the knowledge base…"
_HELP_WORDS = frozenset({"", "help", "-h", "--help", "?", "usage"})
# ``/kb reload skip-invalid``: serve the valid articles, list the invalid ones.
_SKIP_WORDS = frozenset({"skip-invalid", "--skip-invalid", "skip_invalid"})

log = structlog.get_logger("licensebot.kb")


def replica_name(deps: Deps) -> str:
    """Which replica answers: ``extras["replica"]`` if the composition root set it."""
    name = deps.extras.get("replica")
    return str(name) if name else f"{socket.gethostname()}:{os.getpid()}"


def status_message(deps: Deps) -> Message:
    kb = deps.kb
    try:
        on_disk: str | None = directory_version(kb.kb_dir)
    except OSError:
        on_disk = None
    poll = deps.extras.get("kb_poll_seconds")
    return kb_status_message(
        kb.status(),
        replica=replica_name(deps),
        directory_version=on_disk,
        poll_seconds=float(poll) if isinstance(poll, int | float) else None,
        add_blocked=not_writable_reason(kb),
    )


def sources_message(deps: Deps) -> Message:
    snap = deps.kb.snapshot
    counts = snap.passage_counts()
    return kb_sources_message(list(snap.articles.values()), counts, kb_version=snap.kb_version)


def run_reload(
    deps: Deps, client: WebClient, req: KbRequest, *, skip_invalid: bool = False
) -> None:
    """Reload off the serving path, showing progress, then the diff or every problem."""

    def progress(message: Message) -> Delivered:
        if req.response_url is None:
            return Delivered(ok=False, error="no_response_url")
        return send_response(
            client, req.response_url, private_payload(message, replace_original=True)
        )

    def final(message: Message) -> Delivered:
        return tell_privately(
            client,
            message,
            channel=req.channel,
            user=req.user,
            response_url=req.response_url,
            replace_original=True,
        )

    kb = deps.kb
    reporter = ProgressMessage(RELOAD_TITLE, progress, final)
    try:
        result = kb.reload(by=req.user, progress=reporter.on_stage, skip_invalid=skip_invalid)
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
        sent = reporter.finish(kb_busy_message(kb.kb_version))
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
        sent = reporter.finish(kb_refused_message(exc.problems, serving=kb.kb_version))
    else:
        log.info("kb.reloaded", **reload_fields(result), **req.fields())
        audit(deps, "kb.reloaded", **reload_fields(result), **req.fields())
        sent = reporter.finish(kb_reload_message(result))
    if not sent.ok:
        log.error(
            "delivery.failed",
            request_id=req.request_id,
            surface=req.surface,
            error=sent.error,
            via="response_url",
        )


def register(app: App, deps: Deps) -> None:
    def on_kb(ack: Ack, command: dict[str, Any], context: BoltContext, client: WebClient) -> None:
        words = slack_to_plain(str(command.get("text") or "")).split()
        sub = words[0].casefold() if words else ""
        response_url = command.get("response_url")
        req = KbRequest(
            request_id=request_id(context),
            surface="kb_command",
            user=str(command.get("user_id") or ""),
            channel=str(command.get("channel_id") or ""),
            team=context_team(context),
            response_url=response_url if isinstance(response_url, str) else None,
        )
        if sub in _HELP_WORDS:
            ack_with(ack, kb_usage_message())
        elif sub == "status":
            ack_with(ack, status_message(deps))
        elif sub == "sources":
            ack_with(ack, sources_message(deps))
        elif sub in ("reload", "add") and not is_admin(deps, req.user):
            action = "reload the knowledge base" if sub == "reload" else "add articles"
            denied(deps, req, f"/kb {sub}")
            ack_with(ack, kb_denied_message(action))
        elif sub == "reload" and not set(w.casefold() for w in words[1:]) <= _SKIP_WORDS:
            ack_with(ack, kb_usage_message(unknown=" ".join(words)))
        elif sub == "reload":
            ack_with(ack, kb_progress_message(RELOAD_TITLE, ()))
            run_reload(deps, client, req, skip_invalid=len(words) > 1)
        elif sub == "add":
            ack_with(ack, kb_add_instructions_message())
        else:
            ack_with(ack, kb_usage_message(unknown=words[0]))

    app.command(COMMAND)(on_kb)
    kb_upload.register(app, deps)
