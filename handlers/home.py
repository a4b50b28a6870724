"""The Home tab (``app_home_opened`` with ``tab: "home"``): published with ``views.publish``.

Its buttons: *Previous* / *Next* page through the sources, *Ask again* (and the example
questions) answer in the user's direct message with the bot, *Reload* (admins) reloads
the knowledge base and publishes the tab again with the report.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from typing import Any

import structlog
from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from handlers.blocks.home import MAX_RECENT, AdminHome, HomeState, home_view
from handlers.blocks.refs import (
    ACTION_HOME_ASK,
    ACTION_HOME_RELOAD,
    ACTION_HOME_SOURCES,
    decode_ask,
    decode_page,
)
from handlers.buttons import Button, Click
from handlers.deps import Deps
from handlers.kb.admin import KbRequest, denied, is_admin
from handlers.kb.reload import reload_and_report
from handlers.replies import api_error, in_background
from handlers.requests import context_team, request_id
from handlers.threads import Reply, Turns
from knowledge.evaluation.gaps import DEFAULT_DAYS, gaps_digest

log = structlog.get_logger("licensebot.slack")

HOME_TAB = "home"
HISTORY_UNAVAILABLE = "Your last questions cannot be read right now."


def _metadata(view: dict[str, Any] | None) -> dict[str, Any]:
    """What the published view remembers: the DM channel and the page."""
    raw = (view or {}).get("private_metadata")
    try:
        data = json.loads(raw) if isinstance(raw, str) and raw else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def home_state(deps: Deps, user: str, *, team: str | None, page: int = 0) -> HomeState:
    kb = deps.kb
    snap = kb.snapshot
    counts: dict[str, int] = {}
    for passage in snap.passages:
        counts[passage.doc_id] = counts.get(passage.doc_id, 0) + 1
    recent, error = [], None
    if deps.history is not None:
        try:
            recent = deps.history.recent_questions(user, MAX_RECENT)
        except OSError as exc:
            log.error("home.history_unavailable", user=user, error=str(exc))
            error = HISTORY_UNAVAILABLE
    admin = None
    if deps.admins.allows(team, user):
        since = dt.datetime.now(dt.UTC) - dt.timedelta(days=DEFAULT_DAYS)
        items = []
        if deps.history is not None:
            try:
                items = deps.history.gap_items(since)
            except OSError as exc:
                log.error("home.gaps_unavailable", user=user, error=str(exc))
        admin = AdminHome(
            gaps=gaps_digest(items, snap.analyzer),
            gap_days=DEFAULT_DAYS,
            gap_items=len(items),
        )
    return HomeState(
        status=kb.status(),
        articles=list(snap.articles.values()),
        passage_counts=counts,
        examples=kb.example_prompts(),
        recent=recent,
        page=page,
        admin=admin,
        recent_error=error,
    )


def publish(
    deps: Deps,
    client: WebClient,
    user: str,
    *,
    team: str | None,
    channel: str | None,
    page: int = 0,
) -> bool:
    view = home_view(home_state(deps, user, team=team, page=page))
    view["private_metadata"] = json.dumps({"c": channel, "p": page}, separators=(",", ":"))
    try:
        client.views_publish(user_id=user, view=view)
    except SlackApiError as exc:
        log.error("home.publish_failed", user=user, error=api_error(exc))
        return False
    except (SlackClientError, OSError) as exc:
        log.error("home.publish_failed", user=user, error=type(exc).__name__)
        return False
    log.info("home.published", user=user, page=page, blocks=len(view["blocks"]))
    return True


def _page(meta: dict[str, Any]) -> int:
    page = meta.get("p")
    return page if isinstance(page, int) and not isinstance(page, bool) and page >= 0 else 0


def _channel(meta: dict[str, Any]) -> str | None:
    channel = meta.get("c")
    return channel if isinstance(channel, str) and channel else None


_STALE = "That button no longer works; open the Home tab again."
_PAGE = Button("home_sources_page", "home", decode_page, _STALE)
_ASK = Button("home_ask", "home", decode_ask, _STALE)
_RELOAD = Button("home_reload", "home", str, _STALE)


def _view_of(click: Click) -> dict[str, Any]:
    """What the Home view clicked in remembers."""
    return _metadata(click.body.get("view"))


class Home:
    """The Home tab and its buttons; every Web API call runs in the delivery pool."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.turns = Turns(deps)

    def is_home_tab(self, event: dict[str, Any]) -> bool:
        return event.get("tab") == HOME_TAB

    def on_home_opened(
        self, event: dict[str, Any], context: BoltContext, client: WebClient
    ) -> None:
        user, channel = event.get("user"), event.get("channel")
        if not isinstance(user, str) or not user:
            return
        dm = channel if isinstance(channel, str) else None

        def run() -> None:
            publish(self.deps, client, user, team=context_team(context), channel=dm)

        in_background(self.deps, run, request_id=request_id(context), surface="home")

    def on_sources_page(self, page: int, click: Click) -> None:
        meta = _view_of(click)
        req = click.req
        publish(self.deps, click.client, req.user, team=req.team, channel=_channel(meta), page=page)

    def on_ask(self, question: str, click: Click) -> None:
        # The direct message with the bot (from app_home_opened); the user id opens it too.
        channel = _channel(_view_of(click)) or click.req.user
        req = replace(click.req, question=question, channel=channel)
        self.turns.answer(click.client, req, conversation=None, reply=Reply(None))

    def on_reload(self, _value: str, click: Click) -> None:
        user, meta = click.req.user, _view_of(click)
        req = KbRequest(
            request_id=click.req.request_id,
            surface="home",
            user=user,
            channel=_channel(meta) or "",
            team=click.req.team,
        )
        if not is_admin(self.deps, req):
            denied(self.deps, req, "home reload")
        else:
            reload_and_report(self.deps, req)
        channel, page = _channel(meta), _page(meta)
        publish(self.deps, click.client, user, team=req.team, channel=channel, page=page)


def register(app: App, deps: Deps) -> None:
    home = Home(deps)
    app.event("app_home_opened", matchers=[home.is_home_tab])(home.on_home_opened)
    app.action(ACTION_HOME_SOURCES)(_PAGE.listener(deps, home.on_sources_page))
    app.action(ACTION_HOME_ASK)(_ASK.listener(deps, home.on_ask))
    app.action(ACTION_HOME_RELOAD)(_RELOAD.listener(deps, home.on_reload))
