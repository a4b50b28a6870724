"""The agent messaging surface (``features.agent_view``, ``manifest-agent.yml``).

``app_home_opened`` with ``tab: "messages"`` (the agent experience's replacement for
``assistant_thread_started``): with ``Deps.agent_view`` the Messages tab gets the
suggested prompts (``assistant.threads.setSuggestedPrompts`` without ``thread_ts``, as
the agent experience requires); the first time a user opens it, in either experience,
a short greeting with example questions is posted. ``app_context_changed`` says which
channel the user is looking at: remembered, and recorded with their next answers.
Messages in the tab are answered by ``handlers.conversation`` (in a thread, with the
"thinking" status, when ``agent_view``).
"""

from __future__ import annotations

from typing import Any

import structlog
from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from handlers.blocks.agent import PROMPTS_TITLE, greeting_message, suggested_prompts
from handlers.deps import Deps, KeyValueStore, StoreUnavailable
from handlers.replies import api_error, in_background, post_message
from handlers.requests import request_id

log = structlog.get_logger("licensebot.slack")

MESSAGES_TAB = "messages"
# A user is greeted once; the key is forgotten with the store's TTL, greeting again after.
_GREETED = "greeted:{team}:{user}"
_VIEWING = "viewing:{team}:{user}"
CHANNEL_ENTITY = "slack#/types/channel_id"


def viewing_key(team: str | None, user: str) -> str:
    return _VIEWING.format(team=team or "-", user=user)


def viewed_channel(store: KeyValueStore | None, team: str | None, user: str) -> str | None:
    """The channel ``user`` was last looking at (``app_context_changed``), if known."""
    if store is None:
        return None
    try:
        return store.recall(viewing_key(team, user))
    except StoreUnavailable:
        return None


def _first_visit(store: KeyValueStore | None, team: str | None, user: str) -> bool:
    if store is None:
        return False  # without memory, greeting on every visit would be noise
    key = _GREETED.format(team=team or "-", user=user)
    try:
        if store.recall(key) is not None:
            return False
        store.remember(key, "1")
    except StoreUnavailable as exc:
        log.warning("agent.greeting_skipped", user=user, error=str(exc))
        return False
    return True


def _team(body: dict[str, Any]) -> str | None:
    team = body.get("team_id")
    return team if isinstance(team, str) else None


class AgentSurface:
    """The Messages tab: prompts and the greeting when it opens; the channel in view."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def is_messages_tab(self, event: dict[str, Any]) -> bool:
        return event.get("tab") == MESSAGES_TAB

    def on_messages_opened(
        self, event: dict[str, Any], body: dict[str, Any], context: BoltContext, client: WebClient
    ) -> None:
        user, channel = event.get("user"), event.get("channel")
        if not isinstance(user, str) or not isinstance(channel, str) or not user or not channel:
            return
        team = _team(body)
        in_background(
            self.deps,
            lambda: self.welcome(client, team, user, channel),
            request_id=request_id(context),
            surface="agent",
        )

    def welcome(self, client: WebClient, team: str | None, user: str, channel: str) -> None:
        deps = self.deps
        prompts = deps.kb.example_prompts()
        if deps.agent_view and prompts:
            try:
                client.assistant_threads_setSuggestedPrompts(
                    channel_id=channel, title=PROMPTS_TITLE, prompts=suggested_prompts(prompts)
                )
            except SlackApiError as exc:
                log.warning("agent.prompts_failed", user=user, error=api_error(exc))
            except (SlackClientError, OSError) as exc:
                log.warning("agent.prompts_failed", user=user, error=type(exc).__name__)
        if _first_visit(deps.conversations, team, user):
            greeting = greeting_message(deps.kb.status(), prompts)
            sent = post_message(client, greeting, channel=channel)
            log.info("agent.greeted", user=user, channel=channel, ok=sent.ok, error=sent.error)

    def on_context_changed(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        entities = ((event.get("context") or {}).get("entities")) or []
        channel = next(
            (
                e.get("value")
                for e in entities
                if isinstance(e, dict) and e.get("type") == CHANNEL_ENTITY
            ),
            None,
        )
        # The event names no user: the authorization for a person says whose view it is.
        user = event.get("user") or next(
            (
                a.get("user_id")
                for a in body.get("authorizations") or []
                if isinstance(a, dict) and not a.get("is_bot")
            ),
            None,
        )
        store = self.deps.conversations
        if not isinstance(user, str) or not isinstance(channel, str) or store is None:
            return
        try:
            store.remember(viewing_key(_team(body), user), channel)
        except StoreUnavailable as exc:
            log.warning("agent.context_unrecorded", user=user, error=str(exc))
            return
        log.info("agent.context_changed", user=user, channel=channel)


def register(app: App, deps: Deps) -> None:
    agent = AgentSurface(deps)
    app.event("app_home_opened", matchers=[agent.is_messages_tab])(agent.on_messages_opened)
    app.event("app_context_changed")(agent.on_context_changed)
