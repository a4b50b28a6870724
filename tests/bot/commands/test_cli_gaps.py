"""`licensebot kb gaps`: the gaps digest from the terminal, over the real audit trail."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_runner import Cli, in_process_cli

from bot.audit.records import audit_answer
from bot.audit.trail import AuditTrail
from knowledge.service import KnowledgeBase


@pytest.fixture
def cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Cli]:
    yield from in_process_cli(tmp_path, monkeypatch, capsys)


def ask(trail: AuditTrail, kb: KnowledgeBase, rid: str, question: str) -> None:
    audit_answer(
        trail,
        kb.answer(question),
        surface="mention",
        request_id=rid,
        top=3,
        latency_ms=1.0,
        user="U1",
        channel="C1",
    )


@pytest.fixture
def trail(tmp_path: Path) -> Path:
    kb = KnowledgeBase.load()
    path = tmp_path / "var" / "audit.jsonl"
    with AuditTrail(path) as audit:
        ask(audit, kb, "r1", "What did Samsung Galaxy phones cost?")
        ask(audit, kb, "r2", "Is Apple buying Huawei?")
        ask(audit, kb, "r3", "Apple patents?")
        ask(audit, kb, "r4", "When was Huawei added to the Entity List?")
        audit.record(
            "answer.feedback",
            request_id="r4",
            feedback_id="f1",
            helpful=False,
            user="U2",
            question="When was Huawei added to the Entity List?",
        )
        audit.record("answer.feedback_reason", request_id="r4", feedback_id="f1", reason="outdated")
    return path


def test_gaps_lists_the_missing_words_most_frequent_first(cli: Cli, trail: Path) -> None:
    code, out, err = cli("kb", "gaps")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("4 refused or not-helpful questions in the last 7 days")
    assert "Apple" in lines[1] and "2 refused" in lines[1] and "“Apple patents?”" in lines[1]
    assert any("not helpful" in line and "[outdated]" in line for line in lines)


def test_gaps_json_shape(cli: Cli, trail: Path) -> None:
    code, out, _ = cli("kb", "gaps", "--json", "--days", "30", "--limit", "2")
    assert code == 0
    report = json.loads(out)
    assert report["days"] == 30 and report["items"] == 4
    assert len(report["gaps"]) == 2
    first = report["gaps"][0]
    assert set(first) == {
        "words", "count", "refused", "not_helpful", "example", "last_at", "reasons"
    }  # fmt: skip
    assert first["words"] == ["Apple"] and first["count"] == 2
    assert dt.datetime.fromisoformat(first["last_at"]).tzinfo is not None


def test_gaps_of_an_empty_period_and_bad_arguments(cli: Cli, tmp_path: Path) -> None:
    code, out, _ = cli("kb", "gaps", "--days", "1")
    assert code == 0
    assert out.strip() == "No refused or not-helpful questions in the last day."
    assert cli("kb", "gaps", "--days", "0")[0] == 2
    assert cli("kb", "gaps", "--days", "9999")[0] == 2
    code, _, err = cli("kb", "gaps", "--path", "x", "--database-url", "postgresql://h/d")
    assert code == 2 and "not both" in err
