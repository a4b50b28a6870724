"""Acknowledgements stay far inside Slack's 3 seconds (scripts/bench_slack.py measures more)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from functools import partial

from conftest import Bot, LogSink, Reply, app_mention
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


def test_follow_up_ack_latency_and_the_bench_script(logs: LogSink) -> None:
    """scripts/bench_followup.py runs (a short run) and its follow-ups ack fast."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
    import bench_followup

    result = bench_followup.run(requests=20, threads=4, quiet_logs=False)
    assert result["followup_ack"]["n"] == 20
    assert result["followup_ack"]["p50_ms"] < 500
    assert result["followup_answer"]["max_ms"] < 5000
