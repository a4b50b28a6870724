"""The agent messaging surface (``features.agent_view``, ``manifest-agent.yml``).

``app_home_opened`` with ``tab: "messages"`` (the agent experience's replacement for
``assistant_thread_started``): with ``Deps.agent_view`` the Messages tab gets the
suggested prompts (``assistant.threads.setSuggestedPrompts`` without ``thread_ts``, as
the agent experience requires); the first time a user opens it, in either experience,
a short greeting with example questions is posted. ``app_context_changed`` says which
channel the user is looking at: remembered, and recorded with their next answers.
Messages in the tab are answered by ``handlers.mention`` (in a thread, with the
"thinking" status, when ``agent_view``).
"""

from __future__ import annotations

from typing import Any

import structlog
from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from handlers.blocks_agent import PROMPTS_TITLE, greeting_message, suggested_prompts
from handlers.common import api_error, post_message
from handlers.deps import Deps, KeyValueStore, StoreUnavailable

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


def register(app: App, deps: Deps) -> None:
    def messages_tab(event: dict[str, Any]) -> bool:
        return event.get("tab") == MESSAGES_TAB

    def on_messages_opened(event: dict[str, Any], body: dict[str, Any], client: WebClient) -> None:
        user, channel = event.get("user"), event.get("channel")
        if not isinstance(user, str) or not isinstance(channel, str) or not user or not channel:
            return
        team = body.get("team_id") if isinstance(body.get("team_id"), str) else None
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
            sent = post_message(
                client, greeting_message(deps.kb.status(), prompts), channel=channel
            )
            log.info("agent.greeted", user=user, channel=channel, ok=sent.ok, error=sent.error)

    def on_context_changed(event: dict[str, Any], body: dict[str, Any]) -> None:
        entities = ((event.get("context") or {}).get("entities")) or []
        channel = next(
            (
                e.get("value")
                for e in entities
                if isinstance(e, dict) and e.get("type") == CHANNEL_ENTITY
            ),
            None,
        )
        user = event.get("user") or next(
            (
                a.get("user_id")
                for a in body.get("authorizations") or []
                if isinstance(a, dict) and not a.get("is_bot")
            ),
            None,
        )
        if not isinstance(user, str) or not isinstance(channel, str) or deps.conversations is None:
            return
        team = body.get("team_id") if isinstance(body.get("team_id"), str) else None
        try:
            deps.conversations.remember(viewing_key(team, user), channel)
        except StoreUnavailable as exc:
            log.warning("agent.context_unrecorded", user=user, error=str(exc))
            return
        log.info("agent.context_changed", user=user, channel=channel)

    app.event("app_home_opened", matchers=[messages_tab])(on_messages_opened)
    app.event("app_context_changed")(on_context_changed)
