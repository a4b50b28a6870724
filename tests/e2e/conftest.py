"""End-to-end harness: the real app behind the real HTTP server on 127.0.0.1, driven by
requests signed like Slack's, talking to a fake Slack Web API that records calls."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import structlog
from fake_slack import BOT_TOKEN, BOT_USER_ID, TEAM_ID, FakeSlack

from bot.app import build_deps, create_app
from bot.audit.trail import AuditTrail
from bot.logging import configure_logging, remove_logging
from bot.server import BackgroundServer, build_asgi_app, deps_readiness
from bot.settings import load_settings
from handlers.deps import Auditor, Background
from knowledge.service import KnowledgeBase

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
USER = "U0USER001"
CHANNEL = "C0CHAN001"
DM_CHANNEL = "D0DM00001"


# --------------------------------------------------------------------------- logs


class LogSink(io.TextIOBase):
    """A thread-safe text stream collecting the JSON log lines."""

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._partial = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            data = self._partial + text
            *lines, self._partial = data.split("\n")
            self._lines.extend(line for line in lines if line.strip())
        return len(text)

    def isatty(self) -> bool:
        return False

    def records(self, event: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            lines = list(self._lines)
        parsed = [json.loads(line) for line in lines]
        return [r for r in parsed if event is None or r.get("event") == event]

    def text(self) -> str:
        with self._lock:
            return "\n".join(self._lines)

    def wait_for(self, event: str, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.records(event)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"log event {event} seen {len(found)} times, wanted {count}")
            time.sleep(0.02)


@pytest.fixture
def logs() -> Iterator[LogSink]:
    sink = LogSink()
    root = logging.getLogger()
    level = root.level
    handler = configure_logging("INFO", "json", stream=sink, cache_loggers=False)
    yield sink
    remove_logging(handler)
    root.setLevel(level)
    structlog.reset_defaults()


# --------------------------------------------------------------------------- Slack side


def sign(
    body: bytes, *, secret: str = SIGNING_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    """Slack's v0 scheme: hex HMAC-SHA256 of ``v0:<timestamp>:<raw body>``."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0=" + digest.hexdigest()}


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


def http(
    method: str,
    url: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> Reply:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Reply(response.status, response.read(), dict(response.headers))
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, exc.read(), dict(exc.headers))


_ids = iter(range(1, 10**9))


def next_id() -> int:
    return next(_ids)


def event_callback(event: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
    """An Events API ``event_callback`` envelope as Slack documents it."""
    n = next_id()
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM_ID,
        "api_app_id": "A0APP0001",
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{n:08d}",
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-ctx-{n}",
    }


def message_ts() -> str:
    return f"{int(time.time())}.{next_id():06d}"


def app_mention(
    text: str,
    *,
    user: str = USER,
    channel: str = CHANNEL,
    thread_ts: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    ts = message_ts()
    event: dict[str, Any] = {
        "type": "app_mention",
        "user": user,
        "text": text,
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
        "client_msg_id": f"cm-{ts}",
        "team": TEAM_ID,
    }
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    event.update(extra)
    return event


def dm_message(
    text: str, *, user: str = USER, channel: str = DM_CHANNEL, **extra: Any
) -> dict[str, Any]:
    ts = message_ts()
    event: dict[str, Any] = {
        "type": "message",
        "channel": channel,
        "user": user,
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "channel_type": "im",
        "client_msg_id": f"cm-{ts}",
        "team": TEAM_ID,
    }
    event.update(extra)
    return event


def slash_command(
    text: str, *, response_url: str, command: str = "/ask", user: str = USER, channel: str = CHANNEL
) -> dict[str, str]:
    n = next_id()
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM_ID,
        "team_domain": "fake",
        "channel_id": channel,
        "channel_name": "general",
        "user_id": user,
        "user_name": "asker",
        "command": command,
        "text": text,
        "api_app_id": "A0APP0001",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": f"{n}.{TEAM_ID}.trigger",
    }


def block_actions(
    action: dict[str, Any],
    *,
    response_url: str,
    user: str = USER,
    channel: str = CHANNEL,
    ephemeral: bool = False,
    message: dict[str, Any] | None = None,
) -> dict[str, Any]:
    n = next_id()
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": message_ts(),
        "channel_id": channel,
        "is_ephemeral": ephemeral,
    }
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user, "username": "asker", "name": "asker", "team_id": TEAM_ID},
        "api_app_id": "A0APP0001",
        "token": "legacy-verification-token",
        "container": container,
        "trigger_id": f"{n}.{TEAM_ID}.trigger",
        "team": {"id": TEAM_ID, "domain": "fake"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": "general"},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action["action_id"],
                "block_id": action.get("block_id", "answer_actions"),
                "text": action.get("text", {"type": "plain_text", "text": "button"}),
                "value": action["value"],
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
        "state": {"values": {}},
    }
    if message is not None:
        payload["message"] = message
    return payload


def find_button(blocks: list[dict[str, Any]], action_id: str) -> dict[str, Any]:
    for block in blocks:
        candidates = list(block.get("elements") or [])
        if block.get("accessory"):
            candidates.append(block["accessory"])
        for element in candidates:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return element
    raise AssertionError(f"no button {action_id!r} in blocks")


@dataclass
class Bot:
    """The running bot as Slack sees it."""

    url: str
    fake: FakeSlack
    logs: LogSink
    audit_path: Path
    kb: KnowledgeBase
    secret: str = SIGNING_SECRET
    stop: Callable[[], None] = field(default=lambda: None)

    def post(
        self,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
        *,
        signed: bool = True,
        timestamp: int | None = None,
    ) -> Reply:
        all_headers = {"Content-Type": content_type}
        if signed:
            all_headers.update(sign(body, secret=self.secret, timestamp=timestamp))
        all_headers.update(headers or {})
        return http("POST", self.url + "/slack/events", body, all_headers)

    def event(
        self, event: dict[str, Any], *, event_id: str | None = None, retry_num: int | None = None
    ) -> Reply:
        return self.send_envelope(event_callback(event, event_id=event_id), retry_num=retry_num)

    def send_envelope(self, envelope: dict[str, Any], *, retry_num: int | None = None) -> Reply:
        headers = {}
        if retry_num is not None:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        body = json.dumps(envelope).encode()
        return self.post(body, "application/json", headers)

    def command(self, text: str, *, response_key: str = "cmd", **kwargs: Any) -> Reply:
        form = slash_command(text, response_url=self.fake.response_url(response_key), **kwargs)
        return self.post(urlencode(form).encode(), "application/x-www-form-urlencoded")

    def click(self, button: dict[str, Any], *, response_key: str = "act", **kwargs: Any) -> Reply:
        payload = block_actions(button, response_url=self.fake.response_url(response_key), **kwargs)
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return self.post(body, "application/x-www-form-urlencoded")

    def interact(self, payload: dict[str, Any]) -> Reply:
        """Any interactivity payload (shortcut, view submission, …), form-encoded as Slack
        sends them."""
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return self.post(body, "application/x-www-form-urlencoded")

    def get(self, path: str) -> Reply:
        return http("GET", self.url + path)

    def audit_records(self, event: str | None = None) -> list[dict[str, Any]]:
        if not self.audit_path.exists():
            return []
        rows = [json.loads(line) for line in self.audit_path.read_text().splitlines() if line]
        return [r for r in rows if event is None or r.get("event") == event]

    def wait_audit(self, event: str, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The ``event`` records once there are ``count`` of them: a record written after
        the reply reached the fake Slack (``answer.delivered``) lands a moment later."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.audit_records(event)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"audit event {event} seen {len(found)} times, wanted {count}")
            time.sleep(0.02)


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return KnowledgeBase.load()


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack(BOT_TOKEN) as fake:
        yield fake


BotFactory = Callable[..., Bot]


@pytest.fixture
def make_bot(
    fake_slack: FakeSlack, kb: KnowledgeBase, logs: LogSink, tmp_path: Path
) -> Iterator[BotFactory]:
    started: list[Callable[[], None]] = []

    def factory(
        *,
        knowledge: KnowledgeBase | None = None,
        audit: Auditor | None = None,
        workers: int = 1,
        background: Background | None = None,
        **overrides: Any,
    ) -> Bot:
        # Settings fields (e.g. redis_url, data_dir); redis_url is None unless given, so a
        # LICENSEBOT_REDIS_URL in the environment cannot leak into the tests.
        values: dict[str, Any] = {"data_dir": tmp_path, "redis_url": None, **overrides}
        settings = load_settings(
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=fake_slack.api_url,
            **values,
        )
        audit_path = settings.resolved_audit_path
        trail: Auditor
        closers: list[Callable[[], None]] = []
        if audit is None:
            real = AuditTrail(audit_path)
            closers.append(real.close)
            trail = real
        else:
            trail = audit
        deps = build_deps(
            settings, kb=knowledge or kb, audit=trail, workers=workers, background=background
        )
        close_dedupe = getattr(deps.dedupe, "close", None)
        if callable(close_dedupe):
            closers.append(close_dedupe)
        app = create_app(settings, deps, verify_token=True)
        server = BackgroundServer(build_asgi_app(app, deps_readiness(deps))).start()

        def stop() -> None:
            server.stop()
            for close in closers:
                close()

        started.append(stop)
        return Bot(
            url=server.url,
            fake=fake_slack,
            logs=logs,
            audit_path=audit_path,
            kb=knowledge or kb,
            stop=stop,
        )

    yield factory
    for stop in started:
        stop()


@pytest.fixture
def bot(make_bot: BotFactory) -> Bot:
    return make_bot()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    """``licensebot serve`` as real processes (``serving.serve_processes``)."""
    from serving import serve_processes  # serving imports this module

    yield from serve_processes(tmp_path)
