"""AuditTrail: chaining, durability, scrubbing, concurrency, reopening and rotation."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import structlog

from bot.audit.chain import GENESIS_HASH, canonical_json, record_hash
from bot.audit.files import rotated_segments
from bot.audit.records import audit_answer
from bot.audit.trail import AuditTrail, open_trail
from bot.audit.verify import read_records, verify_trail
from bot.redact import REDACTED
from bot.settings import load_settings
from handlers.requests import new_request_id
from knowledge.models import Answer, Quote


def _answer(question: str = "Who is Huawei talking to?", n_quotes: int = 3) -> Answer:
    quotes = tuple(
        Quote(
            text=f"Huawei said {i} things about licensing.",
            doc_id=f"00{i}_doc",
            passage_id=f"00{i}_doc#{i}",
            start=10 * i,
            end=10 * i + 40,
            score=7.5 - i,
        )
        for i in range(n_quotes)
    )
    return Answer(
        question=question,
        answered=bool(quotes),
        kb_version="c2de55befcb7490c",
        quotes=quotes,
        reason=None if quotes else "no_match",
    )


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_records_are_chained_hashed_and_on_disk_when_record_returns(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditTrail(path) as trail:
        first = trail.record("kb.reloaded", by="U1", old_kb_version="a" * 16)
        assert len(_lines(path)) == 1  # written before record() returned, not at close
        second = trail.record("feedback.given", user="U2", helpful=True)
    assert first["seq"] == 1 and first["prev_hash"] == GENESIS_HASH
    assert second["seq"] == 2 and second["prev_hash"] == first["hash"]
    for rec in (first, second):
        assert rec["hash"] == record_hash(rec)
    written = [json.loads(line) for line in _lines(path)]
    assert written == [dict(first), dict(second)]
    assert [line.rstrip(b"\n").decode() for line in _lines(path)] == [
        canonical_json(first),
        canonical_json(second),
    ]


def test_every_record_carries_utc_time_event_and_bot_version(tmp_path: Path) -> None:
    moment = dt.datetime(2026, 3, 1, 12, 30, 5, 123456, tzinfo=dt.UTC)
    with AuditTrail(tmp_path / "a.jsonl", bot_version="9.9.9", clock=lambda: moment) as trail:
        rec = trail.record("admin.denied", user="U9", action="kb.reload")
    assert rec["ts"] == "2026-03-01T12:30:05.123456Z"
    assert rec["event"] == "admin.denied"
    assert rec["bot_version"] == "9.9.9"


def test_secrets_are_never_written(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditTrail(path) as trail:
        rec = trail.record(
            "answer.served",
            question="my token is xoxb-123456789012-abcdefABCDEF, what now?",
            slack_bot_token="xoxb-123456789012-abcdefABCDEF",
            extras={"signing_secret": "8f7e6d", "note": "app token xapp-1-A0B1C2D3-99-zz"},
            headers=["Authorization: Bearer xoxp-1111111111-2222"],
            password="hunter2",
        )
    text = path.read_text()
    for secret in ("xoxb-", "xoxp-", "xapp-", "8f7e6d", "hunter2"):
        assert secret not in text
    assert rec["slack_bot_token"] == REDACTED
    assert rec["extras"]["signing_secret"] == REDACTED
    assert rec["question"] == f"my token is {REDACTED}, what now?"
    assert verify_trail(path).ok


def test_values_are_stored_so_that_the_verifier_rehashes_them_identically(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditTrail(path) as trail:
        trail.record(
            "answer.served",
            question="华为 – «5G» \ud800 lone surrogate",
            score=float("nan"),
            when=dt.date(2019, 10, 18),
            path=tmp_path,
            ids=frozenset({"b", "a"}),
            pair=(1, 2.5),
        )
    assert verify_trail(path).ok
    (rec,) = read_records(path)
    assert rec["question"] == "华为 – «5G» \ud800 lone surrogate"
    assert rec["score"] == "nan" and rec["when"] == "2019-10-18"
    assert rec["ids"] == ["a", "b"] and rec["pair"] == [1, 2.5]


@pytest.mark.parametrize("bad", ["answer", "Answer.Served", "answer served", "answer."])
def test_event_names_must_be_dotted(tmp_path: Path, bad: str) -> None:
    with AuditTrail(tmp_path / "a.jsonl") as trail, pytest.raises(ValueError, match="dotted"):
        trail.record(bad)


@pytest.mark.parametrize("field", ["seq", "hash", "prev_hash", "ts"])
def test_chain_fields_cannot_be_set_by_callers(tmp_path: Path, field: str) -> None:
    with AuditTrail(tmp_path / "a.jsonl") as trail, pytest.raises(ValueError, match="trail"):
        trail.record("answer.served", **{field: "x"})
    assert (tmp_path / "a.jsonl").read_bytes() == b""


def test_reopening_continues_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditTrail(path) as trail:
        trail.record("kb.reloaded", result="ok")
        last = trail.record("kb.reloaded", result="ok")
    with AuditTrail(path) as again:
        assert again.head == (2, last["hash"])
        nxt = again.record("kb.reloaded", result="ok")
    assert nxt["seq"] == 3 and nxt["prev_hash"] == last["hash"]
    assert verify_trail(path).records == 3


def test_threads_answering_at_once_make_one_intact_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    threads_n, per_thread = 16, 40
    barrier = threading.Barrier(threads_n)
    errors: list[BaseException] = []
    with AuditTrail(path) as trail:

        def answer_many(worker: int) -> None:
            try:
                barrier.wait()
                for i in range(per_thread):
                    audit_answer(
                        trail,
                        _answer(f"q {worker}/{i}"),
                        surface="mention",
                        request_id=new_request_id(),
                        top=3,
                        latency_ms=1.0,
                        team="T1",
                        channel="C1",
                        user=f"U{worker}",
                        thread_ts="1.2",
                    )
            except BaseException as exc:  # surfaced below; a thread cannot fail the test
                errors.append(exc)

        workers = [threading.Thread(target=answer_many, args=(w,)) for w in range(threads_n)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    assert errors == []
    result = verify_trail(path)
    assert result.ok, result.bad
    assert result.records == threads_n * per_thread
    records = list(read_records(path))
    assert [r["seq"] for r in records] == list(range(1, threads_n * per_thread + 1))
    assert {r["question"] for r in records} == {
        f"q {w}/{i}" for w in range(threads_n) for i in range(per_thread)
    }


def test_two_writers_on_one_file_share_one_chain(tmp_path: Path) -> None:
    # Two trails on one path stand for two processes (a server and a CLI `ask`).
    path = tmp_path / "audit.jsonl"
    with AuditTrail(path) as server, AuditTrail(path) as cli:
        for i in range(10):
            (server if i % 3 else cli).record("answer.served", question=f"q{i}")
    result = verify_trail(path)
    assert result.ok, result.bad
    assert result.records == 10


def test_rotation_continues_the_chain_across_files(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditTrail(path, max_bytes=4096) as trail:
        for i in range(60):
            audit_answer(
                trail,
                _answer(f"question {i}"),
                surface="dm",
                request_id=str(i),
                top=3,
                latency_ms=2.0,
                user="U1",
                channel="D1",
            )
    segments = rotated_segments(path)
    assert len(segments) >= 3
    for seg in [*segments, path]:
        assert seg.stat().st_size <= 4096
    # The first record of each file points at the last record of the previous one.
    for older, newer in zip(segments, [*segments[1:], path], strict=True):
        last = json.loads(_lines(older)[-1])
        first = json.loads(_lines(newer)[0])
        assert first["prev_hash"] == last["hash"] and first["seq"] == last["seq"] + 1
    result = verify_trail(path)
    assert result.ok, result.bad
    assert result.records == 60 and len(result.files) == len(segments) + 1


def test_a_crash_right_after_rotating_continues_from_the_last_segment(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditTrail(path, max_bytes=4096) as trail:
        for i in range(30):
            last = trail.record("answer.served", question=f"question number {i}" + "x" * 200)
    # The rename happened but no new active file was created yet.
    path.rename(path.with_name("audit.jsonl." + str(len(rotated_segments(path)) + 1)))
    with AuditTrail(path, max_bytes=4096) as again:
        assert again.head == (30, last["hash"])
        again.record("answer.served", question="after the crash")
    assert verify_trail(path).records == 31


def test_open_trail_uses_the_data_dir_and_size_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LICENSEBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LICENSEBOT_AUDIT_MAX_BYTES", "8192")
    monkeypatch.delenv("LICENSEBOT_AUDIT_PATH", raising=False)
    with open_trail(load_settings(), bot_version="1.2.3") as trail:
        assert trail.path == tmp_path / "data" / "audit.jsonl"
        assert trail.max_bytes == 8192 and trail.healthy
        trail.record("kb.reloaded", result="ok")
    assert (tmp_path / "data" / "audit.jsonl").exists()


def test_the_writer_is_a_dedicated_structlog_logger(tmp_path: Path) -> None:
    # Global structlog configuration (the app's console logs) must not reach the file.
    seen: list[dict[str, Any]] = []

    def spy(_logger: object, _method: str, event_dict: Any) -> Any:
        seen.append(dict(event_dict))
        raise structlog.DropEvent

    structlog.configure(processors=[spy])
    try:
        with AuditTrail(tmp_path / "a.jsonl") as trail:
            trail.record("answer.served", question="q")
    finally:
        structlog.reset_defaults()
    assert [e for e in seen if e.get("event") == "answer.served"] == []
    assert verify_trail(tmp_path / "a.jsonl").records == 1


WRITER = """
import sys
from pathlib import Path
from bot.audit.trail import AuditTrail

with AuditTrail(Path(sys.argv[1])) as trail:
    for i in range(int(sys.argv[2])):
        trail.record("answer.served", question=f"{sys.argv[3]} {i}", surface="cli_ask")
"""


def test_processes_writing_at_once_share_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), "150", f"p{n}"])
        for n in range(3)
    ]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0]
    result = verify_trail(path)
    assert result.ok, result.bad
    assert result.records == 450


def test_a_forked_child_does_not_share_the_parents_lock(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditTrail(path) as trail:
        trail.record("answer.served", question="before fork")
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child's outcome is checked through the file
            code = 0
            try:
                for i in range(1000):
                    trail.record("answer.served", question=f"child {i}")
            except BaseException:
                code = 1
            os._exit(code)
        for i in range(1000):
            trail.record("answer.served", question=f"parent {i}")
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    result = verify_trail(path)
    assert result.ok, result.bad
    assert result.records == 2001
