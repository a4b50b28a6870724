"""`licensebot audit replay`: an old answer re-run against the version that gave it."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import pytest
import tomli_w

from bot.audit.records import audit_answer
from bot.audit.replay import ReplayError, find_record, replay_record
from bot.audit.trail import AuditTrail
from bot.cli import main
from knowledge.service import KnowledgeBase, bundled_kb_dir
from knowledge.store.saved import SavedVersions

QUESTION = "Which US companies is Huawei talking to about licensing its 5G technology?"


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path, KnowledgeBase]:
    """A KB that answered QUESTION (seq 1), was snapshotted, then changed and reloaded."""
    kb_dir, data_dir = tmp_path / "kb", tmp_path / "data"
    shutil.copytree(bundled_kb_dir(), kb_dir)
    kb = KnowledgeBase.load(kb_dir, data_dir=data_dir)
    SavedVersions(data_dir).save(kb_dir, kb.kb_version)
    answer = kb.answer(QUESTION, 3)
    assert answer.answered and answer.quotes
    audit = data_dir / "audit.jsonl"
    with AuditTrail(audit) as trail:
        audit_answer(
            trail,
            answer,
            surface="mention",
            request_id="r1",
            top=3,
            latency_ms=5.0,
            team="T1",
            channel="C1",
            user="U1",
            thread_ts="1.1",
        )
        trail.record(
            "answer.delivered",
            request_id="r1",
            surface="mention",
            outcome="delivered",
            message_ts="1.2",
        )
    # Remove the article the top quote came from; the live answer changes.
    top_doc = answer.quotes[0].doc_id
    for path in kb_dir.glob(f"{top_doc}.*"):
        path.unlink()
    manifest = tomllib.loads((kb_dir / "manifest.toml").read_text())
    manifest["articles"].pop(top_doc, None)
    (kb_dir / "manifest.toml").write_text(tomli_w.dumps(manifest))
    kb.reload(by="test")
    now = kb.answer(QUESTION, 3)
    assert now.kb_version != answer.kb_version
    assert [q.passage_id for q in now.quotes] != [q.passage_id for q in answer.quotes]
    return audit, data_dir, kb


def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, data_dir: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LICENSEBOT_DATA_DIR", str(data_dir))
    monkeypatch.delenv("LICENSEBOT_AUDIT_PATH", raising=False)


def test_replay_after_the_kb_changed_gives_the_same_quotes(
    setup: tuple[Path, Path, KnowledgeBase],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _audit, data_dir, _kb = setup
    _env(monkeypatch, tmp_path, data_dir)
    assert main(["audit", "replay", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("seq 1: same quotes from knowledge base ")
    assert main(["audit", "replay", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["same"] is True and result["differences"] == []


def test_replay_notices_a_record_that_does_not_match(
    setup: tuple[Path, Path, KnowledgeBase],
    tmp_path: Path,
) -> None:
    audit, data_dir, _kb = setup
    record = find_record(audit, 1)
    forged = {**record, "quotes": [{**record["quotes"][0], "start": 1, "text": "made up"}]}
    result = replay_record(forged, SavedVersions(data_dir))
    assert not result.same
    assert any("quote 1" in d and "start, text differ" in d for d in result.differences)
    assert any("quotes recorded" in d for d in result.differences)


def test_replay_cli_exits_1_on_a_difference(
    setup: tuple[Path, Path, KnowledgeBase],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    audit, data_dir, _kb = setup
    record = find_record(audit, 1)
    # A separate, self-consistent trail whose record claims different quotes.
    other = tmp_path / "other.jsonl"
    with AuditTrail(other) as trail:
        fields = {
            k: v for k, v in record.items() if k not in {"seq", "hash", "prev_hash", "ts", "event"}
        }
        fields["quotes"] = list(reversed(fields["quotes"]))
        trail.record("answer.served", **fields)
    _env(monkeypatch, tmp_path, data_dir)
    assert main(["audit", "replay", "1", "--path", str(other)]) == 1
    assert "DIFFERENT quotes" in capsys.readouterr().out


def test_what_cannot_be_replayed_is_explained(
    setup: tuple[Path, Path, KnowledgeBase],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _audit, data_dir, _kb = setup
    _env(monkeypatch, tmp_path, data_dir)
    assert main(["audit", "replay", "2"]) == 2
    assert "not answer.served" in capsys.readouterr().err
    assert main(["audit", "replay", "99"]) == 2
    assert "no record with seq 99" in capsys.readouterr().err
    assert main(["audit", "replay", "1", "--data-dir", str(tmp_path / "elsewhere")]) == 2
    assert "is not retained" in capsys.readouterr().err


def test_an_altered_stored_version_is_refused(setup: tuple[Path, Path, KnowledgeBase]) -> None:
    audit, data_dir, _kb = setup
    record = find_record(audit, 1)
    stored = SavedVersions(data_dir).path(record["kb_version"])
    assert stored is not None
    article = sorted(stored.glob("*.txt"))[-1]
    article.write_text(article.read_text() + "\nHuawei also said something else.\n")
    with pytest.raises(ReplayError, match="altered copy"):
        replay_record(record, SavedVersions(data_dir))


def test_missing_top_falls_back_with_a_note(setup: tuple[Path, Path, KnowledgeBase]) -> None:
    audit, data_dir, _kb = setup
    record = {k: v for k, v in find_record(audit, 1).items() if k != "top"}
    result = replay_record(record, SavedVersions(data_dir), default_top=3)
    assert result.same and result.top == 3
    assert result.notes == ("top was not recorded; replayed with top=3",)


def test_a_more_follow_up_replays_without_the_quotes_shown_before(
    setup: tuple[Path, Path, KnowledgeBase],
) -> None:
    audit, data_dir, _kb = setup
    record = find_record(audit, 1)
    stored = SavedVersions(data_dir).path(record["kb_version"])
    assert stored is not None
    old = KnowledgeBase.load(stored)
    page = old.answer(QUESTION, 6, skip=3)
    assert page.quotes
    more = {
        **record,
        "surface": "thread",
        "top": 6,
        "skip": 3,
        "followup": "more",
        "builds_on": ["r1"],
        "quotes": [q.audit_fields() for q in page.quotes],
    }
    assert replay_record(more, SavedVersions(data_dir)).same
    # Without the skip the same record would claim the wrong quotes.
    assert not replay_record({**more, "skip": 0}, SavedVersions(data_dir)).same


def test_a_claim_check_replays_with_its_statements_verdicts(
    setup: tuple[Path, Path, KnowledgeBase],
) -> None:
    audit, data_dir, _kb = setup
    record = find_record(audit, 1)
    stored = SavedVersions(data_dir).path(record["kb_version"])
    assert stored is not None
    text = "Huawei was added to the Entity List in March 2019."
    checked = KnowledgeBase.load(stored).check_claims(text)
    claim = {
        **record,
        "surface": "check_claim",
        "question": text,
        "said_on": "2019-10-25",
        "answered": True,
        "quotes": checked.audit_quotes(),
    }
    result = replay_record(claim, SavedVersions(data_dir))
    assert result.same, result.differences
    assert not replay_record({**claim, "quotes": []}, SavedVersions(data_dir)).same
