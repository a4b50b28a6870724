"""Measure thread follow-ups through the real HTTP path: ack latency and time to answer.

Starts the real app (bundled knowledge base, a real audit trail and the SQLite thread
registry in a temporary directory) behind uvicorn on 127.0.0.1, with the Web API
pointed at the fake Slack from tests/e2e/fake_slack.py. Opens ``--threads`` threads
with an @mention each, then sends ``--requests`` signed ``message.channels`` replies
by the asker (follow-ups without a mention: "and Nokia?", "when was that?", "more", …)
one after another, round-robin over the threads. For each it records how long the
HTTP acknowledgement took, and how long until the answer reached the fake Web API
(chat.postMessage). Prints median, p95, p99 and max.

    .venv/bin/python scripts/bench_followup.py [--requests 100] [--threads 10] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_slack import SECRET, signed_post, summary, summary_line  # noqa: E402
from fake_slack import BOT_TOKEN, BOT_USER_ID, TEAM_ID, FakeSlack  # noqa: E402

from bot.app import build_deps, create_app  # noqa: E402
from bot.audit.trail import AuditTrail  # noqa: E402
from bot.logging import configure_logging  # noqa: E402
from bot.server import BackgroundServer, build_asgi_app, deps_readiness  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from knowledge.service import KnowledgeBase  # noqa: E402

USER = "U0BENCH01"
CHANNEL = "C0BENCH01"
QUESTION = "Which US companies is Huawei talking to about licensing its 5G technology?"
FOLLOW_UPS = ("and Nokia?", "when was that?", "more", "who said it?", "what about Ericsson?")


def envelope(n: int, event: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "team_id": TEAM_ID,
            "api_app_id": "A0BENCH01",
            "type": "event_callback",
            "event_id": f"EvFOLLOW{n:08d}",
            "event_time": int(time.time()),
            "event": event,
        }
    ).encode()


def mention(n: int) -> tuple[str, bytes]:
    ts = f"{int(time.time())}.{n:06d}"
    event = {
        "type": "app_mention",
        "user": USER,
        "channel": CHANNEL,
        "ts": ts,
        "event_ts": ts,
        "text": f"<@{BOT_USER_ID}> {QUESTION}",
    }
    return ts, envelope(n, event)


def reply(n: int, thread_ts: str, text: str) -> bytes:
    ts = f"{int(time.time())}.{n:06d}"
    event = {
        "type": "message",
        "channel": CHANNEL,
        "channel_type": "channel",
        "user": USER,
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "thread_ts": thread_ts,
    }
    return envelope(n, event)


def run(requests: int, threads: int, *, quiet_logs: bool = True) -> dict[str, Any]:
    """The measurement; ``quiet_logs`` sends the bot's logs to /dev/null (a caller that
    configured logging itself, e.g. a test, passes False)."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeSlack(BOT_TOKEN) as fake,
        open(os.devnull, "w") as devnull,
    ):
        if quiet_logs:
            configure_logging("INFO", "json", stream=devnull)
        settings = load_settings(
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SECRET,
            slack_api_url=fake.api_url,
            data_dir=Path(tmp),
            redis_url=None,
        )
        audit = AuditTrail(Path(tmp) / "audit.jsonl")
        deps = build_deps(settings, kb=KnowledgeBase.load(), audit=audit)
        app = create_app(settings, deps, verify_token=True)
        acks: list[float] = []
        answers: list[float] = []
        with BackgroundServer(build_asgi_app(app, deps_readiness(deps))) as server:
            url = server.url + "/slack/events"
            roots = []
            for n in range(threads):
                ts, body = mention(n)
                status, _ = signed_post(url, body, "application/json")
                assert status == 200, status
                roots.append(ts)
            fake.wait_for("chat.postMessage", threads, timeout=60)
            # Each answer is remembered before it is posted to Slack, so the threads exist.
            time.sleep(0.2)
            for i in range(requests):
                n = threads + i
                body = reply(n, roots[i % threads], FOLLOW_UPS[(i // threads) % len(FOLLOW_UPS)])
                started = time.perf_counter()
                status, took = signed_post(url, body, "application/json")
                assert status == 200, status
                acks.append(took)
                fake.wait_for("chat.postMessage", threads + i + 1, timeout=30)
                answers.append(time.perf_counter() - started)
        audit.close()
    return {
        "followup_ack": summary(acks),
        "followup_answer": summary(answers),
        "threads": threads,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100, help="follow-ups to send")
    parser.add_argument("--threads", type=int, default=10, help="threads they go to")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if args.requests < 2 or args.threads < 1:
        parser.error("--requests must be at least 2 and --threads at least 1")
    result = run(args.requests, args.threads)
    if args.json:
        print(json.dumps(result))
        return 0
    for name in ("followup_ack", "followup_answer"):
        print(summary_line(name, result[name]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
