"""Measure how fast `licensebot serve` acknowledges and answers Slack requests, as a server.

Three kinds of process, so that none measures another's contention for one interpreter:

* the fake Slack Web API (``tests/e2e/fake_slack.py`` run on its own, in its own process),
* ``licensebot serve --workers N`` (bundled knowledge base, the file audit trail and the
  embedded dedupe in a temporary data directory, INFO logs to a file), for each N asked,
* this script: the load generator, one asyncio loop, a fresh connection per request as
  Slack makes them, every request signed with Slack's v0 scheme.

For each client count, that many clients send requests back to back (closed loop) until a
bounded number has been sent: first signed ``/ask`` commands (answered in the ack, so ack
time is answer time), then ``app_mention`` events (acknowledged at once, answered through
``chat.postMessage``, counted at the fake), then the same events again as Slack's retries
(acknowledged and dropped: the acknowledgement path with no answer to compute). Reports
ack p50/p95/p99 and answers per second.
Loopback only; everything stops by itself.

    .venv/bin/python scripts/bench_slack.py [--workers 1,2] [--clients 1,5,20,50]
                                            [--requests 200] [--json] [--markdown]
                                            [--setting LICENSEBOT_NAME=VALUE ...]
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
    FORM,
    JSON,
    Fake,
    Server,
    command_body,
    event_body,
    machine,
    measure_each,
    post,
    setting_pairs,
    signed,
    summary,
)


async def closed_loop(port: int, requests: list[bytes], clients: int) -> tuple[list[float], float]:
    """``clients`` connections' worth of senders sharing ``requests``; (latencies, seconds)."""
    queue = list(reversed(requests))
    latencies: list[float] = []
    failures: list[int] = []

    async def client() -> None:
        while queue:
            status, took = await post(port, queue.pop())
            if status != 200:
                failures.append(status)
            latencies.append(took)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed, e.g. HTTP {failures[0]}")
    return latencies, elapsed


def level(server: Server, fake: Fake, clients: int, requests: int, offset: int) -> dict[str, Any]:
    port = server.port
    asks = [
        signed(command_body(offset + i, f"{fake.url}/response/b{offset + i}"), FORM, port)
        for i in range(requests)
    ]
    ask_latency, ask_s = asyncio.run(closed_loop(port, asks, clients))
    before = fake.count("chat.postMessage")
    mentions = [signed(event_body(offset + i), JSON, port) for i in range(requests)]
    started = time.perf_counter()
    mention_latency, _ = asyncio.run(closed_loop(port, mentions, clients))
    fake.wait_count("chat.postMessage", before + requests)
    mention_s = time.perf_counter() - started
    # The same events again: Slack's retries, acknowledged and dropped by the dedupe. With
    # nothing to answer, this is the acknowledgement path alone.
    repeats = [signed(event_body(offset + i), JSON, port) for i in range(requests)]
    repeat_latency, _ = asyncio.run(closed_loop(port, repeats, clients))
    return {
        "workers": server.workers,
        "clients": clients,
        "ask_ack": summary(ask_latency),
        "ask_answers_per_s": round(requests / ask_s, 1),
        "mention_ack": summary(mention_latency),
        "mention_answers_per_s": round(requests / mention_s, 1),
        "retry_ack": summary(repeat_latency),
    }


def run(
    workers: list[int], clients: list[int], requests: int, settings: dict[str, str]
) -> dict[str, Any]:
    def measure(server: Server, fake: Fake, offset: int) -> list[dict[str, Any]]:
        level(server, fake, 4, 40, offset)  # imports, pools, first index use
        return [
            level(server, fake, c, requests, offset + (m + 1) * 100_000)
            for m, c in enumerate(clients)
        ]

    rows = measure_each(workers, "bench-slack-", measure, settings)
    return {
        "machine": machine(),
        "requests_per_level": requests,
        "settings": settings,
        "levels": rows,
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "| workers | clients | `/ask` ack p50 | p95 | p99 | `/ask` answers/s "
        "| mention ack p50 | p95 | p99 | mention answers/s | retry ack p50 | p99 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in result["levels"]:
        a, m, r = row["ask_ack"], row["mention_ack"], row["retry_ack"]
        lines.append(
            f"| {row['workers']} | {row['clients']} | {a['p50_ms']} ms | {a['p95_ms']} ms "
            f"| {a['p99_ms']} ms | {row['ask_answers_per_s']} | {m['p50_ms']} ms "
            f"| {m['p95_ms']} ms | {m['p99_ms']} ms | {row['mention_answers_per_s']} "
            f"| {r['p50_ms']} ms | {r['p99_ms']} ms |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    parser.add_argument("--clients", default="1,5,20,50", help="client counts, comma-separated")
    parser.add_argument("--requests", type=int, default=200, help="requests of each kind per level")
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="LICENSEBOT_NAME=VALUE",
        help="a setting for the server (repeatable), e.g. LICENSEBOT_ANSWER_NICE=5",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()
    workers = [int(w) for w in args.workers.split(",") if w.strip()]
    clients = [int(c) for c in args.clients.split(",") if c.strip()]
    if not workers or not clients or min(workers + clients) < 1 or args.requests < 10:
        parser.error("workers and clients must be positive, requests at least 10")
    try:
        settings = setting_pairs(args.setting)
    except ValueError as exc:
        parser.error(str(exc))
    result = run(workers, clients, args.requests, settings)
    if args.json:
        print(json.dumps(result))
        return 0
    print(result["machine"], *(f"{k}={v}" for k, v in settings.items()))
    if args.markdown:
        print(markdown(result))
        return 0
    for row in result["levels"]:
        a, m, r = row["ask_ack"], row["mention_ack"], row["retry_ack"]
        print(
            f"workers={row['workers']} clients={row['clients']:>2}: "
            f"/ask ack p50 {a['p50_ms']:.1f} p99 {a['p99_ms']:.1f} ms, "
            f"{row['ask_answers_per_s']} answers/s | mention ack p50 {m['p50_ms']:.1f} "
            f"p99 {m['p99_ms']:.1f} ms, {row['mention_answers_per_s']} answers/s | "
            f"retry ack p50 {r['p50_ms']:.1f} p99 {r['p99_ms']:.1f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
