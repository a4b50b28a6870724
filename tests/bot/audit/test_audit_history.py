"""Reading the trail back: a user's last questions, and the gaps digest's items."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.audit.history import DatabaseHistory, FileHistory
from bot.audit.trail import AuditTrail
from handlers.deps import AuditHistory
from knowledge.evaluation.gaps import GapKind

START = dt.datetime(2026, 1, 1, 9, 0, tzinfo=dt.UTC)


def _clock() -> Iterator[dt.datetime]:
    moment = START
    while True:
        yield moment
        moment += dt.timedelta(hours=1)


def served(rid: str, question: str, *, user: str = "U1", **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "request_id": rid,
        "surface": "mention",
        "user": user,
        "question": question,
        "answered": True,
        "kb_version": "v1",
        "quotes": [],
    }
    values.update(fields)
    return values


def write(path: Path, records: list[tuple[str, dict[str, Any]]], **trail: Any) -> None:
    ticks = _clock()
    with AuditTrail(path, clock=lambda: next(ticks), **trail) as audit:
        for event, fields in records:
            audit.record(event, **fields)


Records = list[tuple[str, dict[str, Any]]]


@pytest.fixture(params=["file", pytest.param("database", marks=pytest.mark.needs_postgres)])
def history_of(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """A function: records -> the history of a trail holding them (file or table)."""

    def file_history(records: Records) -> AuditHistory:
        write(tmp_path / "audit.jsonl", records)
        return FileHistory(tmp_path / "audit.jsonl")

    def database_history(records: Records) -> AuditHistory:
        from bot.audit.postgres import PostgresTrail

        url = request.getfixturevalue("pg_schema_url")
        ticks = _clock()
        with PostgresTrail(url, clock=lambda: next(ticks)) as audit:
            for event, fields in records:
                audit.record(event, **fields)
        return DatabaseHistory(url)

    return file_history if request.param == "file" else database_history


def test_recent_questions_are_the_users_own_newest_first_and_distinct(history_of: Any) -> None:
    history = history_of(
        [
            ("answer.served", served("r1", "Who licenses 5G?")),
            ("answer.served", served("r2", "What did Ren say?", user="U2")),
            ("answer.served", served("r3", "When was Huawei listed?", answered=False)),
            ("answer.served", served("r4", "who licenses  5G?")),  # same question again
            ("answer.served", served("r5", "ignored", surface="cli_ask")),
            ("answer.delivered", {"request_id": "r4", "surface": "mention", "user": "U1"}),
        ],
    )
    got = history.recent_questions("U1", limit=5)
    assert [(q.question, q.request_id, q.answered) for q in got] == [
        ("who licenses  5G?", "r4", True),
        ("When was Huawei listed?", "r3", False),
    ]
    assert got[0].at == START + dt.timedelta(hours=3)
    assert [q.request_id for q in history.recent_questions("U1", limit=1)] == ["r4"]
    assert history.recent_questions("U9") == []


def test_a_follow_up_is_listed_as_it_was_asked(history_of: Any) -> None:
    record = served("r1", "and Nokia? — when was huawei added?", surface="thread")
    (past,) = history_of([("answer.served", {**record, "asked": "and Nokia?"})]).recent_questions(
        "U1"
    )
    assert past.question == "and Nokia?"


def test_recent_questions_read_across_rotated_segments(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    filler = "x" * 1500
    records = [("answer.served", served(f"r{n}", f"question {n} {filler}")) for n in range(12)]
    write(path, records, max_bytes=4096)
    assert len(list(tmp_path.glob("audit.jsonl.*"))) >= 2
    got = FileHistory(path).recent_questions("U1", limit=10)
    assert [q.request_id for q in got] == [f"r{n}" for n in range(11, 1, -1)]


def test_gap_items_are_refusals_for_lack_and_not_helpful_answers(history_of: Any) -> None:
    history = history_of(
        [
            (
                "answer.served",
                served("r0", "too old", answered=False, refusal="unknown_name"),
            ),
            (
                "answer.served",
                served(
                    "r1",
                    "What did Nokia say?",
                    answered=False,
                    refusal="unknown_name",
                    unmatched_terms=["Nokia"],
                ),
            ),
            ("answer.served", served("r2", "", answered=False, refusal="empty_question")),
            ("answer.served", served("r3", "?!", answered=False, refusal="no_words")),
            (
                "answer.served",
                served(
                    "r4",
                    "Old record",
                    answered=False,
                    reason="Not in the knowledge base: no article mentions “Apple”.",
                ),
            ),
            ("answer.served", served("r5", "Who is Pang?", unmatched_terms=["Pang"])),
            (
                "answer.feedback",
                {"request_id": "r5", "feedback_id": "f1", "helpful": False, "user": "U1"},
            ),
            (
                "answer.feedback_reason",
                {"request_id": "r5", "feedback_id": "f1", "reason": "wrong_quote"},
            ),
            ("answer.feedback", {"request_id": "r5", "feedback_id": "f2", "helpful": True}),
        ],
    )
    items = history.gap_items(START + dt.timedelta(minutes=30))
    assert [(i.question, i.kind, i.words, i.reason) for i in items] == [
        ("What did Nokia say?", GapKind.REFUSED, ("Nokia",), None),
        ("Old record", GapKind.REFUSED, (), None),
        ("Who is Pang?", GapKind.NOT_HELPFUL, ("Pang",), "wrong_quote"),
    ]
    assert items[0].at == START + dt.timedelta(hours=1)


def test_no_trail_is_no_history(tmp_path: Path) -> None:
    history = FileHistory(tmp_path / "missing.jsonl")
    assert history.recent_questions("U1") == []
    assert history.gap_items(START) == []
