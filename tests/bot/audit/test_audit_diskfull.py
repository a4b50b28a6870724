"""When the audit trail cannot be written, no answer goes out and the trail says so."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path
from typing import BinaryIO

import pytest
from structlog.testing import capture_logs

from bot.audit.records import deliver_audited
from bot.audit.trail import AuditTrail
from bot.audit.verify import read_records, verify_trail
from handlers.deps import AuditUnavailable
from knowledge.models import Answer, Quote

ANSWER = Answer(
    question="Who is Huawei talking to?",
    answered=True,
    kb_version="c2de55befcb7490c",
    quotes=(
        Quote(
            text="Huawei is in talks with US companies.",
            doc_id="000_a",
            passage_id="000_a#1",
            start=0,
            end=37,
            score=6.2,
        ),
    ),
)


class Disk:
    full = False


class FillingFile:
    """A real append-mode file whose writes fail with ENOSPC while its disk is full,
    after writing the first half of the data (a partial write, as a real full disk does)."""

    def __init__(self, fh: BinaryIO, disk: Disk) -> None:
        self.fh = fh
        self.disk = disk

    def write(self, data: bytes) -> int:
        if self.disk.full:
            self.fh.write(data[: len(data) // 2])
            self.fh.flush()
            raise OSError(errno.ENOSPC, "No space left on device")
        return self.fh.write(data)

    def flush(self) -> None:
        self.fh.flush()

    def fileno(self) -> int:
        return self.fh.fileno()

    def close(self) -> None:
        self.fh.close()


class Delivery:
    """Stands in for chat.postMessage: remembers what would have reached the user."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def __call__(self) -> str:
        self.sent.append("answer")
        return "1700000000.000100"


def _serve(trail: AuditTrail, deliver: Delivery) -> str:
    return deliver_audited(
        trail,
        ANSWER,
        deliver,
        surface="mention",
        top=3,
        started=time.perf_counter(),
        message_ts=lambda ts: ts,
        team="T1",
        channel="C1",
        user="U1",
        thread_ts="1.1",
    )


def test_disk_full_mid_life_withholds_the_answer_and_recovers(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    disk = Disk()

    def opener(p: Path) -> BinaryIO:
        return FillingFile(p.open("ab"), disk)  # type: ignore[return-value]

    deliver = Delivery()
    with AuditTrail(path, opener=opener) as trail:
        _serve(trail, deliver)
        assert deliver.sent == ["answer"] and trail.healthy
        disk.full = True
        with capture_logs() as logs, pytest.raises(AuditUnavailable):
            _serve(trail, deliver)
        with pytest.raises(AuditUnavailable):
            _serve(trail, deliver)  # still full: still no answer
        assert deliver.sent == ["answer"]  # nothing more reached the user
        assert not trail.healthy and "No space left" in (trail.last_error or "")
        errors = [e for e in logs if e["event"] == "audit.unavailable"]
        assert errors and errors[0]["log_level"] == "error"
        # The half-written line was cut back: the chain on disk is still intact.
        assert verify_trail(path).ok and verify_trail(path).records == 2

        disk.full = False  # space freed; the trail reopens on the next record
        _serve(trail, deliver)
        assert trail.healthy and deliver.sent == ["answer", "answer"]
    result = verify_trail(path)
    assert result.ok and result.records == 4
    assert [r["event"] for r in read_records(path)] == ["answer.served", "answer.delivered"] * 2


def test_kernel_enospc_from_dev_full(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.symlink_to("/dev/full")  # every write to /dev/full fails with ENOSPC
    deliver = Delivery()
    with AuditTrail(path) as trail:
        with pytest.raises(AuditUnavailable, match="No space left on device"):
            _serve(trail, deliver)
        assert not trail.healthy
    assert deliver.sent == []


def test_fsync_failure_withholds_the_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "audit.jsonl"
    deliver = Delivery()
    with AuditTrail(path) as trail:
        trail.record("kb.reloaded", result="ok")

        def failing_fsync(fd: int) -> None:
            raise OSError(errno.EIO, "Input/output error")

        monkeypatch.setattr(os, "fsync", failing_fsync)
        with pytest.raises(AuditUnavailable):
            _serve(trail, deliver)
        monkeypatch.undo()
        assert deliver.sent == [] and not trail.healthy
        _serve(trail, deliver)
        assert trail.healthy
    records = list(read_records(path))
    # The unacknowledged record was removed again; the chain continues without it.
    assert [r["seq"] for r in records] == [1, 2, 3]
    assert verify_trail(path).ok


def test_unwritable_location_makes_the_trail_unhealthy_from_the_start(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the data directory should be")
    with capture_logs() as logs, AuditTrail(blocker / "audit.jsonl") as trail:
        assert not trail.healthy
        assert not trail.probe()
        with pytest.raises(AuditUnavailable):
            trail.record("answer.served", question="q")
    assert any(e["event"] == "audit.unavailable" for e in logs)


def test_probe_recovers_once_the_problem_is_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditTrail(path) as trail:
        real_statvfs = os.statvfs

        def nearly_full(p: object) -> os.statvfs_result:
            st = real_statvfs(p)  # type: ignore[arg-type]
            return os.statvfs_result((st.f_bsize, st.f_frsize, st.f_blocks, 1, 1, *st[5:]))

        def no_space(fd: int) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(os, "fsync", no_space)
        with pytest.raises(AuditUnavailable):
            trail.record("answer.served", question="q")
        monkeypatch.undo()
        monkeypatch.setattr(os, "statvfs", nearly_full)
        assert not trail.probe()  # still (almost) no space: stay unready
        monkeypatch.undo()
        assert trail.probe() and trail.healthy
        assert trail.record("answer.served", question="q")["seq"] == 1
