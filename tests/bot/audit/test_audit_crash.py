"""A crash mid-write leaves at most one torn line, which the next writer moves aside."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from bot.audit.trail import AuditTrail
from bot.audit.verify import read_records, verify_trail

# A writer process that prints each acknowledged seq after record() returned. With
# SPLIT_AT > 0 its SPLIT_AT-th line goes out in two halves, announcing "mid-write" in
# between, so the SIGKILL lands inside a write; with 0 it writes flat out and is killed
# wherever it happens to be.
WRITER = """
import os, sys, time
from pathlib import Path
from bot.audit.trail import AuditTrail

SPLIT_AT = int(sys.argv[2])

class SplitWrite:
    def __init__(self, fh):
        self.fh, self.count = fh, 0
    def write(self, data):
        self.count += 1
        if self.count == SPLIT_AT:
            half = len(data) // 2
            self.fh.write(data[:half])
            self.fh.flush()
            os.fsync(self.fh.fileno())
            print("mid-write", flush=True)
            time.sleep(60)
        return self.fh.write(data)
    def flush(self):
        self.fh.flush()
    def fileno(self):
        return self.fh.fileno()
    def close(self):
        self.fh.close()

trail = AuditTrail(Path(sys.argv[1]), opener=lambda p: SplitWrite(p.open("ab")))
print("ready", flush=True)
i = 0
while True:
    i += 1
    rec = trail.record("answer.served", question=f"q{i}", padding="licensing " * 500)
    print(rec["seq"], flush=True)
"""


def _write_records(path: Path, n: int) -> None:
    with AuditTrail(path) as trail:
        for i in range(n):
            trail.record("answer.served", question=f"q{i}", surface="cli_ask", user="alice")


def test_torn_final_line_is_reported_moved_aside_and_the_chain_continues(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    _write_records(path, 3)
    torn = b'{"answered":true,"event":"answer.served","question":"half wr'
    with path.open("ab") as fh:
        fh.write(torn)
    before = verify_trail(path)
    assert before.bad is not None and "torn line" in before.bad.reason

    with capture_logs() as logs, AuditTrail(path) as trail:
        assert trail.healthy
        nxt = trail.record("answer.served", question="after restart")

    reports = [e for e in logs if e["event"] == "audit.torn_line"]
    assert len(reports) == 1 and reports[0]["log_level"] == "warning"
    aside = tmp_path / reports[0]["moved_to"]
    assert aside.read_bytes() == torn
    records = list(read_records(path))
    # The recovery itself is on the record, chained after the last complete record.
    assert [r["event"] for r in records[-2:]] == ["audit.torn_line", "answer.served"]
    assert records[-2]["seq"] == 4 and records[-2]["bytes"] == len(torn)
    assert nxt["seq"] == 5
    result = verify_trail(path)
    assert result.ok and result.records == 5


def test_unreadable_last_complete_record_makes_the_trail_unhealthy(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    _write_records(path, 2)
    with path.open("ab") as fh:
        fh.write(b"this is not a record\n")
    with capture_logs() as logs, AuditTrail(path) as trail:
        assert not trail.healthy
        assert "unreadable" in (trail.last_error or "")
    assert any(e["event"] == "audit.unavailable" for e in logs)


def _kill_writer(path: Path, split_at: int) -> tuple[list[int], bool]:
    """Run the writer, SIGKILL it; (acknowledged seqs, whether it was mid-write)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(split_at)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline().strip() == "ready"
        acknowledged: list[int] = []
        mid_write = False
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = proc.stdout.readline().strip()
            if line == "mid-write":
                mid_write = True
                break
            acknowledged.append(int(line))
            if split_at == 0 and len(acknowledged) >= 20:
                break
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    acknowledged.extend(int(x) for x in proc.stdout.read().split() if x.isdigit())
    proc.stdout.close()
    return acknowledged, mid_write


@pytest.mark.parametrize("split_at", [1, 5, 0])
def test_kill_9_mid_write_then_restart_verifies(tmp_path: Path, split_at: int) -> None:
    path = tmp_path / "audit.jsonl"
    _write_records(path, 2)  # history from an earlier run that must survive
    acknowledged, mid_write = _kill_writer(path, split_at)
    torn = not verify_trail(path).ok
    if split_at:
        assert mid_write and torn  # half a line is on disk
        assert verify_trail(path).bad is not None
        assert "torn line" in str(verify_trail(path).bad)

    with AuditTrail(path) as trail:
        assert trail.healthy, trail.last_error
        trail.record("answer.served", question="after the kill")
    result = verify_trail(path)
    assert result.ok, result.bad
    records = list(read_records(path))
    on_disk = {r["seq"] for r in records if r["event"] == "answer.served"}
    assert set(acknowledged) <= on_disk  # no acknowledged record was lost
    assert {1, 2} <= on_disk
    side_files = list(tmp_path.glob("audit.jsonl.torn-*"))
    recoveries = [r for r in records if r["event"] == "audit.torn_line"]
    assert len(side_files) == len(recoveries) == int(torn)
    if torn:
        assert recoveries[0]["moved_to"] == side_files[0].name
        assert recoveries[0]["after_seq"] == max(acknowledged, default=2)
