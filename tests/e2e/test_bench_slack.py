"""scripts/bench_slack.py runs end to end (tiny counts): server, fake and load apart."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_slack.py"


def test_bench_slack_measures_one_and_two_workers() -> None:
    tiny = ["--workers", "1,2", "--clients", "1,3", "--requests", "10", "--json"]
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *tiny],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert "CPUs" in result["machine"]
    levels = result["levels"]
    assert [(r["workers"], r["clients"]) for r in levels] == [(1, 1), (1, 3), (2, 1), (2, 3)]
    for row in levels:
        for kind in ("ask_ack", "mention_ack", "retry_ack"):
            assert row[kind]["n"] == 10 and 0 < row[kind]["p50_ms"] <= row[kind]["p99_ms"]
        assert row["ask_answers_per_s"] > 0 and row["mention_answers_per_s"] > 0
