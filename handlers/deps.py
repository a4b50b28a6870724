"""What the Slack handlers need from the composition root, as interfaces.

Handlers never import ``bot``; ``bot`` builds a ``Deps`` and passes it to each
module's ``register(app, deps)``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from knowledge.evaluation.gaps import GapItem
from knowledge.service import KnowledgeBase


class AuditUnavailable(RuntimeError):
    """The audit trail cannot be written: the bot must not answer."""


class Auditor(Protocol):
    """The audit trail. Every method returns the record as written, flushed and
    fsynced, or raises ``AuditUnavailable`` when it could not be made durable.
    ``bot.audit.records.AnswerRecords`` implements all but ``record``."""

    def record(self, event: str, **fields: Any) -> Mapping[str, Any]:
        """Append one record."""
        ...

    def served(
        self,
        content: Mapping[str, Any],
        *,
        surface: str,
        request_id: str,
        latency_ms: float,
        **context: Any,
    ) -> Mapping[str, Any]:
        """``answer.served``: what is about to be shown, before any of it is; when this
        raises, show nothing of it."""
        ...

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
        """``answer.delivered``: how showing it went (the Slack ts, or the error)."""
        ...

    def error_reported(
        self,
        *,
        ref: str,
        error: str,
        surface: str | None = None,
        request_id: str | None = None,
        **context: Any,
    ) -> Mapping[str, Any]:
        """``error.reported``: an error a user was shown with reference ``ref``."""
        ...


class StoreUnavailable(RuntimeError):
    """A shared store (dedupe, the thread registry) cannot be reached right now."""


class EventDedupe(Protocol):
    def first_time(self, key: str) -> bool:
        """True the first time ``key`` is seen within the store's TTL.

        Raises ``StoreUnavailable`` when the store cannot say: the caller must then
        neither act on the key nor treat it as seen.
        """
        ...


class Background(Protocol):
    def submit(self, work: Callable[[], None]) -> bool:
        """Run ``work`` soon on a delivery worker, apart from the threads that ack.

        False when too much is already waiting: then ``work`` never runs.
        """
        ...

    def room(self) -> int:
        """How many more ``submit`` calls would be taken now."""
        ...


class KeyValueStore(Protocol):
    """Values kept for a while (``bot.stores.ttl.TtlStore``): the threads the bot answered
    in. Both methods raise ``StoreUnavailable`` when the store cannot answer."""

    def remember(self, key: str, value: str, ttl_seconds: float | None = None) -> None:
        """Set ``key`` to ``value`` for ``ttl_seconds`` (the store's own TTL if None)."""
        ...

    def recall(self, key: str) -> str | None:
        """The value of ``key``, or None when it was never set or has expired."""
        ...


@dataclass(frozen=True)
class PastQuestion:
    """A question someone asked, as the audit trail recorded it."""

    question: str
    request_id: str
    answered: bool
    at: dt.datetime | None = None


class AuditHistory(Protocol):
    """What the audit trail can tell the Slack surfaces about the past."""

    def recent_questions(self, user: str, limit: int = 5) -> list[PastQuestion]:
        """``user``'s last distinct questions, newest first."""
        ...

    def gap_items(self, since: dt.datetime) -> list[GapItem]:
        """Refusals for lack of an article and answers marked not helpful since ``since``."""
        ...


# The BoltContext key under which the composition root leaves each request's AckReceipt.
ACK_RECEIPT = "ack_receipt"


class AckReceipt(Protocol):
    def wait(self, timeout: float) -> str | None:
        """After ``ack()``: None once the acknowledgement went out within Slack's time;
        otherwise why it did not (``ack_timeout``)."""
        ...


@dataclass(frozen=True)
class Admins:
    """Who may change the knowledge base from Slack, per workspace.

    ``LICENSEBOT_ADMINS`` entries are ``T…:U…`` (that user in that workspace) or a bare
    ``U…``, which counts in whichever workspace the request comes from: only
    single-workspace mode accepts those, because with many installs the same id could
    be claimed by another workspace.
    """

    entries: frozenset[str] = frozenset()

    def allows(self, team: str | None, user: str) -> bool:
        if not user:
            return False
        return user in self.entries or (team is not None and f"{team}:{user}" in self.entries)


@dataclass(frozen=True)
class Deps:
    kb: KnowledgeBase
    audit: Auditor
    dedupe: EventDedupe
    # Slow Web API work (answers to mentions and DMs, button follow-ups, reloads) goes
    # here, so the listener threads stay free to ack commands within Slack's 3 s.
    background: Background
    admins: Admins = Admins()
    top_k: int = 3
    bot_version: str = "0"
    # How often replicas look for knowledge-base changes (None or 0: never), for /kb status.
    kb_poll_seconds: float | None = None
    # The name /kb status gives this replica; None: host:pid.
    replica: str | None = None
    # The thread registry; None: no follow-ups without a mention.
    conversations: KeyValueStore | None = None
    # The audit trail read back (a user's last questions, the gaps); None: not shown.
    history: AuditHistory | None = None
    # The app runs Slack's agent messaging experience (manifest-agent.yml).
    agent_view: bool = False
