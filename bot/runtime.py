"""What one serving process runs (a single ``licensebot serve``, or each of its workers):
the audit trail, the handlers' dependencies, the Bolt app and, with OAuth, the
installation stores; built once, closed once, in that order reversed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog

from bot.answerer import AnswererLink
from bot.app import LicenseBotApp, build_deps, create_app
from bot.audit.backend import Trail, open_audit_trail, trail_location
from bot.delivery.pool import DeliveryPool
from bot.server import Readiness, deps_readiness
from bot.settings import Settings
from handlers.deps import Deps
from knowledge.service import KnowledgeBase

if TYPE_CHECKING:
    from bot.installs import Installs

# At shutdown, how long listeners still deciding may take (they only decide and ack;
# what they hand over goes to the delivery pool)...
DRAIN_LISTENERS_S = 3.0
# ...and how long answers already accepted get to go out and be audited before the trail
# is closed under them.
DELIVERY_DRAIN_S = 10.0

log = structlog.get_logger("licensebot.runtime")


class InstallsUnavailable(Exception):
    """The installation store (OAuth installs) cannot be opened; the message says why."""


@dataclass
class Runtime:
    settings: Settings
    kb: KnowledgeBase
    audit: Trail
    deps: Deps
    app: LicenseBotApp
    deliveries: DeliveryPool
    installs: Installs | None = None
    answerer: AnswererLink | None = None

    def readiness(self) -> Readiness:
        return deps_readiness(self.deps)

    def start_answerer(self, log_fields: dict[str, Any] | None = None) -> AnswererLink | None:
        """With ``LICENSEBOT_ANSWER_PROCESS``, acknowledged events go to an answerer
        process (``bot.answerer``) from now on; for serving over HTTP. ``log_fields`` go
        on its log lines (a worker's pid, as on the worker's own)."""
        intake = self.app.event_intake
        if self.settings.answer_process and intake is not None:
            self.answerer = AnswererLink(self.settings, self.kb.kb_version, log_fields)
            intake.forward = self.answerer.forward
        return self.answerer

    def close(self) -> None:
        """Let acknowledged answers finish, then close the stores and the trail."""
        intake = self.app.event_intake
        if intake is not None:
            intake.close(DRAIN_LISTENERS_S)
        if self.answerer is not None:
            self.answerer.close()
        drain_listeners(self.app, DRAIN_LISTENERS_S)
        self.deliveries.close(DELIVERY_DRAIN_S)
        close_stores(self.deps, self.installs)
        self.audit.close()


def open_runtime(
    settings: Settings, kb: KnowledgeBase, *, workers: int = 1, verify_token: bool = True
) -> Runtime:
    """Everything one serving process needs; raises what ``create_app`` raises, or
    ``InstallsUnavailable`` (nothing is left open then)."""
    audit = open_audit_trail(settings)
    if not audit.healthy:
        log.error(
            "audit.unavailable",
            trail=trail_location(settings),
            error=audit.last_error,
            effect="answers are withheld until it can be written",
        )
    deps: Deps | None = None
    installs: Installs | None = None
    deliveries = DeliveryPool()
    try:
        deps = build_deps(settings, kb=kb, audit=audit, workers=workers, background=deliveries)
        if settings.oauth_enabled:
            from bot.installs import open_installs  # noqa: PLC0415  (SQLAlchemy: see there)

            installs = open_installs(settings)
        app = create_app(settings, deps, verify_token=verify_token, installs=installs)
    except BaseException:
        deliveries.close(0)
        close_stores(deps, installs)
        audit.close()
        raise
    return Runtime(settings, kb, audit, deps, app, deliveries, installs)


def close_stores(deps: Deps | None, installs: Installs | None) -> None:
    close = getattr(deps.dedupe, "close", None) if deps is not None else None
    if callable(close):
        close()
    if installs is not None:
        installs.close()


def drain_listeners(app: LicenseBotApp, timeout: float) -> None:
    """Wait (at most ``timeout``) for Bolt's listener threads to finish their work."""
    pool = app.listener_pool
    if pool is None:
        return
    waiter = threading.Thread(target=pool.shutdown, kwargs={"wait": True}, daemon=True)
    waiter.start()
    waiter.join(timeout)
    if waiter.is_alive():
        log.warning("server.listeners_unfinished", waited_s=timeout)
