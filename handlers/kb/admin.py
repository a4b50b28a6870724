"""What the knowledge-base admin surfaces share: who asked, admin checks, auditing,
and a progress message that is updated in order while a reload runs."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import structlog

from handlers.blocks.kb import kb_progress_message
from handlers.blocks.kit import Message
from handlers.deps import Deps
from handlers.kb.records import record_kb_event
from handlers.replies import Delivered
from knowledge.service import ReloadStage

log = structlog.get_logger("licensebot.kb")

# A final message waits at most this long for the progress messages queued before it.
FINAL_SEND_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class KbRequest:
    """One admin-surface request: who, where, and how to reply."""

    request_id: str
    surface: str  # "kb_command" | "kb_upload"
    user: str
    channel: str
    team: str | None = None
    response_url: str | None = None

    def fields(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "surface": self.surface,
            "user": self.user,
            "channel": self.channel,
            "team": self.team,
        }


def is_admin(deps: Deps, user: str) -> bool:
    return bool(user) and user in deps.admins


def audit(deps: Deps, event: str, **fields: Any) -> bool:
    """``record_kb_event`` on the handlers' audit trail."""
    return record_kb_event(deps.audit, event, **fields)


def denied(deps: Deps, req: KbRequest, action: str) -> None:
    log.info("admin.denied", user=req.user, action=action, request_id=req.request_id)
    audit(deps, "admin.denied", action=action, **req.fields())


class ProgressMessage:
    """A message updated as reload stages finish, without slowing the reload down.

    Stage updates are sent in order on one worker thread; one overtaken by a newer
    update before it went out is skipped, and ``finish`` sends the final message
    after everything queued before it.
    """

    def __init__(
        self,
        title: str,
        send_progress: Callable[[Message], Delivered],
        send_final: Callable[[Message], Delivered],
    ) -> None:
        self.title = title
        self._send_progress = send_progress
        self._send_final = send_final
        self._stages: list[ReloadStage] = []
        self._seq = 0
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kb-progress")

    def start(self) -> None:
        self._queue(kb_progress_message(self.title, ()))

    def on_stage(self, stage: ReloadStage) -> None:
        """A ``ReloadProgress`` callback: never blocks on Slack."""
        with self._lock:
            self._stages.append(stage)
            stages = tuple(self._stages)
        self._queue(kb_progress_message(self.title, stages))

    def finish(self, message: Message) -> Delivered:
        with self._lock:
            self._seq += 1
        try:
            return self._pool.submit(self._send_final, message).result(FINAL_SEND_TIMEOUT_S)
        finally:
            self._pool.shutdown(wait=False)

    def _queue(self, message: Message) -> None:
        with self._lock:
            self._seq += 1
            seq = self._seq
        self._pool.submit(self._send_if_current, seq, message)

    def _send_if_current(self, seq: int, message: Message) -> None:
        with self._lock:
            if seq != self._seq:
                return
        sent = self._send_progress(message)
        if not sent.ok:
            log.warning("kb.progress_not_sent", title=self.title, error=sent.error)
