"""``licensebot timeline``: text and JSON output, topic filtering, audit before output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.audit.verify import read_records, verify_trail
from bot.cli import main


@pytest.fixture(autouse=True)
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("LICENSEBOT_DATA_DIR", str(data))
    for name in ("LICENSEBOT_AUDIT_PATH", "LICENSEBOT_KB_DIR"):
        monkeypatch.delenv(name, raising=False)
    return data


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["timeline", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    code, out, _ = run(capsys, "--json", *argv)
    assert code == 0
    data: dict[str, Any] = json.loads(out)
    return data


def test_json_lists_every_event_oldest_first(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys)
    assert data["topic"] is None
    assert len(data["kb_version"]) == 16
    events = data["events"]
    dates = [e["date"] for e in events]
    assert dates[0] == "2009"
    assert "2016-11" in dates and "2019-05" in dates and "2019-07" in dates
    # Chronological by the start of each date's range ("2019" starts on 1 January).
    starts = [{4: f"{d}-01-01", 7: f"{d}-01"}.get(len(d), d) for d in dates]
    assert starts == sorted(starts)
    entity = next(e for e in events if "Entity List" in e["text"])
    assert len(entity["sources"]) == 3
    assert all(set(s) >= {"doc_id", "passage_id", "title", "publisher"} for s in entity["sources"])


def test_topic_words_need_no_quotes(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "entity", "list")
    assert data["topic"] == "entity list"
    assert [e["date"] for e in data["events"]] == ["2019-05"]


def test_text_output_shows_date_sentence_and_every_source(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "entity list")
    assert code == 0
    assert "May 2019" in out and "(“In May”)" in out
    assert "“In May, the U.S. Department of Commerce added Huawei to its Entity List" in out
    for doc in ("000_9ce69e5facb87b11#", "001_f90f437b07126a50#", "003_d70c0c6fd59800df#"):
        assert doc in out
    assert "1 event" in out


def test_text_output_marks_estimates_and_leads(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "Ren")
    assert code == 0
    assert "≈ 21 Sep 2019 – 27 Sep 2019" in out
    assert "livestreamed" in out
    assert "the article's lead" in out


def test_a_topic_that_matches_nothing_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "Apple")
    assert code == 0
    assert "no article mentions “Apple”" in out
    data = run_json(capsys, "Apple")
    assert data["events"] == [] and "Apple" in data["reason"]


def test_the_timeline_is_audited_before_it_is_shown(
    capsys: pytest.CaptureFixture[str], env: Path
) -> None:
    data = run_json(capsys, "Zurich")
    trail = env / "audit.jsonl"
    assert verify_trail(trail).ok
    record, delivered = list(read_records(trail))
    assert delivered["event"] == "answer.delivered"
    assert delivered["request_id"] == record["request_id"]
    assert record["event"] == "answer.served"
    assert record["surface"] == "cli_timeline"
    assert record["question"] == "Zurich"
    assert record["answered"] is True
    assert record["kb_version"] == data["kb_version"]
    shown = [(s["passage_id"], s["text"]) for e in data["events"] for s in e["sources"]]
    assert [(q["passage_id"], q["text"]) for q in record["quotes"]] == shown


def test_no_output_when_the_audit_trail_cannot_be_written(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("LICENSEBOT_AUDIT_PATH", str(blocker / "audit.jsonl"))
    code, out, err = run(capsys, "--json")
    assert code == 1
    assert out == ""
    assert "audit trail is unavailable" in err


def test_kb_option_reads_another_knowledge_base(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "one.txt").write_text(
        "Widget news\n\nAcme licensed its codec patents to Widget in March 2018.\n",
        encoding="utf-8",
    )
    data = run_json(capsys, "--kb", str(kb))
    assert [(e["date"], e["date_text"]) for e in data["events"]] == [("2018-03", "in March 2018")]


def test_an_invalid_knowledge_base_is_an_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(capsys, "--kb", str(tmp_path / "missing"))
    assert code == 1 and out == ""
    assert err


def test_help_names_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["timeline", "--help"])
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    assert "TOPIC" in help_text and "--json" in help_text and "--kb" in help_text
