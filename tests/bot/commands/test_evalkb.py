"""``licensebot eval-kb`` end to end against the bundled knowledge base."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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


# Two splits in two files, as the bundled set is laid out: the dev file includes the test one.
DEV_SET = """
include = ["held_out.toml"]

[[question]]
text = "Which academics did Ren have a sit-down conversation with, livestreamed from China?"
docs = ["004_85910a5829b53819"]
must_contain = "Jerry Kaplan and Peter Cochrane"
kind = "exact"

[[refuse]]
text = "zebra giraffe okapi?"
kind = "refuse_offtopic"
"""

TEST_SET = """
[[question]]
text = "Is Huawei accused of violating US sanctions against Iran and stealing trade secrets?"
docs = ["000_9ce69e5facb87b11"]
must_contain = "stealing trade secrets"
kind = "exact"
split = "test"

[[question]]
text = "zebra giraffe okapi"
docs = ["000_9ce69e5facb87b11"]
must_contain = "declined to name or quantify the companies"
kind = "typo"
split = "test"

[[refuse]]
text = "quokka wombat numbat?"
kind = "refuse_offtopic"
split = "test"
"""

FIELD = (
    '{"question": "Which academics, Jerry Kaplan and Peter Cochrane, did Ren talk with?",'
    ' "answered": true, "docs": ["004_85910a5829b53819"],'
    ' "quote_contains_any": ["jerry kaplan"]}\n'
    '{"question": "aardvark pangolin?", "answered": false}\n'
)


@pytest.fixture
def split_files(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "held_out.toml").write_text(TEST_SET, encoding="utf-8")
    questions = tmp_path / "dev.toml"
    questions.write_text(DEV_SET, encoding="utf-8")
    field = tmp_path / "field.jsonl"
    field.write_text(FIELD, encoding="utf-8")
    return questions, field


def _run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["eval-kb", *args, "--json"]) == 0
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    return data


def test_json_reports_each_split_and_the_field_sample(
    split_files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    questions, field = split_files
    data = _run_json(capsys, "--questions", str(questions), "--field", str(field))
    # The old top-level keys describe every question scored, as before.
    assert (data["questions"], data["hits_at_1"], data["hits_at_3"]) == (3, 2, 2)
    assert (data["must_refuse"], data["false_answers"], data["must_refuse_refused"]) == (2, 0, 2)
    assert data["answerable_refused"] == 1
    assert data["question_files"] == [str(questions), str(questions.parent / "held_out.toml")]
    assert data["split_filter"] is None
    dev, test = data["splits"]["dev"], data["splits"]["test"]
    assert list(data["splits"]) == ["dev", "test"]
    assert (dev["questions"], dev["hits_at_3"], dev["must_refuse_refused"]) == (1, 1, 1)
    assert (test["questions"], test["hits_at_1"], test["hit_at_3"]) == (2, 1, 0.5)
    assert test["by_kind"] == {
        "exact": {"questions": 1, "hits_at_1": 1, "hits_at_3": 1},
        "typo": {"questions": 1, "hits_at_1": 0, "hits_at_3": 0},
    }
    assert test["refusals_by_kind"] == {"refuse_offtopic": {"questions": 1, "refused": 1}}
    assert [(m["question"], m["split"], m["answered"]) for m in test["misses"]] == [
        ("zebra giraffe okapi", "test", False)
    ]
    assert data["field_file"] == str(field)
    # Phrases of the field sample match whatever the case, as its README says.
    f = data["field"]
    assert (f["questions"], f["hits_at_3"], f["must_refuse"], f["must_refuse_refused"]) == (
        1,
        1,
        1,
        1,
    )
    assert f["by_kind"] == {"field": {"questions": 1, "hits_at_1": 1, "hits_at_3": 1}}


def test_split_option_scores_one_split(
    split_files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    questions, _ = split_files
    data = _run_json(capsys, "--questions", str(questions), "--split", "test")
    assert data["split_filter"] == "test"
    assert (data["questions"], data["must_refuse"]) == (2, 1)
    assert list(data["splits"]) == ["test"]
    assert data["field"] is None and data["field_file"] is None


def test_split_missing_from_the_file(questions: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval-kb", "--questions", str(questions), "--split", "test"]) == 2
    assert "no 'test' questions (splits: dev)" in capsys.readouterr().err


def test_unknown_split_is_a_usage_error(
    questions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["eval-kb", "--questions", str(questions), "--split", "train"])
    assert info.value.code == 2
    assert "invalid choice: 'train'" in capsys.readouterr().err


def test_text_report_has_a_line_per_split_and_the_field_sample(
    split_files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    questions, field = split_files
    assert main(["eval-kb", "--questions", str(questions), "--field", str(field)]) == 0
    out = capsys.readouterr().out
    assert "dev: 1 answerable, 1 must-refuse; test: 2 answerable, 1 must-refuse" in out
    assert f"field sample: {field} (1 answerable, 1 must-refuse; dev data)" in out
    rows = {
        line.split()[0]: line
        for line in out.splitlines()
        if line.startswith("  ") and not line.startswith("   ")
    }
    assert "hit@1 1.000 (1/1)" in rows["dev"]
    assert "hit@3 0.500 (1/2)" in rows["test"] and "answerable refused 1/2" in rows["test"]
    assert "must-refuse refused 1/1" in rows["field"]
    assert "misses at 3, test (1):" in out
    assert "     [typo] expected 000_9ce69e5facb87b11 containing" in out


def test_field_sample_given_as_the_question_file(
    split_files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, field = split_files
    data = _run_json(capsys, "--questions", str(field))
    assert (data["questions"], data["hits_at_3"], data["must_refuse"]) == (1, 1, 1)
    assert list(data["splits"]) == ["dev"]


def test_broken_field_sample(
    questions: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q", "answered": true}\n', encoding="utf-8")
    assert main(["eval-kb", "--questions", str(questions), "--field", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: line 1" in err and "needs docs and quote_contains_any" in err
    assert main(["eval-kb", "--questions", str(questions), "--field", str(tmp_path / "no")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_bundled_question_set_reports_both_splits(capsys: pytest.CaptureFixture[str]) -> None:
    bundled = Path(__file__).resolve().parents[2] / "knowledge" / "questions.toml"
    data = _run_json(capsys, "--questions", str(bundled))
    assert list(data["splits"]) == ["dev", "test"]
    assert data["question_files"] == [str(bundled), str(bundled.with_name("questions_test.toml"))]
    assert data["problems"] == []
    dev, test = data["splits"]["dev"], data["splits"]["test"]
    assert dev["questions"] + test["questions"] == data["questions"]
    assert dev["must_refuse"] + test["must_refuse"] == data["must_refuse"]
    assert set(test["refusals_by_kind"]) == {
        "refuse_offtopic",
        "refuse_furniture",
        "refuse_phrase",
        "refuse_attribute",
    }
