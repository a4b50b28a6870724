"""``licensebot eval-kb`` end to end against the bundled knowledge base."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main

# A small set whose verdicts hold for any engine that quotes the articles at all: the
# answerable questions use the articles' own words, the refusals share no word with them.
SMALL_SET = """
[[question]]
text = "Which academics did Ren have a sit-down conversation with, livestreamed from China?"
docs = ["004_85910a5829b53819"]
must_contain = "Jerry Kaplan and Peter Cochrane"

[[question]]
text = "zebra giraffe okapi"
docs = ["000_9ce69e5facb87b11"]
must_contain = "declined to name or quantify the companies"

[[refuse]]
text = "zebra giraffe okapi?"
why = "no word of it occurs in the articles"
"""


@pytest.fixture
def questions(tmp_path: Path) -> Path:
    path = tmp_path / "questions.toml"
    path.write_text(SMALL_SET, encoding="utf-8")
    return path


def test_json_report(questions: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval-kb", "--questions", str(questions), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["question_file"] == str(questions)
    assert len(data["kb_version"]) == 16
    assert (data["questions"], data["hits_at_1"], data["hits_at_3"]) == (2, 1, 1)
    assert data["hit_at_3"] == 0.5
    assert (data["must_refuse"], data["false_answers"]) == (1, 0)
    assert [m["question"] for m in data["misses"]] == ["zebra giraffe okapi"]
    assert data["misses"][0]["answered"] is False
    # A miss is a failure of the engine, not of the question set: the key itself is sound.
    assert data["problems"] == []


def test_text_report_lists_failures(questions: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval-kb", "--questions", str(questions)]) == 0
    out = capsys.readouterr().out
    assert "hit@1: 0.500 (1/2)" in out
    assert "hit@3: 0.500 (1/2)" in out
    assert "must-refuse answered: 0/1" in out
    assert "Q: zebra giraffe okapi\n" in out
    assert "refused:" in out


def test_question_set_problems_are_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "typo.toml"
    path.write_text(
        '[[question]]\ntext = "Who is Vincent Pang?"\ndocs = ["000_9ce69e5facb87b11"]\n'
        'must_contain = "senior vice presdent"\n',
        encoding="utf-8",
    )
    assert main(["eval-kb", "--questions", str(path), "--json"]) == 0
    problems = json.loads(capsys.readouterr().out)["problems"]
    assert any("'senior vice presdent' is in none of its docs" in p for p in problems)


def test_questions_option_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["eval-kb"])
    assert info.value.code == 2
    assert "--questions" in capsys.readouterr().err


def test_unreadable_question_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval-kb", "--questions", str(tmp_path / "none.toml")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_invalid_knowledge_base(
    questions: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "kb"
    empty.mkdir()
    (empty / "a.txt").write_text("", encoding="utf-8")
    assert main(["eval-kb", "--questions", str(questions), "--kb", str(empty)]) == 1
    assert "cannot be loaded" in capsys.readouterr().err
