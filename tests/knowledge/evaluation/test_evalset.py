"""The bundled knowledge base against its evaluation question set, and the scoring itself."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from knowledge.evaluation.evalset import (
    EvalQuestion,
    EvalReport,
    EvalSetError,
    FurnitureText,
    QuestionSet,
    RefuseQuestion,
    check_question_set,
    evaluate,
    format_report,
    hit_rank,
    load_question_set,
    parse_question_set,
    quote_hits,
)
from knowledge.models import Answer, Quote, SourceRef
from knowledge.service import KnowledgeBase

QUESTIONS = Path(__file__).resolve().parents[1] / "questions.toml"


@pytest.fixture(scope="module")
def qset() -> QuestionSet:
    return load_question_set(QUESTIONS)


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return KnowledgeBase.load()


@pytest.fixture(scope="module")
def report(qset: QuestionSet, kb: KnowledgeBase) -> EvalReport:
    return evaluate(qset, lambda q: kb.answer(q, 3), k=3)


# --- the bundled question set -----------------------------------------------------------


def test_question_set_is_large_and_varied(qset: QuestionSet) -> None:
    assert len(qset.questions) >= 50
    assert len(qset.refusals) >= 15
    kinds = {q.kind for q in qset.questions}
    assert {"direct", "paraphrase", "numeric", "name", "date", "multi"} <= kinds
    assert sum(q.kind == "paraphrase" for q in qset.questions) >= 10
    # Corroborated statements: some answers are carried by three or more articles.
    assert sum(len(q.docs) >= 3 for q in qset.questions) >= 5


def test_question_set_agrees_with_cleaned_text(qset: QuestionSet, kb: KnowledgeBase) -> None:
    texts = {doc_id: a.text for doc_id, a in kb.snapshot.articles.items()}
    assert check_question_set(qset, texts) == []


def test_every_article_answers_some_question(qset: QuestionSet, kb: KnowledgeBase) -> None:
    covered = {doc for q in qset.questions for doc in q.docs}
    assert covered == set(kb.snapshot.articles)


def test_hit_at_3_is_at_least_0_9(report: EvalReport) -> None:
    assert report.hit_rate(3) >= 0.9, format_report(report)


def test_no_must_refuse_question_is_answered(report: EvalReport) -> None:
    assert [r.question.text for r in report.false_answers] == [], format_report(report)


# --- scoring -----------------------------------------------------------------------------


def _quote(text: str, doc_id: str, also: tuple[str, ...] = ()) -> Quote:
    return Quote(
        text=text,
        doc_id=doc_id,
        passage_id=f"{doc_id}#1",
        start=0,
        end=len(text),
        score=1.0,
        published=dt.date(2019, 10, 18),
        also_reported_by=tuple(SourceRef(doc_id=d, passage_id=f"{d}#4") for d in also),
    )


def _answer(*quotes: Quote, answered: bool = True) -> Answer:
    return Answer(
        question="q",
        answered=answered,
        kb_version="0" * 16,
        quotes=quotes,
        reason=None if answered else "Not in the knowledge base.",
    )


PANG = EvalQuestion(
    text="What did Pang say?", docs=("a", "b"), must_contain=("talking to us", "shown interest")
)


def test_quote_hits_needs_expected_doc_and_phrase() -> None:
    assert quote_hits(_quote("There are some companies talking to us.", "a"), PANG)
    assert quote_hits(_quote("They have shown interest.", "b"), PANG)
    assert not quote_hits(_quote("There are some companies talking to us.", "c"), PANG)
    assert not quote_hits(_quote("Huawei has spent billions.", "a"), PANG)


def test_quote_hits_counts_corroborating_articles() -> None:
    assert quote_hits(_quote("Some companies talking to us.", "c", also=("b",)), PANG)


def test_phrase_may_span_a_line_break_in_the_quote() -> None:
    assert quote_hits(_quote("some companies talking\nto us", "a"), PANG)


def test_hit_rank_is_first_hitting_quote_within_k() -> None:
    off = _quote("Huawei has spent billions.", "a")
    on = _quote("talking to us", "b")
    assert hit_rank(_answer(on, off), PANG) == 1
    assert hit_rank(_answer(off, off, on), PANG, k=3) == 3
    assert hit_rank(_answer(off, off, on), PANG, k=2) is None
    assert hit_rank(_answer(off), PANG) is None
    assert hit_rank(_answer(answered=False), PANG) is None


def test_evaluate_counts_hits_and_false_answers() -> None:
    qset = QuestionSet(
        questions=(
            PANG,
            EvalQuestion(text="second", docs=("a",), must_contain=("billions",)),
            EvalQuestion(text="third", docs=("a",), must_contain=("nowhere",)),
        ),
        refusals=(RefuseQuestion(text="weather?"), RefuseQuestion(text="football?")),
    )
    replies = {
        PANG.text: _answer(_quote("x", "a"), _quote("talking to us", "a")),
        "second": _answer(_quote("spent billions", "a")),
        "third": _answer(answered=False),
        "weather?": _answer(answered=False),
        "football?": _answer(_quote("spent billions", "a")),
    }
    asked: list[str] = []

    def ask(question: str) -> Answer:
        asked.append(question)
        return replies[question]

    report = evaluate(qset, ask, k=3, problems=["p"])
    assert sorted(asked) == sorted(replies)
    assert (report.hits(1), report.hits(3)) == (1, 2)
    assert report.hit_rate(3) == pytest.approx(2 / 3)
    assert [r.question.text for r in report.false_answers] == ["football?"]
    assert [r.question.text for r in report.misses] == ["third"]
    assert report.by_kind() == {"direct": (3, 1, 2)}
    data = report.to_json_dict()
    assert data["hit_at_1"] == pytest.approx(1 / 3, abs=1e-4)
    assert data["false_answers"] == 1
    assert data["rank_above_1"] == [{"question": PANG.text, "rank": 2}]
    assert data["problems"] == ["p"]
    text = format_report(report)
    assert "hit@3: 0.667 (2/3)" in text
    assert "must-refuse answered: 1/2" in text
    assert "Q: third" in text and "Q: football?" in text


def test_evaluate_rejects_k_below_1() -> None:
    with pytest.raises(ValueError, match="k must be"):
        evaluate(QuestionSet(refusals=(RefuseQuestion(text="x"),)), lambda q: _answer(), k=0)


# --- checking a question set against article text ----------------------------------------


def _texts() -> dict[str, str]:
    return {
        "a": "There are some companies talking to us. Huawei has spent billions.",
        "b": "They have shown interest.\n\nHuawei has spent billions on 5G.",
    }


def test_check_accepts_a_consistent_set() -> None:
    qset = QuestionSet(
        questions=(PANG, EvalQuestion(text="spend", docs=("a", "b"), must_contain=("spent",))),
        furniture=(FurnitureText(doc="a", text="Source link"),),
    )
    assert check_question_set(qset, _texts()) == []


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        (
            EvalQuestion(text="t", docs=("a",), must_contain=("talkng to us",)),
            "phrase 'talkng to us' is in none of its docs",
        ),
        (
            EvalQuestion(text="t", docs=("a", "b"), must_contain=("talking to us",)),
            "doc 'b' contains none of the must_contain phrases",
        ),
        (
            EvalQuestion(text="t", docs=("a",), must_contain=("spent billions",)),
            "also in unlisted doc 'b'",
        ),
        (EvalQuestion(text="t", docs=("zz",), must_contain=("x",)), "unknown doc 'zz'"),
    ],
)
def test_check_reports_answer_key_mistakes(question: EvalQuestion, expected: str) -> None:
    problems = check_question_set(QuestionSet(questions=(question,)), _texts())
    assert any(expected in p for p in problems), problems


def test_check_reports_answers_taken_from_furniture() -> None:
    texts = {"a": "Latest in News. Philips Hue might be working on a video doorbell."}
    qset = QuestionSet(
        questions=(EvalQuestion(text="t", docs=("a",), must_contain=("video doorbell",)),),
        furniture=(
            FurnitureText(doc="a", text="Philips Hue might be working on a video doorbell"),
        ),
    )
    problems = check_question_set(qset, texts)
    assert any("is page furniture" in p for p in problems), problems
    assert any("survived cleaning" in p for p in problems), problems


def test_check_reports_duplicates_and_unknown_furniture_doc() -> None:
    qset = QuestionSet(
        refusals=(RefuseQuestion(text="Weather?"), RefuseQuestion(text="weather? ")),
        furniture=(FurnitureText(doc="zz", text="Via Reuters"),),
    )
    problems = check_question_set(qset, _texts())
    assert any("duplicate question" in p for p in problems), problems
    assert any("unknown doc 'zz'" in p for p in problems), problems


# --- loading question files --------------------------------------------------------------


def test_parse_accepts_one_phrase_or_several() -> None:
    qset = parse_question_set(
        {
            "question": [
                {"text": "q1", "docs": ["a"], "must_contain": "one"},
                {"text": "q2", "docs": ["a"], "must_contain": ["one", "two"], "kind": "multi"},
            ],
            "refuse": [{"text": "r", "why": "off-topic"}],
        }
    )
    assert [q.must_contain for q in qset.questions] == [("one",), ("one", "two")]
    assert qset.refusals[0].why == "off-topic"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "no [[question]] or [[refuse]] entries"),
        ({"questions": []}, "unknown section(s) questions"),
        ({"question": {"text": "q"}}, "must be an array of tables"),
        ({"question": [{"text": "q", "docs": [], "must_contain": "x"}]}, "[[question]] #1: docs"),
        (
            {"question": [{"text": "q", "docs": ["a"], "must_contain": " "}]},
            "[[question]] #1: must_contain",
        ),
        ({"question": [{"text": "q", "docs": ["a"]}]}, "[[question]] #1: must_contain"),
        ({"refuse": [{"text": "r", "colour": "red"}]}, "[[refuse]] #1: colour"),
    ],
)
def test_parse_rejects_malformed_sets(data: dict[str, object], message: str) -> None:
    with pytest.raises(EvalSetError) as info:
        parse_question_set(data, source="t.toml")
    assert str(info.value).startswith("t.toml: ")
    assert message in str(info.value)


def test_load_reports_unreadable_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(EvalSetError, match="cannot read"):
        load_question_set(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[[question]\n", encoding="utf-8")
    with pytest.raises(EvalSetError, match=str(bad)):
        load_question_set(bad)
