"""``/kb status|sources|reload|add|gaps|help``: knowledge-base administration from Slack.

``status`` and ``sources`` are open to everyone and answered in the acknowledgement
(``status`` names the replica and the directory to admins only).
``reload``, ``add`` and ``gaps [days]`` are for the user ids in ``LICENSEBOT_ADMINS``;
anyone else is refused politely and the attempt is audited (``admin.denied``). A reload is
acknowledged at once with "Reloading…", which is then replaced through
``response_url`` as the stages finish and finally by the diff (or every problem); it
runs in the delivery pool, off the threads that ack commands.

Adding an article is a file sent to the bot in a DM: see ``handlers.kb.upload``.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from typing import Any

import structlog
from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from handlers.blocks.home import gaps_message
from handlers.blocks.kb import (
    kb_add_instructions_message,
    kb_denied_message,
    kb_progress_message,
    kb_sources_message,
    kb_status_message,
    kb_usage_message,
)
from handlers.blocks.kit import Message
from handlers.blocks.notices import notice_message
from handlers.commands import ack_with, is_help
from handlers.deps import Deps
from handlers.kb.admin import (
    KbRequest,
    ProgressMessage,
    denied,
    is_admin,
)
from handlers.kb.reload import reload_and_report
from handlers.replies import (
    Delivered,
    in_background,
    private_payload,
    send_response,
    tell_privately,
)
from handlers.requests import context_team, request_id, response_url_of, slack_to_plain
from knowledge.evaluation.gaps import DEFAULT_DAYS, MAX_DAYS, gaps_digest
from knowledge.store.admin import directory_version, not_writable_reason

COMMAND = "/kb"
RELOAD_TITLE = "Reloading the knowledge base…"
MAX_GAPS_IN_SLACK = 20
# The subcommands for admins only, and what anyone else is told they may not do.
ADMIN_ONLY = {
    "reload": "reload the knowledge base",
    "add": "add articles",
    "gaps": "see the gaps digest",
}
# ``/kb reload skip-invalid``: serve the valid articles, list the invalid ones.
_SKIP_WORDS = frozenset({"skip-invalid", "--skip-invalid", "skip_invalid"})

log = structlog.get_logger("licensebot.kb")


def replica_name(deps: Deps) -> str:
    """Which replica answers: ``deps.replica`` if the composition root named it."""
    return deps.replica or f"{socket.gethostname()}:{os.getpid()}"


def status_message(deps: Deps, *, admin: bool) -> Message:
    """``/kb status``; the host, pid and directory path only for an ``admin``."""
    kb = deps.kb
    try:
        on_disk: str | None = directory_version(kb.kb_dir)
    except OSError:
        on_disk = None
    return kb_status_message(
        kb.status(),
        replica=replica_name(deps),
        directory_version=on_disk,
        poll_seconds=deps.kb_poll_seconds,
        add_blocked=not_writable_reason(kb),
        server_details=admin,
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

    reporter = ProgressMessage(RELOAD_TITLE, progress, final)
    sent = reporter.finish(
        reload_and_report(deps, req, reporter.on_stage, skip_invalid=skip_invalid)
    )
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


class KbCommand:
    """``/kb``: one subcommand per word; the usage for none, help or an unknown one."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def on_command(
        self, ack: Ack, command: dict[str, Any], context: BoltContext, client: WebClient
    ) -> None:
        deps = self.deps
        words = slack_to_plain(str(command.get("text") or "")).split()
        sub = words[0].casefold() if words else ""
        req = KbRequest(
            request_id=request_id(context),
            surface="kb_command",
            user=str(command.get("user_id") or ""),
            channel=str(command.get("channel_id") or ""),
            team=context_team(context),
            response_url=response_url_of(command),
        )
        if not sub or is_help(sub):
            ack_with(ack, kb_usage_message())
        elif sub == "status":
            ack_with(ack, status_message(deps, admin=is_admin(deps, req)))
        elif sub == "sources":
            ack_with(ack, sources_message(deps))
        elif sub in ADMIN_ONLY and not is_admin(deps, req):
            denied(deps, req, f"/kb {sub}")
            action = ADMIN_ONLY[sub]
            ack_with(ack, kb_denied_message(action))
        elif sub == "reload" and not set(w.casefold() for w in words[1:]) <= _SKIP_WORDS:
            ack_with(ack, kb_usage_message(unknown=" ".join(words)))
        elif sub == "reload":
            ack_with(ack, kb_progress_message(RELOAD_TITLE, ()))
            skip_invalid = len(words) > 1
            in_background(
                deps,
                lambda: run_reload(deps, client, req, skip_invalid=skip_invalid),
                request_id=req.request_id,
                surface=req.surface,
            )
        elif sub == "add":
            ack_with(ack, kb_add_instructions_message())
        elif sub == "gaps":
            ack_with(ack, gaps_reply(deps, words[1:]))
        else:
            ack_with(ack, kb_usage_message(unknown=words[0]))


def register(app: App, deps: Deps) -> None:
    app.command(COMMAND)(KbCommand(deps).on_command)
