"""manifest.yml declares exactly what the app registers."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

import handlers.blocks.refs
from bot.app import LicenseBotApp, build_deps, create_app
from bot.audit.records import AnswerRecords
from bot.settings import load_settings
from knowledge.service import KnowledgeBase

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"
EVENTS_URL_SUFFIX = "/slack/events"


class NullAuditor(AnswerRecords):
    def record(self, event: str, **fields: Any) -> Mapping[str, Any]:
        return {"event": event, **fields}


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    data = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def app() -> LicenseBotApp:
    settings = load_settings(
        slack_bot_token="xoxb-manifest-test",
        slack_signing_secret="s" * 32,
        slack_api_url="http://127.0.0.1:9/api/",
    )
    deps = build_deps(settings, kb=KnowledgeBase.load(), audit=NullAuditor())
    # No auth.test: nothing is sent anywhere while registering.
    return create_app(settings, deps, verify_token=False)


def test_slash_commands_match(manifest: dict[str, Any], app: LicenseBotApp) -> None:
    commands = manifest["features"]["slash_commands"]
    assert {c["command"] for c in commands} == app.registrations.commands
    for command in commands:
        assert command["should_escape"] is True, command["command"]
        assert command["url"].endswith(EVENTS_URL_SUFFIX)
        assert len(command["description"]) <= 100


def test_bot_events_match(manifest: dict[str, Any], app: LicenseBotApp) -> None:
    bot_events = manifest["settings"]["event_subscriptions"]["bot_events"]
    assert len(bot_events) == len(set(bot_events))
    # message.im, message.channels, ... all arrive as Bolt "message" events.
    assert {e.split(".")[0] for e in bot_events} == app.registrations.events
    # Channel messages reach the bot only as app_mention; it must not read every message.
    assert [e for e in bot_events if e.startswith("message.")] == ["message.im"]
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True


def test_interactivity_and_action_ids_match(manifest: dict[str, Any], app: LicenseBotApp) -> None:
    interactive = bool(
        app.registrations.actions or app.registrations.views or app.registrations.shortcuts
    )
    assert manifest["settings"]["interactivity"]["is_enabled"] is interactive
    declared = {
        value
        for name, value in vars(handlers.blocks.refs).items()
        if name.startswith("ACTION_") and isinstance(value, str)
    }
    assert app.registrations.actions == declared
    shortcuts = {s["callback_id"] for s in manifest["features"].get("shortcuts", [])}
    assert shortcuts == app.registrations.shortcuts


def test_scopes_cover_what_is_registered(manifest: dict[str, Any], app: LicenseBotApp) -> None:
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    needed = {"chat:write"}
    if app.registrations.commands:
        needed.add("commands")
    if "app_mention" in app.registrations.events:
        needed.add("app_mentions:read")
    if "message.im" in manifest["settings"]["event_subscriptions"]["bot_events"]:
        needed.add("im:history")
    assert needed <= scopes
    # Nothing that would let the bot read channels it was not asked in.
    assert not scopes & {
        "channels:history",
        "groups:history",
        "mpim:history",
        "chat:write.customize",
    }


def test_http_mode_urls_and_socket_mode_default(manifest: dict[str, Any]) -> None:
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is False
    assert settings["event_subscriptions"]["request_url"].endswith(EVENTS_URL_SUFFIX)
    assert settings["interactivity"]["request_url"].endswith(EVENTS_URL_SUFFIX)
    text = MANIFEST.read_text(encoding="utf-8")
    assert "socket_mode_enabled" in text and "SLACK_APP_TOKEN" in text  # the variant is documented
