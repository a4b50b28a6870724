"""``/kb status|sources|reload|add|gaps|help``: knowledge-base administration from Slack.

``status`` and ``sources`` are open to everyone and answered in the acknowledgement.
``reload``, ``add`` and ``gaps [days]`` are for the user ids in ``LICENSEBOT_ADMINS``;
anyone else is refused politely and the attempt is audited (``admin.denied``). A reload is
acknowledged at once with "Reloading…", which is then replaced through
``response_url`` as the stages finish and finally by the diff (or every problem).

Adding an article is a file sent to the bot in a DM: see ``handlers.kb_upload``, whose
listener this module registers too (before ``handlers.mention``'s catch-all DM listener).
"""

from __future__ import annotations

import datetime as dt
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
    kb_denied_message,
    kb_progress_message,
    kb_sources_message,
    kb_status_message,
    kb_usage_message,
    notice_message,
)
from handlers.blocks_home import gaps_message
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
    denied,
    is_admin,
)
from handlers.kb_reload import reload_and_report
from knowledge.evaluation.gaps import DEFAULT_DAYS, MAX_DAYS, gaps_digest
from knowledge.store.admin import directory_version, not_writable_reason

COMMAND = "/kb"
RELOAD_TITLE = "Reloading the knowledge base…"
_HELP_WORDS = frozenset({"", "help", "-h", "--help", "?", "usage"})
MAX_GAPS_IN_SLACK = 20

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
    counts: dict[str, int] = {}
    for passage in snap.passages:
        counts[passage.doc_id] = counts.get(passage.doc_id, 0) + 1
    return kb_sources_message(list(snap.articles.values()), counts, kb_version=snap.kb_version)


def run_reload(deps: Deps, client: WebClient, req: KbRequest) -> None:
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

    reporter = ProgressMessage(RELOAD_TITLE, progress, final)
    sent = reporter.finish(reload_and_report(deps, req, reporter.on_stage))
    if not sent.ok:
        log.error(
            "delivery.failed",
            request_id=req.request_id,
            surface=req.surface,
            error=sent.error,
            via="response_url",
        )


def gaps_reply(deps: Deps, args: list[str]) -> Message:
    """``/kb gaps [days]``: the digest of the last ``days`` (default 7, 1 to 365)."""
    days = DEFAULT_DAYS
    if args:
        if len(args) > 1 or not args[0].isdigit() or not 1 <= int(args[0]) <= MAX_DAYS:
            return kb_usage_message(unknown="gaps " + " ".join(args))
        days = int(args[0])
    if deps.history is None:
        return notice_message("The audit trail cannot be read here, so there is no digest.")
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    try:
        items = deps.history.gap_items(since)
    except OSError as exc:
        log.error("kb.gaps_unavailable", error=str(exc))
        return notice_message("The audit trail cannot be read right now; try again later.")
    gaps = gaps_digest(items, deps.kb.snapshot.analyzer, limit=MAX_GAPS_IN_SLACK)
    return gaps_message(gaps, days=days, items=len(items))


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
        elif sub in ("reload", "add", "gaps") and not is_admin(deps, req.user):
            action = {
                "reload": "reload the knowledge base",
                "add": "add articles",
                "gaps": "see the gaps digest",
            }[sub]
            denied(deps, req, f"/kb {sub}")
            ack_with(ack, kb_denied_message(action))
        elif sub == "reload":
            ack_with(ack, kb_progress_message(RELOAD_TITLE, ()))
            run_reload(deps, client, req)
        elif sub == "add":
            ack_with(ack, kb_add_instructions_message())
        elif sub == "gaps":
            ack_with(ack, gaps_reply(deps, words[1:]))
        else:
            ack_with(ack, kb_usage_message(unknown=words[0]))

    app.command(COMMAND)(on_kb)
    kb_upload.register(app, deps)
