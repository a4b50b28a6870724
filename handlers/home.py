"""The Home tab (``app_home_opened`` with ``tab: "home"``): published with ``views.publish``.

Its buttons: *Previous* / *Next* page through the sources, *Ask again* (and the example
questions) answer in the user's direct message with the bot, *Reload* (admins) reloads
the knowledge base and publishes the tab again with the report.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import structlog
from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from handlers.blocks_home import (
    ACTION_HOME_ASK,
    ACTION_HOME_RELOAD,
    ACTION_HOME_SOURCES,
    MAX_RECENT,
    AdminHome,
    HomeState,
    decode_ask,
    decode_page,
    home_view,
)
from handlers.common import (
    AnswerFlow,
    AskRequest,
    api_error,
    context_team,
    received_at,
    request_id,
)
from handlers.deps import Deps
from handlers.kb_common import KbRequest, denied, is_admin
from handlers.kb_reload import reload_and_report
from handlers.threads import Conversations, Reply, answer_turn
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


def home_state(deps: Deps, user: str, *, page: int = 0) -> HomeState:
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
    if is_admin(deps, user):
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
    deps: Deps, client: WebClient, user: str, *, channel: str | None, page: int = 0
) -> bool:
    view = home_view(home_state(deps, user, page=page))
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


def register(app: App, deps: Deps) -> None:
    flow = AnswerFlow(deps)
    conversations = Conversations(deps.conversations)

    def home_tab(event: dict[str, Any]) -> bool:
        return event.get("tab") == HOME_TAB

    def on_home_opened(event: dict[str, Any], client: WebClient) -> None:
        user = event.get("user")
        if not isinstance(user, str) or not user:
            return
        channel = event.get("channel")
        publish(deps, client, user, channel=channel if isinstance(channel, str) else None)

    def clicked(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        user = str((body.get("user") or {}).get("id") or "")
        return user, _metadata(body.get("view"))

    def on_sources_page(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        user, meta = clicked(body)
        try:
            page = decode_page(str(action.get("value")))
        except ValueError:
            log.warning("action.bad_value", action=ACTION_HOME_SOURCES, user=user)
            page = 0
        publish(deps, client, user, channel=meta.get("c"), page=page)

    def on_ask(
        ack: Ack,
        body: dict[str, Any],
        action: dict[str, Any],
        context: BoltContext,
        client: WebClient,
    ) -> None:
        ack()
        user, meta = clicked(body)
        try:
            question = decode_ask(str(action.get("value")))
        except ValueError:
            log.warning("action.bad_value", action=ACTION_HOME_ASK, user=user)
            return
        # The direct message with the bot (from app_home_opened); the user id opens it too.
        channel = meta.get("c") if isinstance(meta.get("c"), str) else user
        req = AskRequest(
            request_id=request_id(context),
            surface="home",
            question=question,
            user=user,
            channel=str(channel),
            team=context_team(context),
            started=received_at(context),
        )
        answer_turn(flow, conversations, client, req, conversation=None, reply=Reply(None))

    def on_reload(ack: Ack, body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
        ack()
        user, meta = clicked(body)
        req = KbRequest(
            request_id=request_id(context),
            surface="home",
            user=user,
            channel=str(meta.get("c") or ""),
            team=context_team(context),
        )
        if not is_admin(deps, user):
            denied(deps, req, "home reload")
        else:
            reload_and_report(deps, req)
        publish(deps, client, user, channel=meta.get("c"), page=int(meta.get("p") or 0))

    app.event("app_home_opened", matchers=[home_tab])(on_home_opened)
    app.action(ACTION_HOME_SOURCES)(on_sources_page)
    app.action(ACTION_HOME_ASK)(on_ask)
    app.action(ACTION_HOME_RELOAD)(on_reload)
