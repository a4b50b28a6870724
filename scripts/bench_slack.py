"""Measure how fast the Slack app acknowledges requests through the real HTTP path.

Starts the real app (bundled knowledge base, a real audit trail in a temporary
directory) behind uvicorn on 127.0.0.1, with the Web API pointed at the fake Slack
from tests/e2e/fake_slack.py, then sends signed requests one after another:
``/ask`` commands (acknowledged with the answer itself) and ``app_mention`` events
(acknowledged at once, answered through chat.postMessage). Prints p50/p95/p99/max.
Then, for each ``--clients`` level, that many concurrent clients share a bounded number
of requests: ack latency and answers per second (a ``/ask`` is answered in its ack; a
mention is answered when its chat.postMessage reaches the fake Web API).

    .venv/bin/python scripts/bench_slack.py [--requests 200] [--clients 1,5,20] [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from fake_slack import BOT_TOKEN, BOT_USER_ID, TEAM_ID, FakeSlack  # noqa: E402

from bot.app import build_deps, create_app  # noqa: E402
from bot.audit.trail import AuditTrail  # noqa: E402
from bot.logging import configure_logging  # noqa: E402
from bot.server import BackgroundServer, build_asgi_app, deps_readiness  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from knowledge.service import KnowledgeBase  # noqa: E402

SECRET = "bench-signing-secret-0123456789ab"
QUESTIONS = (
    "Which US companies is Huawei talking to about licensing its 5G technology?",
    "What did Vincent Pang say about the talks?",
    "When was Huawei added to the Entity List?",
    "Would Huawei license its 5G patents to an American firm?",
)


def signed_post(url: str, body: bytes, content_type: str) -> tuple[int, float]:
    """One request on a fresh connection, as Slack makes them; (status, seconds)."""
    ts = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": "v0=" + digest.hexdigest(),
    }
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
    ts = f"{int(time.time())}.{i:06d}"
    envelope: dict[str, Any] = {
        "team_id": TEAM_ID,
        "api_app_id": "A0BENCH01",
        "type": "event_callback",
        "event_id": f"EvBENCH{i:08d}",
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


def summary(samples: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples)
    cuts = statistics.quantiles(ms, n=100, method="inclusive")
    return {
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 2),
        "p95_ms": round(cuts[94], 2),
        "p99_ms": round(cuts[98], 2),
        "max_ms": round(ms[-1], 2),
    }


def concurrent_level(
    url: str, fake: FakeSlack, clients: int, requests: int, offset: int
) -> dict[str, Any]:
    """``requests`` of each kind spread over ``clients`` threads; bounded, loopback only."""

    def ask(i: int) -> float:
        status, took = signed_post(
            url, command_body(i, fake.response_url(f"c{i}")), "application/x-www-form-urlencoded"
        )
        assert status == 200, status
        return took

    def mention(i: int) -> float:
        status, took = signed_post(url, event_body(i), "application/json")
        assert status == 200, status
        return took

    ids = range(offset, offset + requests)
    with ThreadPoolExecutor(max_workers=clients) as pool:
        started = time.perf_counter()
        asks = list(pool.map(ask, ids))
        ask_seconds = time.perf_counter() - started
        before = len(fake.calls("chat.postMessage"))
        started = time.perf_counter()
        mentions = list(pool.map(mention, ids))
        fake.wait_for("chat.postMessage", before + requests, timeout=120)
        mention_seconds = time.perf_counter() - started
    return {
        "clients": clients,
        "ask_ack": summary(asks),
        "ask_answers_per_s": round(requests / ask_seconds, 1),
        "mention_ack": summary(mentions),
        "mention_answers_per_s": round(requests / mention_seconds, 1),
    }


@contextmanager
def running_bot() -> Iterator[tuple[str, FakeSlack, Path]]:
    """The real app on 127.0.0.1, its Web API the fake Slack, logs discarded:
    (the events URL, the fake, the audit trail's path)."""
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


def run(requests: int, levels: tuple[int, ...] = ()) -> dict[str, Any]:
    with running_bot() as (url, fake, _audit):
        # Warm-up: first request pays for imports and the thread pools.
        signed_post(
            url, command_body(0, fake.response_url("warm")), "application/x-www-form-urlencoded"
        )
        commands, events = [], []
        for i in range(requests):
            status, took = signed_post(
                url,
                command_body(i, fake.response_url(str(i))),
                "application/x-www-form-urlencoded",
            )
            assert status == 200, status
            commands.append(took)
        for i in range(requests):
            status, took = signed_post(url, event_body(i), "application/json")
            assert status == 200, status
            events.append(took)
        posted = fake.wait_for("chat.postMessage", requests, timeout=60)
        answered = len(posted)
        concurrency = [
            concurrent_level(url, fake, clients, requests, offset=(n + 1) * 100_000)
            for n, clients in enumerate(levels)
        ]
    return {
        "ask_command_ack": summary(commands),
        "app_mention_ack": summary(events),
        "mentions_answered": answered,
        "concurrency": concurrency,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="requests of each kind")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--clients", default="1,5,20", help="concurrency levels, comma-separated ('' for none)"
    )
    args = parser.parse_args()
    levels = tuple(int(c) for c in args.clients.split(",") if c.strip())
    result = run(args.requests, levels)
    if args.json:
        print(json.dumps(result))
        return 0
    for name in ("ask_command_ack", "app_mention_ack"):
        s = result[name]
        print(
            f"{name:16} n={s['n']:<4} p50={s['p50_ms']:7.2f} ms  p95={s['p95_ms']:7.2f} ms  "
            f"p99={s['p99_ms']:7.2f} ms  max={s['max_ms']:7.2f} ms"
        )
    print(f"mentions answered: {result['mentions_answered']}")
    for level in result["concurrency"]:
        a, m = level["ask_ack"], level["mention_ack"]
        print(
            f"{level['clients']:>3} clients: /ask ack p50={a['p50_ms']:.1f} "
            f"p99={a['p99_ms']:.1f} ms, "
            f"{level['ask_answers_per_s']} answers/s | mention ack p50={m['p50_ms']:.1f} "
            f"p99={m['p99_ms']:.1f} ms, {level['mention_answers_per_s']} answers/s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
