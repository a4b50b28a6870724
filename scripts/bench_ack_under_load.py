"""Measure command acks while answers wait on a slow Web API (issue 13, item 3), and count
chat.postMessage calls when the Web API answers 500 (item 5).

The real app behind uvicorn on 127.0.0.1 (bundled knowledge base, real audit trail in a
temporary directory), the Web API pointed at the fake Slack from tests/e2e/fake_slack.py.
Each round: chat.postMessage is delayed ``--delay`` s, ``--mentions`` signed app_mention
events are sent and left waiting on it, then one signed command is timed (``/ask`` and
``/timeline`` take turns, ``--rounds`` each); the delay is lifted, every mention allowed
to finish, and the command's ``answer.delivered`` outcome read from the audit trail.
Then ``--failures`` mentions are answered while chat.postMessage answers 500, and its
calls are counted. Loopback only; bounded by ``--rounds``.

    .venv/bin/python scripts/bench_ack_under_load.py [--rounds 7] [--mentions 35] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from bench_slack import event_body, running_bot, signed_post  # noqa: E402
from fake_slack import TEAM_ID  # noqa: E402

COMMANDS = (("/ask", "Which US companies is Huawei talking to?"), ("/timeline", "entity list"))
FORM = "application/x-www-form-urlencoded"


def command_form(command: str, text: str, n: int, response_url: str) -> bytes:
    return urlencode(
        {
            "team_id": TEAM_ID,
            "channel_id": "C0BENCH01",
            "user_id": "U0BENCH01",
            "command": command,
            "text": text,
            "response_url": response_url,
            "trigger_id": f"{n}.load.trigger",
        }
    ).encode()


def audit_rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def outcome_of(path: Path, surface: str, seen: set[str], timeout: float = 10.0) -> str:
    """The delivered outcome of the newest ``surface`` answer not in ``seen``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = audit_rows(path)
        served = [
            r["request_id"]
            for r in rows
            if r["event"] == "answer.served"
            and r["surface"] == surface
            and r["request_id"] not in seen
        ]
        if served:
            rid = served[-1]
            done = [r for r in rows if r["event"] == "answer.delivered" and r["request_id"] == rid]
            if done:
                seen.add(rid)
                record = done[0]
                return str(record["outcome"]) + (f" ({record['error']})" if record["error"] else "")
        time.sleep(0.05)
    return "no record"


def stats(samples: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples)
    p95 = statistics.quantiles(ms, n=20, method="inclusive")[18] if len(ms) > 1 else ms[0]
    return {
        "n": len(ms),
        "median_ms": round(statistics.median(ms), 1),
        "p95_ms": round(p95, 1),
        "max_ms": round(ms[-1], 1),
    }


def run(rounds: int, mentions: int, delay: float, failures: int) -> dict[str, Any]:
    results: dict[str, dict[str, list[Any]]] = {
        c: {"seconds": [], "status": [], "outcome": []} for c, _ in COMMANDS
    }
    seen: set[str] = set()
    answered: list[int] = []
    n = 0
    with running_bot() as (url, fake, audit_path):
        for command, text in COMMANDS * rounds:
            fake.reset()
            fake.slow("chat.postMessage", delay)
            for _ in range(mentions):
                n += 1
                assert signed_post(url, event_body(n), "application/json")[0] == 200
            # Let the deliveries reach the (slow) Web API before timing the command.
            fake.wait_for("chat.postMessage", min(mentions, 16), timeout=10)
            n += 1
            body = command_form(command, text, n, fake.response_url(f"r{n}"))
            status, took = signed_post(url, body, FORM)
            results[command]["seconds"].append(took)
            results[command]["status"].append(status)
            fake.release()
            fake.quiet(1.0)  # every mention accepted has been answered by now
            answered.append(len(fake.calls("chat.postMessage")))
            results[command]["outcome"].append(outcome_of(audit_path, command.strip("/"), seen))
        fake.reset()
        fake.fail("chat.postMessage", status=500, times=None)
        for _ in range(failures):
            n += 1
            signed_post(url, event_body(n), "application/json")
        fake.wait_for("chat.postEphemeral", failures, timeout=60)
        fake.quiet(1.0)
        posts_on_500 = len(fake.calls("chat.postMessage"))
    return {
        "rounds": rounds,
        "mentions_in_flight": mentions,
        "mentions_answered_per_round": answered,
        "post_delay_s": delay,
        "commands": {
            c: {
                "ack": stats(r["seconds"]),
                "statuses": r["status"],
                "outcomes": r["outcome"],
            }
            for c, r in results.items()
        },
        "mentions_answered_500": failures,
        "chat_postMessage_calls_on_500": posts_on_500,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="rounds per command")
    parser.add_argument("--mentions", type=int, default=35)
    parser.add_argument("--delay", type=float, default=5.0, help="chat.postMessage delay, s")
    parser.add_argument("--failures", type=int, default=5, help="mentions answered while 500")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    result = run(args.rounds, args.mentions, args.delay, args.failures)
    if args.json:
        print(json.dumps(result))
        return 0
    print(
        f"{result['rounds']} rounds per command, {result['mentions_in_flight']} mentions on a "
        f"chat.postMessage delayed {result['post_delay_s']:g} s"
    )
    for command, r in result["commands"].items():
        a = r["ack"]
        print(
            f"{command:10} ack median {a['median_ms']:8.1f} ms  p95 {a['p95_ms']:8.1f} ms  "
            f"max {a['max_ms']:8.1f} ms  HTTP {sorted(set(r['statuses']))}  "
            f"audit {sorted(set(r['outcomes']))}"
        )
    print(f"mentions answered per round: {result['mentions_answered_per_round']}")
    print(
        f"chat.postMessage answering 500: {result['chat_postMessage_calls_on_500']} calls "
        f"for {result['mentions_answered_500']} mentions"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
