"""What the Slack handlers need from the composition root, as interfaces.

Handlers never import ``bot``; ``bot`` builds a ``Deps`` and passes it to each
module's ``register(app, deps)``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from knowledge.evaluation.gaps import GapItem
from knowledge.service import KnowledgeBase


class AuditUnavailable(RuntimeError):
    """The audit trail cannot be written: the bot must not answer."""


class Auditor(Protocol):
    def record(self, event: str, **fields: Any) -> Mapping[str, Any]:
        """Append one record, flushed and fsynced before returning.

        Raises ``AuditUnavailable`` when the record could not be made durable.
        """
        ...


class EventDedupe(Protocol):
    def first_time(self, key: str) -> bool:
        """True the first time ``key`` is seen within the store's TTL."""
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


@dataclass(frozen=True)
class Deps:
    kb: KnowledgeBase
    audit: Auditor
    dedupe: EventDedupe
    admins: frozenset[str] = frozenset()
    top_k: int = 3
    bot_version: str = "0"
    extras: Mapping[str, Any] = field(default_factory=dict)
