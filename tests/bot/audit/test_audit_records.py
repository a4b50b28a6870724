"""The caller-side helpers: one record shape per answer, served before delivered."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bot.audit.records import (
    SURFACES,
    audit_answer,
    cli_context,
    deliver_audited,
)
from bot.audit.trail import AuditTrail
from bot.audit.verify import read_records
from knowledge.models import Answer, Quote

ANSWER = Answer(
    question="Which US companies is Huawei talking to?",
    answered=True,
    kb_version="c2de55befcb7490c",
    quotes=(
        Quote(
            text="Huawei is in early talks with US companies.",
            doc_id="000_a",
            passage_id="000_a#1",
            start=0,
            end=43,
            score=6.807037,
        ),
        Quote(
            text="talks with a US firm",
            doc_id="002_b",
            passage_id="002_b#5",
            start=797,
            end=817,
            score=5.4,
        ),
    ),
)


def test_answer_fields_keep_what_replay_needs() -> None:
    fields = ANSWER.audit_fields(top=3)
    assert fields == {
        "question": ANSWER.question,
        "answered": True,
        "reason": None,
        "truncated": False,
        "kb_version": "c2de55befcb7490c",
        "top": 3,
        "quotes": [
            {
                "passage_id": "000_a#1",
                "doc_id": "000_a",
                "start": 0,
                "end": 43,
                "score": 6.807037,
                "text": "Huawei is in early talks with US companies.",
            },
            {
                "passage_id": "002_b#5",
                "doc_id": "002_b",
                "start": 797,
                "end": 817,
                "score": 5.4,
                "text": "talks with a US firm",
            },
        ],
    }


def test_unanswered_questions_are_recorded_with_their_reason(tmp_path: Path) -> None:
    refused = Answer(
        question="What is the weather?",
        answered=False,
        reason="no_match",
        kb_version="c2de55befcb7490c",
    )
    with AuditTrail(tmp_path / "a.jsonl") as trail:
        rec = audit_answer(
            trail,
            refused,
            surface="dm",
            request_id="r1",
            top=3,
            latency_ms=1.23456,
            team="T1",
            channel="D1",
            user="U1",
        )
    assert (rec["answered"], rec["reason"], rec["quotes"]) == (False, "no_match", [])
    assert rec["latency_ms"] == 1.235 and rec["surface"] == "dm" and rec["channel"] == "D1"


def test_served_is_durable_before_delivery_and_delivered_follows(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    seen_at_delivery: list[list[str]] = []

    def deliver() -> dict[str, str]:
        seen_at_delivery.append([r["event"] for r in read_records(path)])
        return {"ts": "1700000000.000200"}

    with AuditTrail(path) as trail:
        result = deliver_audited(
            trail,
            ANSWER,
            deliver,
            surface="ask",
            top=3,
            started=time.perf_counter(),
            request_id="req-1",
            message_ts=lambda r: r["ts"],
            team="T1",
            channel="C1",
            user="U1",
        )
    assert result == {"ts": "1700000000.000200"}
    assert seen_at_delivery == [["answer.served"]]
    served, delivered = read_records(path)
    assert served["request_id"] == delivered["request_id"] == "req-1"
    assert delivered["outcome"] == "delivered"
    assert delivered["message_ts"] == "1700000000.000200" and delivered["error"] is None
    assert delivered["latency_ms"] >= served["latency_ms"] >= 0
    assert (delivered["team"], delivered["channel"], delivered["user"]) == ("T1", "C1", "U1")


def test_failed_delivery_is_recorded_and_raised(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"

    def deliver() -> None:
        raise ConnectionError("slack unreachable after 3 retries")

    with AuditTrail(path) as trail, pytest.raises(ConnectionError):
        deliver_audited(
            trail,
            ANSWER,
            deliver,
            surface="post_to_channel",
            top=3,
            started=time.perf_counter(),
            user="U1",
        )
    delivered = list(read_records(path))[-1]
    assert delivered["outcome"] == "failed"
    assert delivered["error"] == "ConnectionError: slack unreachable after 3 retries"


def test_other_events_share_the_trail(tmp_path: Path) -> None:
    with AuditTrail(tmp_path / "a.jsonl") as trail:
        err = trail.error_reported(
            ref="E-7F3A",
            error="KeyError: 'x'",
            surface="timeline",
            request_id="r9",
            user="U1",
        )
        out = trail.delivered(
            surface="full_article", request_id="r9", latency_ms=3, error="channel_not_found"
        )
    assert (err["event"], err["ref"]) == ("error.reported", "E-7F3A")
    assert out["outcome"] == "failed"


def test_surfaces_are_the_documented_ones(tmp_path: Path) -> None:
    assert {
        "mention",
        "dm",
        "ask",
        "post_to_channel",
        "timeline",
        "full_article",
        "cli_ask",
        "cli_timeline",
    } == SURFACES
    with AuditTrail(tmp_path / "a.jsonl") as trail, pytest.raises(ValueError, match="surface"):
        audit_answer(trail, ANSWER, surface="email", request_id="r", top=3, latency_ms=0)


def test_cli_context_names_the_os_user_and_host() -> None:
    ctx = cli_context()
    assert ctx["user"] and ctx["host"]
