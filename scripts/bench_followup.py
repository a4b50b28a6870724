"""Measure thread follow-ups through `licensebot serve`: ack latency and time to answer.

The processes of ``scripts/bench_slack.py``: the fake Slack Web API in a process of its
own, ``licensebot serve --workers N`` (bundled knowledge base, file audit trail, the
SQLite thread registry in a temporary data directory), and this script sending signed
requests. It opens ``--threads`` threads with an @mention each, then sends
``--requests`` ``message.channels`` replies by the asker, without a mention ("and
Nokia?", "when was that?", "more", …), one after another, round-robin over the threads.
For each: how long the HTTP acknowledgement took, and how long until the reply's
``chat.postMessage`` reached the fake (polled every millisecond or so, so answer times
include up to that much polling). Prints median, p95, p99 and max per worker count.
Loopback only; everything stops by itself.

    .venv/bin/python scripts/bench_followup.py [--workers 1,2] [--requests 100]
                                               [--threads 10] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from slack_load import (  # noqa: E402
    BOT_USER_ID,
    JSON,
    TEAM_ID,
    Fake,
    Server,
    machine,
    measure_each,
    post,
    signed,
    summary,
)

USER = "U0BENCH01"
CHANNEL = "C0BENCH01"
QUESTION = "Which US companies is Huawei talking to about licensing its 5G technology?"
FOLLOW_UPS = (
    "and Nokia?",
    "when was that?",
    "more",
    "who said it?",
    "what about Ericsson?",
)
ANSWER_TIMEOUT_S = 30.0


def envelope(n: int, event: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "team_id": TEAM_ID,
            "api_app_id": "A0BENCH01",
            "type": "event_callback",
            "event_id": f"EvFOLLOW{n:09d}",
            "event_time": int(time.time()),
            "event": event,
        }
    ).encode()


def message(n: int, text: str, **extra: str) -> dict[str, Any]:
    ts = f"{int(time.time())}.{n % 1_000_000:06d}"
    event = {"channel": CHANNEL, "user": USER, "text": text, "ts": ts, "event_ts": ts}
    return {**event, **extra}


def mention(n: int) -> tuple[str, bytes]:
    event = message(n, f"<@{BOT_USER_ID}> {QUESTION}", type="app_mention")
    return event["ts"], envelope(n, event)


def reply(n: int, thread_ts: str, text: str) -> bytes:
    event = message(n, text, type="message", channel_type="channel", thread_ts=thread_ts)
    return envelope(n, event)


def wait_posted(fake: Fake, count: int) -> None:
    deadline = time.monotonic() + ANSWER_TIMEOUT_S
    while fake.count("chat.postMessage") < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {fake.count('chat.postMessage')} of {count} answers")
        time.sleep(0.001)


def measure(server: Server, fake: Fake, requests: int, threads: int, offset: int) -> dict[str, Any]:
    port = server.port
    base = fake.count("chat.postMessage")
    roots = []
    for n in range(threads):
        ts, body = mention(offset + n)
        status, _ = asyncio.run(post(port, signed(body, JSON, port)))
        assert status == 200, status
        roots.append(ts)
    wait_posted(fake, base + threads)
    # A thread is remembered right after its answer is posted: give the last ones that
    # moment (a person replies seconds later, never within the same millisecond).
    time.sleep(0.3)
    acks: list[float] = []
    answers: list[float] = []
    for i in range(requests):
        n = offset + threads + i
        text = FOLLOW_UPS[(i // threads) % len(FOLLOW_UPS)]
        request = signed(reply(n, roots[i % threads], text), JSON, port)
        started = time.perf_counter()
        status, took = asyncio.run(post(port, request))
        assert status == 200, status
        acks.append(took)
        wait_posted(fake, base + threads + i + 1)
        answers.append(time.perf_counter() - started)
    return {
        "workers": server.workers,
        "followup_ack": summary(acks),
        "followup_answer": summary(answers),
    }


def run(workers: list[int], requests: int, threads: int) -> dict[str, Any]:
    def each(server: Server, fake: Fake, offset: int) -> list[dict[str, Any]]:
        measure(server, fake, 10, 2, offset)  # imports, pools, first index use
        return [measure(server, fake, requests, threads, offset + 100_000)]

    rows = measure_each(workers, "bench-followup-", each)
    return {"machine": machine(), "threads": threads, "levels": rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1", help="worker counts, comma-separated")
    parser.add_argument("--requests", type=int, default=100, help="follow-ups per worker count")
    parser.add_argument("--threads", type=int, default=10, help="threads they go to")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    workers = [int(w) for w in args.workers.split(",") if w.strip()]
    if not workers or min(workers) < 1 or args.requests < 2 or args.threads < 1:
        parser.error("workers and threads must be positive, requests at least 2")
    result = run(workers, args.requests, args.threads)
    if args.json:
        print(json.dumps(result))
        return 0
    print(result["machine"])
    for row in result["levels"]:
        for name in ("followup_ack", "followup_answer"):
            s = row[name]
            print(
                f"workers={row['workers']} {name:16} n={s['n']:<4} p50={s['p50_ms']:6.1f} ms  "
                f"p95={s['p95_ms']:6.1f} ms  p99={s['p99_ms']:6.1f} ms  max={s['max_ms']:6.1f} ms"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
