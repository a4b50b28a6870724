"""The Slack app factory: one Bolt ``App`` with global middleware and every handler module.

A feature plugs in by adding its module (exposing ``register(app, deps)``) to
``HANDLER_MODULES``; nothing else here needs to change. ``LicenseBotApp`` records what
each module registers so the manifest can be checked against the running app.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from re import Pattern
from typing import TYPE_CHECKING, Any, TypeVar, cast

import structlog
from slack_bolt import Ack, App, BoltContext, BoltRequest, BoltResponse
from slack_sdk import WebClient

from bot import __version__
from bot.audit.backend import open_history
from bot.dedupe import claim_event, event_id_of
from bot.delivery.ack_receipt import Receipt, pending_receipt
from bot.delivery.client import build_web_client
from bot.delivery.intake import CLAIMED, EventIntake
from bot.delivery.pool import DeliveryPool
from bot.http.signature import was_verified
from bot.settings import Settings, SettingsError
from bot.stores.choose import conversation_store, dedupe_store
from handlers.blocks.notices import failure_message
from handlers.deps import ACK_RECEIPT, Admins, Auditor, Background, Deps, StoreUnavailable
from handlers.replies import private_payload, report_crash
from handlers.requests import new_request_id
from knowledge.service import KnowledgeBase

if TYPE_CHECKING:
    from bot.installs import Installs

# One line per feature module; each exposes register(app: App, deps: Deps) -> None.
HANDLER_MODULES: tuple[str, ...] = (
    "handlers.ask",
    "handlers.timeline",
    "handlers.kb.command",
    # Before handlers.conversation, whose DM listener takes every message: Bolt runs the
    # first listener that matches, and these take only file shares and thread replies.
    "handlers.kb.upload",
    "handlers.followup",
    "handlers.conversation",
    "handlers.answer_buttons",
    "handlers.feedback_form",
    "handlers.home",
    "handlers.agent",
    "handlers.claims",
)

# Listener threads: commands hold one until they ack, so keep plenty free. Listeners only
# decide and ack; their slow Web API work runs in deps.background (bot.delivery.pool).
LISTENER_WORKERS = 32

log = structlog.get_logger("licensebot.app")

ListenerDecorator = Callable[..., Callable[..., BoltResponse | None] | None]
Constraint = str | Pattern[Any] | dict[str, Any]


@dataclass
class Registrations:
    """What the handler modules asked Bolt to listen to (for the manifest check)."""

    commands: set[str] = field(default_factory=set)
    events: set[str] = field(default_factory=set)
    actions: set[str] = field(default_factory=set)
    shortcuts: set[str] = field(default_factory=set)
    views: set[str] = field(default_factory=set)


def _name(constraint: Constraint, key: str) -> str:
    if isinstance(constraint, dict):
        value = constraint.get(key) or constraint.get("type")
        return value.pattern if isinstance(value, Pattern) else str(value)
    return constraint.pattern if isinstance(constraint, Pattern) else constraint


_Listen = TypeVar("_Listen", bound=Callable[..., ListenerDecorator])


def _recorded(listen: _Listen, kind: str, key: str | None) -> _Listen:
    """Bolt's ``listen`` method, first noting in ``registrations.<kind>`` what it listens to.

    ``key`` names the constraint's field that holds the name; ``None`` when every listener
    of the method is for the one event named like it (``message``).
    """
    signature = inspect.signature(listen)

    @functools.wraps(listen)
    def recording(self: LicenseBotApp, *args: Any, **kwargs: Any) -> ListenerDecorator:
        # Bound like Bolt's own signature, so keyword and positional callers both work.
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        _, constraint = list(bound.arguments.values())[:2]
        name = listen.__name__ if key is None else _name(constraint, key)
        getattr(self.registrations, kind).add(name)
        return listen(self, *args, **kwargs)

    return cast(_Listen, recording)


class LicenseBotApp(App):
    """A Bolt ``App`` that remembers its listeners' commands, events and action ids."""

    def __init__(self, **kwargs: Any) -> None:
        self.registrations = Registrations()
        # The listeners' threads, so that a shutdown can wait for answers in flight.
        self.listener_pool: ThreadPoolExecutor | None = kwargs.get("listener_executor")
        # The HTTP server verifies requests with it before Bolt sees them.
        self.signing_secret: str = kwargs.get("signing_secret") or ""
        # The HTTP server acknowledges events through it (create_app sets it).
        self.event_intake: EventIntake | None = None
        super().__init__(**kwargs)

    command = _recorded(App.command, "commands", "command")
    event = _recorded(App.event, "events", "type")
    message = _recorded(App.message, "events", None)
    action = _recorded(App.action, "actions", "action_id")
    block_action = _recorded(App.block_action, "actions", "action_id")
    shortcut = _recorded(App.shortcut, "shortcuts", "callback_id")
    global_shortcut = _recorded(App.global_shortcut, "shortcuts", "callback_id")
    message_shortcut = _recorded(App.message_shortcut, "shortcuts", "callback_id")
    view = _recorded(App.view, "views", "callback_id")
    view_submission = _recorded(App.view_submission, "views", "callback_id")
    view_closed = _recorded(App.view_closed, "views", "callback_id")

    def dispatch(self, req: BoltRequest) -> BoltResponse:
        """Bolt's dispatch, telling the request's ``AckReceipt`` whether the response is
        the listener's ack (see ``bot.delivery.ack_receipt``)."""
        receipt = pending_receipt()
        over_http = receipt is not None
        if receipt is None:
            at = req.context.get("received_at")
            receipt = Receipt(at if isinstance(at, float) else None)
        req.context[ACK_RECEIPT] = receipt
        response = super().dispatch(req)
        ack = req.context.get("ack")
        acked = isinstance(ack, Ack) and ack.response is not None and response is ack.response
        receipt.dispatched(carries_ack=acked)
        if not over_http:
            # Socket Mode sends the response as soon as this returns.
            receipt.sent(response.status)
        return response


# --------------------------------------------------------------------------- middleware


def _request_context(context: BoltContext, next: Callable[[], None]) -> None:
    # The HTTP adapter sets these on arrival; Socket Mode requests get them here.
    if not isinstance(context.get("request_id"), str):
        context["request_id"] = new_request_id()
    if not isinstance(context.get("received_at"), float):
        context["received_at"] = time.monotonic()
    next()


def _dedupe_middleware(deps: Deps) -> Callable[..., BoltResponse | None]:
    def dedupe_events(
        body: dict[str, Any], request: BoltRequest, next: Callable[[], None]
    ) -> BoltResponse | None:
        event_id = event_id_of(body)
        if event_id is not None:
            # Over HTTP the server claimed it before acknowledging (bot.delivery.intake).
            if request.context.get(CLAIMED) is not True:
                refusal = claim_event(deps.dedupe, event_id, request.headers)
                if refusal is not None:
                    return refusal
        elif _is_replay(deps, body):
            # An empty 200 shows nothing: the replay does nothing visible either.
            return BoltResponse(status=200, body="")
        next()
        return None

    return dedupe_events


def _is_replay(deps: Deps, body: dict[str, Any]) -> bool:
    """A command, button click or other interaction seen before, by its ``trigger_id``.

    Slack makes a new trigger id for each one and never re-sends them, so a second
    request with the same id is a captured request played again (its signature stays
    valid for 300 s). This runs after Bolt's signature check: only signed requests count.

    When the dedupe store cannot be reached the request is taken as new (and that logged):
    unlike an event, Slack never re-sends a refused command or click, so refusing would
    fail every one of them for the outage, against a replay that needs a captured request.
    """
    trigger_id = body.get("trigger_id")
    if not isinstance(trigger_id, str) or not trigger_id:
        return False
    kind = body.get("command") or body.get("type")
    try:
        first = deps.dedupe.first_time(f"trigger:{trigger_id}")
    except StoreUnavailable as exc:
        log.error("request.dedupe_unavailable", trigger_id=trigger_id, kind=kind, error=str(exc))
        return False
    if first:
        return False
    log.warning("request.replayed", trigger_id=trigger_id, kind=kind)
    return True


def _is_command(body: dict[str, Any]) -> bool:
    return isinstance(body.get("command"), str)


def _on_unhandled_error(
    error: Exception, request: BoltRequest, response: BoltResponse | None
) -> BoltResponse | None:
    """Last resort: log with the reference, tell the user briefly, never leak a traceback.

    Only a verified request is answered: an unverified body's ``response_url`` and fields
    are the sender's choice, so such a request is refused without reading them.
    """
    ref = request.context.get("request_id")
    ref = ref if isinstance(ref, str) else new_request_id()
    if not was_verified(request):
        log.error("request.unverified_error", request_id=ref, error=type(error).__name__)
        return BoltResponse(status=401, body="")
    body = request.body if isinstance(request.body, dict) else {}
    not_acked = response is not None and response.status >= 500
    if _is_command(body) and not_acked:
        log.error("listener.error", request_id=ref, kind=body.get("command"), exc_info=error)
        return BoltResponse(
            status=200,
            headers={"content-type": "application/json;charset=utf-8"},
            body=json.dumps(private_payload(failure_message(ref))),
        )
    report_crash(request.context.client, body, ref, error)
    if not_acked and body.get("type") != "event_callback":
        # The user has been told; a 500 would only add Slack's own error on top.
        return BoltResponse(status=200, body="")
    return None


# --------------------------------------------------------------------------- factory


def build_deps(
    settings: Settings,
    *,
    kb: KnowledgeBase,
    audit: Auditor,
    workers: int = 1,
    background: Background | None = None,
    replica: str | None = None,
) -> Deps:
    """The handlers' dependencies from the settings; ``workers`` (processes serving on this
    host) picks the event dedupe store (``bot.stores.choose.dedupe_store``); a
    ``DeliveryPool`` of its own unless ``background`` is given; ``replica`` names this
    replica in ``/kb status`` (default: host:pid). Threads the bot answered in are kept
    in ``conversation_store`` (SQLite or Redis, never memory)."""
    return Deps(
        kb=kb,
        audit=audit,
        dedupe=dedupe_store(settings, workers),
        background=background if background is not None else DeliveryPool(),
        admins=Admins(settings.admins),
        top_k=settings.top_k,
        bot_version=__version__,
        kb_poll_seconds=settings.kb_poll_seconds,
        replica=replica,
        conversations=conversation_store(settings),
        history=open_history(settings),
        agent_view=settings.agent_view,
    )


def create_app(
    settings: Settings,
    deps: Deps,
    *,
    client: WebClient | None = None,
    verify_token: bool = False,
    installs: Installs | None = None,
) -> LicenseBotApp:
    """The Bolt app with every module in ``HANDLER_MODULES`` registered.

    ``verify_token`` calls ``auth.test`` now instead of on the first request (single
    workspace). With ``installs`` (``bot.installs``) the app serves every workspace that
    installed it through the OAuth flow, and has no token of its own.
    """
    if installs is None and settings.slack_bot_token is None:
        raise SettingsError("missing setting SLACK_BOT_TOKEN (the bot's xoxb- token)")
    secret = settings.slack_signing_secret
    web = client or build_web_client(settings)
    # Many workspaces: each request gets its workspace's token from the installation store.
    oauth: dict[str, Any] = {}
    if installs is not None:
        from bot.installs import authorize, oauth_settings  # noqa: PLC0415  (SQLAlchemy)

        oauth = {
            "installation_store": installs.installation_store,
            "oauth_settings": oauth_settings(settings, installs, deps.audit),
            "authorize": authorize(settings, installs, web),
        }
    app = LicenseBotApp(
        name="licensebot",
        client=web,
        # Socket Mode needs no signing secret; an empty one rejects every HTTP request.
        signing_secret=secret.get_secret_value() if secret is not None else "",
        token_verification_enabled=verify_token and installs is None,
        process_before_response=False,
        listener_executor=ThreadPoolExecutor(
            max_workers=LISTENER_WORKERS, thread_name_prefix="bolt-listener"
        ),
        **oauth,
    )
    if installs is not None:
        # app_uninstalled / tokens_revoked delete what the store holds for that workspace.
        app.enable_token_revocation_listeners()
    app.event_intake = EventIntake(deps.dedupe, app.dispatch, deps.background)
    app.middleware(_request_context)
    app.middleware(_dedupe_middleware(deps))
    app.error(_on_unhandled_error)
    for name in HANDLER_MODULES:
        importlib.import_module(name).register(app, deps)
    log.info(
        "app.created",
        handlers=list(HANDLER_MODULES),
        commands=sorted(app.registrations.commands),
        events=sorted(app.registrations.events),
    )
    return app
