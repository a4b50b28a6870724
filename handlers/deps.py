"""What the Slack handlers need from the composition root, as interfaces.

Handlers never import ``bot``; ``bot`` builds a ``Deps`` and passes it to each
module's ``register(app, deps)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from knowledge.service import KnowledgeBase


class AuditUnavailable(RuntimeError):
    """The audit trail cannot be written: the bot must not answer."""


class Auditor(Protocol):
    def record(self, event: str, **fields: Any) -> Mapping[str, Any]:
        """Append one record, flushed and fsynced before returning.

        Raises ``AuditUnavailable`` when the record could not be made durable.
        """
        ...


class StoreUnavailable(RuntimeError):
    """A shared store (dedupe, later the thread registry) cannot be reached right now."""


class EventDedupe(Protocol):
    def first_time(self, key: str) -> bool:
        """True the first time ``key`` is seen within the store's TTL.

        Raises ``StoreUnavailable`` when the store cannot say: the caller must then
        neither act on the key nor treat it as seen.
        """
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
