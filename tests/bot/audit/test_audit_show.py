"""`licensebot audit show`: filters, readable listing, JSON lines and CSV export."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.audit.show import CSV_COLUMNS, parse_since
from bot.audit.trail import AuditTrail
from bot.cli import main


def _clock() -> Iterator[dt.datetime]:
    moment = dt.datetime(2026, 1, 1, 9, 0, tzinfo=dt.UTC)
    while True:
        yield moment
        moment += dt.timedelta(hours=1)


@pytest.fixture
def trail_path(tmp_path: Path) -> Path:
    path = tmp_path / "audit.jsonl"
    ticks = _clock()
    with AuditTrail(path, clock=lambda: next(ticks)) as trail:
        trail.record(
            "answer.served",
            request_id="r1",
            surface="mention",
            team="T1",
            channel="C1",
            user="U1",
            thread_ts="1.1",
            question="Who licenses 5G?",
            answered=True,
            reason=None,
            kb_version="c2de55befcb7490c",
            top=3,
            quotes=[
                {
                    "passage_id": "000_a#1",
                    "doc_id": "000_a",
                    "start": 0,
                    "end": 40,
                    "score": 6.8,
                    "text": "Huawei ...",
                }
            ],
            latency_ms=12.5,
        )
        trail.record(
            "answer.delivered",
            request_id="r1",
            surface="mention",
            user="U1",
            outcome="delivered",
            message_ts="1700000000.1",
            latency_ms=80.0,
        )
        trail.record(
            "answer.served",
            request_id="r2",
            surface="cli_ask",
            user="alice",
            host="box",
            question='=HYPERLINK("http://x")',
            answered=False,
            reason="no_match",
            kb_version="c2de55befcb7490c",
            top=3,
            quotes=[],
            latency_ms=3.0,
        )
        trail.record(
            "kb.reloaded",
            user="U9",
            result="ok",
            old_kb_version="a" * 16,
            new_kb_version="b" * 16,
            diff={"added": ["005_x"]},
        )
    return path


def _show(capsys: pytest.CaptureFixture[str], path: Path, *args: str) -> str:
    assert main(["audit", "show", "--path", str(path), *args]) == 0
    return capsys.readouterr().out


def test_listing_shows_one_line_per_record(
    trail_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _show(capsys, trail_path).splitlines()
    assert len(lines) == 4
    assert "answer.served" in lines[0] and "U1" in lines[0] and "000_a#1" in lines[0]
    assert "delivered ts=1700000000.1" in lines[1]
    assert "not answered (no_match)" in lines[2]
    assert "new_kb_version=" in lines[3]


def test_filters_combine(trail_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = _show(capsys, trail_path, "--json", "--user", "U1", "--event", "answer.served")
    assert [json.loads(line)["request_id"] for line in out.splitlines()] == ["r1"]
    out = _show(capsys, trail_path, "--json", "--since", "2026-01-01T10:00:00Z")
    assert [json.loads(line)["seq"] for line in out.splitlines()] == [2, 3, 4]
    out = _show(capsys, trail_path, "--json", "--since", "2026-01-01T12:00")
    assert [json.loads(line)["event"] for line in out.splitlines()] == ["kb.reloaded"]
    out = _show(capsys, trail_path, "--json", "--user", "alice", "--user", "U9")
    assert [json.loads(line)["seq"] for line in out.splitlines()] == [3, 4]


def test_json_output_is_the_stored_records(
    trail_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _show(capsys, trail_path, "--json")
    stored = [json.loads(line) for line in trail_path.read_text().splitlines()]
    assert [json.loads(line) for line in out.splitlines()] == stored


def test_csv_export(trail_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = list(csv.DictReader(io.StringIO(_show(capsys, trail_path, "--csv"))))
    assert len(rows) == 4 and tuple(rows[0].keys()) == CSV_COLUMNS
    first = rows[0]
    assert (first["seq"], first["team"], first["channel"], first["user"]) == ("1", "T1", "C1", "U1")
    assert first["answered"] == "true" and first["passage_ids"] == "000_a#1"
    assert json.loads(first["quotes"])[0]["end"] == 40
    # A question that a spreadsheet would run as a formula is exported as text.
    assert rows[2]["question"] == '\'=HYPERLINK("http://x")'
    assert json.loads(rows[3]["details"]) == {
        "diff": {"added": ["005_x"]},
        "new_kb_version": "b" * 16,
        "old_kb_version": "a" * 16,
        "result": "ok",
    }


def test_bad_since_is_a_usage_error(trail_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "show", "--path", str(trail_path), "--since", "yesterday"]) == 2
    assert "--since" in capsys.readouterr().err


def test_since_without_zone_is_utc() -> None:
    assert parse_since("2026-01-01") == dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert parse_since("2026-01-01T10:00+02:00").utcoffset() == dt.timedelta(hours=2)


def test_missing_trail_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "show", "--path", str(tmp_path / "none.jsonl")]) == 1
    assert "no audit file" in capsys.readouterr().err
