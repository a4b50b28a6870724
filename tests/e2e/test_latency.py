"""Acknowledgements stay far inside Slack's 3 seconds (scripts/bench_slack.py measures more)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from functools import partial

from conftest import Bot, Reply, app_mention
from fake_slack import BOT_USER_ID

QUESTION = "Which US companies is Huawei talking to about licensing its 5G technology?"
N = 30


def timed(call: Callable[[], Reply]) -> float:
    started = time.perf_counter()
    reply = call()
    assert reply.status == 200
    return time.perf_counter() - started


def test_ack_latency(bot: Bot) -> None:
    bot.command(QUESTION)  # warm-up
    commands = [timed(partial(bot.command, QUESTION, response_key=f"c{i}")) for i in range(N)]
    events = [
        timed(partial(bot.event, app_mention(f"<@{BOT_USER_ID}> {QUESTION}"))) for _ in range(N)
    ]
    bot.fake.wait_for("chat.postMessage", N, timeout=30)
    for samples in (commands, events):
        assert statistics.median(samples) < 0.5
        assert max(samples) < 2.0


def test_follow_up_bench_script_through_serve() -> None:
    """scripts/bench_followup.py runs end to end (tiny counts) and follow-ups ack fast."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "scripts" / "bench_followup.py"
    tiny = ["--workers", "1,2", "--requests", "12", "--threads", "3", "--json"]
    done = subprocess.run(
        [sys.executable, str(script), *tiny],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert [row["workers"] for row in result["levels"]] == [1, 2]
    for row in result["levels"]:
        assert row["followup_ack"]["n"] == row["followup_answer"]["n"] == 12
        assert row["followup_ack"]["p50_ms"] < 500
        assert row["followup_answer"]["max_ms"] < 10_000
