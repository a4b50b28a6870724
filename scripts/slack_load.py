"""What the Slack benchmarks share: requests signed and shaped as Slack sends them, and
(for benchmarks that script the fake Web API) the app running in this process.

``scripts/bench_slack.py`` sends these to a ``licensebot serve`` process of its own;
``scripts/bench_ack_under_load.py`` to ``running_bot()``.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from fake_slack import BOT_TOKEN, BOT_USER_ID, TEAM_ID, FakeSlack  # noqa: E402

SECRET = "bench-signing-secret-0123456789ab"
QUESTIONS = (
    "Which US companies is Huawei talking to about licensing its 5G technology?",
    "What did Vincent Pang say about the talks?",
    "When was Huawei added to the Entity List?",
    "Would Huawei license its 5G patents to an American firm?",
)
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
__all__ = ["BOT_TOKEN", "SECRET", "FakeSlack"]


def signature_headers(body: bytes) -> dict[str, str]:
    """Slack's v0 scheme over the raw body, timestamped now."""
    ts = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0=" + digest.hexdigest()}


def signed_post(url: str, body: bytes, content_type: str) -> tuple[int, float]:
    """One request on a fresh connection, as Slack makes them; (status, seconds)."""
    headers = {"Content-Type": content_type, **signature_headers(body)}
    parts = urlparse(url)
    started = time.perf_counter()
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        conn.request("POST", parts.path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        status = response.status
    finally:
        conn.close()
    return status, time.perf_counter() - started


def command_body(i: int, response_url: str) -> bytes:
    """A signed-to-be ``/ask`` with the ``i``-th question."""
    form = {
        "team_id": TEAM_ID,
        "channel_id": "C0BENCH01",
        "user_id": "U0BENCH01",
        "command": "/ask",
        "text": QUESTIONS[i % len(QUESTIONS)],
        "response_url": response_url,
        "trigger_id": f"{i}.bench",
    }
    return urlencode(form).encode()


def event_body(i: int) -> bytes:
    """An ``app_mention`` event_callback; the same ``i`` gives the same event_id (a retry)."""
    ts = f"{int(time.time())}.{i % 1_000_000:06d}"
    envelope: dict[str, Any] = {
        "team_id": TEAM_ID,
        "api_app_id": "A0BENCH01",
        "type": "event_callback",
        "event_id": f"EvBENCH{i:09d}",
        "event_time": int(time.time()),
        "event": {
            "type": "app_mention",
            "user": "U0BENCH01",
            "channel": "C0BENCH01",
            "ts": ts,
            "event_ts": ts,
            "text": f"<@{BOT_USER_ID}> {QUESTIONS[i % len(QUESTIONS)]}",
        },
    }
    return json.dumps(envelope).encode()


@contextmanager
def running_bot() -> Iterator[tuple[str, FakeSlack, Path]]:
    """The real app on 127.0.0.1 in this process, its Web API the fake Slack, logs
    discarded: (the events URL, the fake, the audit trail's path)."""
    from bot.app import build_deps, create_app  # noqa: PLC0415  (only this use needs them)
    from bot.audit.trail import AuditTrail  # noqa: PLC0415
    from bot.logging import configure_logging  # noqa: PLC0415
    from bot.server import BackgroundServer, build_asgi_app, deps_readiness  # noqa: PLC0415
    from bot.settings import load_settings  # noqa: PLC0415
    from knowledge.service import KnowledgeBase  # noqa: PLC0415

    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeSlack(BOT_TOKEN) as fake,
        open(os.devnull, "w") as devnull,
    ):
        configure_logging("INFO", "json", stream=devnull)
        settings = load_settings(
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SECRET,
            slack_api_url=fake.api_url,
            data_dir=Path(tmp),
        )
        audit_path = Path(tmp) / "audit.jsonl"
        audit = AuditTrail(audit_path)
        deps = build_deps(settings, kb=KnowledgeBase.load(), audit=audit)
        app = create_app(settings, deps, verify_token=True)
        try:
            with BackgroundServer(build_asgi_app(app, deps_readiness(deps))) as server:
                yield server.url + "/slack/events", fake, audit_path
        finally:
            audit.close()
