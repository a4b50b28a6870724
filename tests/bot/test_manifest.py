"""manifest.yml (and its agent variant, manifest-agent.yml) declare exactly what the app
registers."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

import handlers.blocks.refs
from bot.app import LicenseBotApp, build_deps, create_app
from bot.audit.records import AnswerRecords
from bot.settings import DEFAULT_SLACK_SCOPES, load_settings
from knowledge.service import KnowledgeBase

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "manifest.yml"
AGENT_MANIFEST = ROOT / "manifest-agent.yml"
EVENTS_URL_SUFFIX = "/slack/events"
# Delivered only to apps with features.agent_view: subscribed in the agent variant alone.
AGENT_ONLY_EVENTS = frozenset({"app_context_changed"})


class NullAuditor(AnswerRecords):
    def record(self, event: str, **fields: Any) -> Mapping[str, Any]:
        return {"event": event, **fields}


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return load(MANIFEST)


@pytest.fixture(scope="module")
def agent_manifest() -> dict[str, Any]:
    return load(AGENT_MANIFEST)


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
    assert {e.split(".")[0] for e in bot_events} == app.registrations.events - AGENT_ONLY_EVENTS
    # Channel messages are read for thread follow-ups only; never multi-person DMs.
    assert sorted(e for e in bot_events if e.startswith("message.")) == [
        "message.channels",
        "message.groups",
        "message.im",
    ]
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert "app_home_opened" in app.registrations.events


def test_the_agent_variant_is_the_same_app_plus_the_agent_surface(
    manifest: dict[str, Any], agent_manifest: dict[str, Any], app: LicenseBotApp
) -> None:
    events = agent_manifest["settings"]["event_subscriptions"]["bot_events"]
    assert {e.split(".")[0] for e in events} == app.registrations.events
    agent_view = agent_manifest["features"]["agent_view"]
    assert agent_view["agent_description"].strip()
    assert "assistant_view" not in agent_manifest["features"]  # being retired by Slack
    assert "assistant:write" in agent_manifest["oauth_config"]["scopes"]["bot"]
    # Everything else is manifest.yml's, so the two cannot drift apart.
    expected = yaml.safe_load(yaml.safe_dump(manifest))
    expected["features"]["agent_view"] = agent_view
    expected["oauth_config"]["scopes"]["bot"] = [
        s for s in agent_manifest["oauth_config"]["scopes"]["bot"]
    ]
    assert set(expected["oauth_config"]["scopes"]["bot"]) == set(
        manifest["oauth_config"]["scopes"]["bot"]
    ) | {"assistant:write"}
    expected["settings"]["event_subscriptions"]["bot_events"] = events
    assert set(events) == set(manifest["settings"]["event_subscriptions"]["bot_events"]) | set(
        AGENT_ONLY_EVENTS
    )
    assert agent_manifest == expected
    text = MANIFEST.read_text(encoding="utf-8")
    assert "manifest-agent.yml" in text and "LICENSEBOT_AGENT_VIEW" in text


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
    shortcuts = manifest["features"].get("shortcuts", [])
    assert {s["callback_id"] for s in shortcuts} == app.registrations.shortcuts
    assert "check_claim" in app.registrations.shortcuts
    for shortcut in shortcuts:
        assert shortcut["type"] == "message"
        assert len(shortcut["name"]) <= 24 and len(shortcut["description"]) <= 80


def test_scopes_cover_what_is_registered(manifest: dict[str, Any], app: LicenseBotApp) -> None:
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    needed = {"chat:write"}
    if app.registrations.commands:
        needed.add("commands")
    if "app_mention" in app.registrations.events:
        needed.add("app_mentions:read")
    bot_events = manifest["settings"]["event_subscriptions"]["bot_events"]
    history = {"message.im": "im:history", "message.channels": "channels:history"}
    history["message.groups"] = "groups:history"
    needed |= {scope for event, scope in history.items() if event in bot_events}
    assert needed <= scopes
    # Nothing beyond that: no multi-person DMs, no posting under other names.
    assert not scopes & {"mpim:history", "chat:write.customize"}


def test_oauth_installs_ask_for_the_manifest_scopes(manifest: dict[str, Any]) -> None:
    # SLACK_SCOPES defaults to what the manifest grants a single-workspace install.
    assert set(DEFAULT_SLACK_SCOPES) == set(manifest["oauth_config"]["scopes"]["bot"])
    assert len(DEFAULT_SLACK_SCOPES) == len(set(DEFAULT_SLACK_SCOPES))


def test_http_mode_urls_and_socket_mode_default(manifest: dict[str, Any]) -> None:
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is False
    assert settings["event_subscriptions"]["request_url"].endswith(EVENTS_URL_SUFFIX)
    assert settings["interactivity"]["request_url"].endswith(EVENTS_URL_SUFFIX)
    text = MANIFEST.read_text(encoding="utf-8")
    assert "socket_mode_enabled" in text and "SLACK_APP_TOKEN" in text  # the variant is documented
