"""The bundled knowledge base against its evaluation question set, and the scoring itself."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

import pytest

from knowledge.evaluation.evalformat import format_report
from knowledge.evaluation.evalset import (
    EvalQuestion,
    EvalReport,
    EvalSetError,
    FurnitureText,
    QuestionSet,
    RefuseQuestion,
    check_question_set,
    evaluate,
    hit_rank,
    load_question_set,
    norm_space,
    parse_question_set,
    quote_hits,
)
from knowledge.models import Answer, Quote, SourceRef
from knowledge.service import KnowledgeBase

QUESTIONS = Path(__file__).resolve().parents[1] / "questions.toml"
TEST_SPLIT = Path(__file__).resolve().parents[1] / "questions_test.toml"
REPO = Path(__file__).resolve().parents[3]

ANSWERABLE_KINDS = {
    "exact",
    "multi",
    "paraphrase",
    "synonym",
    "derived",
    "broader",
    "context",
    "typo",
    "lowercase",
    "short",
    "long",
    "answer_type",
}
REFUSAL_KINDS = {"refuse_offtopic", "refuse_furniture", "refuse_phrase", "refuse_attribute"}
# Wordings the articles do not use: what lexical matching alone cannot bridge.
REWORDED_KINDS = {"paraphrase", "synonym", "derived", "broader", "context"}


@pytest.fixture(scope="module")
def qset() -> QuestionSet:
    return load_question_set(QUESTIONS)


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return KnowledgeBase.load()


@pytest.fixture(scope="module")
def texts(kb: KnowledgeBase) -> dict[str, str]:
    return {doc_id: a.text for doc_id, a in kb.snapshot.articles.items()}


@pytest.fixture(scope="module")
def report(qset: QuestionSet, kb: KnowledgeBase) -> EvalReport:
    return evaluate(qset, lambda q: kb.answer(q, 3), k=3)


def _field_sample() -> Path | None:
    """The field sample where CI keeps it (../shared beside the clone) or further up."""
    for parent in REPO.parents:
        candidate = parent / "shared" / "eval" / "field-sample.jsonl"
        if candidate.is_file():
            return candidate
    return None


# --- the bundled question set -----------------------------------------------------------


def test_question_set_is_large_and_varied(qset: QuestionSet) -> None:
    assert len(qset.questions) + len(qset.refusals) >= 200
    assert len(qset.refusals) >= 50
    assert sum(q.kind in REWORDED_KINDS for q in qset.questions) >= 60
    assert {q.kind for q in qset.questions} == ANSWERABLE_KINDS
    assert {r.kind for r in qset.refusals} == REFUSAL_KINDS


@pytest.mark.parametrize("split", ["dev", "test"])
def test_each_split_has_every_kind(qset: QuestionSet, split: str) -> None:
    part = qset.select(split)
    assert {q.kind for q in part.questions} == ANSWERABLE_KINDS
    assert {r.kind for r in part.refusals} == REFUSAL_KINDS
    # Corroborated statements: some answers are carried by three or more articles.
    assert sum(len(q.docs) >= 3 for q in part.questions) >= 5
    # Roughly half of the questions each.
    size = len(part.questions) + len(part.refusals)
    assert 0.4 <= size / (len(qset.questions) + len(qset.refusals)) <= 0.6


def test_test_split_is_its_own_file_included_by_the_dev_file(qset: QuestionSet) -> None:
    data = tomllib.loads(QUESTIONS.read_text(encoding="utf-8"))
    assert data.pop("include") == [TEST_SPLIT.name]
    dev = parse_question_set(data)
    test = load_question_set(TEST_SPLIT)
    assert dev.splits() == ("dev",) and test.splits() == ("test",)
    assert qset.select("dev").questions == dev.questions
    assert qset.select("test").refusals == test.refusals
    assert qset.files == (str(QUESTIONS), str(TEST_SPLIT))


def test_every_expected_phrase_is_verbatim_in_a_listed_article(
    qset: QuestionSet, texts: dict[str, str]
) -> None:
    cleaned = {doc: norm_space(t) for doc, t in texts.items()}
    wrong = [
        (q.split, q.text, phrase)
        for q in qset.questions
        for phrase in q.must_contain
        if not any(norm_space(phrase) in cleaned.get(doc, "") for doc in q.docs)
    ]
    assert wrong == []


def test_question_set_agrees_with_cleaned_text(qset: QuestionSet, texts: dict[str, str]) -> None:
    assert check_question_set(qset, texts) == []


def test_refusals_of_kind_4_carry_their_keys(qset: QuestionSet) -> None:
    # The keys are what check_question_set verifies against the text.
    for r in qset.refusals:
        assert (r.kind == "refuse_phrase") == (r.name is not None), r.text
        assert (r.kind == "refuse_attribute") == (r.entity is not None), r.text


@pytest.mark.parametrize("split", ["dev", "test"])
def test_every_article_answers_some_question(
    qset: QuestionSet, kb: KnowledgeBase, split: str
) -> None:
    covered = {doc for q in qset.select(split).questions for doc in q.docs}
    assert covered == set(kb.snapshot.articles)


def test_page_furniture_is_never_quoted(qset: QuestionSet, report: EvalReport) -> None:
    furniture = [norm_space(f.text).casefold() for f in qset.furniture]
    answers = [r.answer for r in report.questions] + [r.answer for r in report.refusals]
    quoted = [
        (a.question, f)
        for a in answers
        for q in a.quotes
        for f in furniture
        if f in norm_space(q.text).casefold()
    ]
    assert quoted == []


# Floors at the dev figures measured before the engine changes of issue 15 (docs/answers.md):
# they catch regressions; raise them as the engine improves. The test split has no floor
# here on purpose: it is reported by eval-kb, never tuned on.
def test_dev_split_does_not_fall_below_its_baseline(report: EvalReport) -> None:
    dev = report.select("dev")
    assert dev.hit_rate(3) >= 0.86, format_report(dev)
    assert dev.hit_rate(1) >= 0.75, format_report(dev)
    refusals = dev.refusals_by_kind()
    for kind in ("refuse_offtopic", "refuse_furniture"):
        total, refused = refusals[kind]
        assert refused == total, format_report(dev)


def test_field_sample_does_not_fall_below_its_baseline(kb: KnowledgeBase) -> None:
    path = _field_sample()
    if path is None:
        pytest.skip("no shared/eval/field-sample.jsonl beside or above the repository")
    field = load_question_set(path)
    assert (len(field.questions), len(field.refusals)) == (30, 8)
    report = evaluate(field, lambda q: kb.answer(q, 3), k=3)
    assert report.hit_rate(3) >= 0.83, format_report(report)
    assert report.hit_rate(1) >= 0.8, format_report(report)
    assert report.false_answers == (), format_report(report)


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


def test_quote_hits_ignores_case_as_the_field_sample_is_scored() -> None:
    assert quote_hits(_quote("THERE ARE SOME COMPANIES TALKING TO US.", "a"), PANG)


# --- splits and kinds ------------------------------------------------------------------------


def _split_set() -> QuestionSet:
    return QuestionSet(
        questions=(
            EvalQuestion(text="d1", docs=("a",), must_contain=("billions",), kind="exact"),
            EvalQuestion(text="d2", docs=("a",), must_contain=("billions",), kind="typo"),
            EvalQuestion(
                text="t1", docs=("a",), must_contain=("billions",), kind="exact", split="test"
            ),
            EvalQuestion(
                text="t2", docs=("a",), must_contain=("nowhere",), kind="typo", split="test"
            ),
        ),
        refusals=(
            RefuseQuestion(text="dr", kind="refuse_offtopic"),
            RefuseQuestion(text="tr1", kind="refuse_phrase", split="test"),
            RefuseQuestion(text="tr2", kind="refuse_offtopic", split="test"),
        ),
    )


_SPLIT_REPLIES = {
    "d1": _answer(_quote("spent billions", "a")),
    "d2": _answer(answered=False),
    "t1": _answer(_quote("x", "a"), _quote("spent billions", "a")),
    "t2": _answer(_quote("spent billions", "a")),
    "dr": _answer(answered=False),
    "tr1": _answer(_quote("spent billions", "a")),
    "tr2": _answer(answered=False),
}


def _split_report() -> EvalReport:
    return evaluate(_split_set(), _SPLIT_REPLIES.__getitem__, k=3)


def test_question_set_splits_and_select() -> None:
    qset = _split_set()
    assert qset.splits() == ("dev", "test")
    test = qset.select("test")
    assert [q.text for q in test.questions] == ["t1", "t2"]
    assert [r.text for r in test.refusals] == ["tr1", "tr2"]
    assert test.splits() == ("test",)
    assert QuestionSet(refusals=(RefuseQuestion(text="r"),)).splits() == ("dev",)


def test_report_per_split_and_kind() -> None:
    report = _split_report()
    assert report.splits() == ("dev", "test")
    dev, test = report.select("dev"), report.select("test")
    assert (dev.hits(1), dev.hits(3), len(dev.questions)) == (1, 1, 2)
    assert (test.hits(1), test.hits(3), len(test.questions)) == (0, 1, 2)
    assert [r.question.text for r in dev.refused_answerable] == ["d2"]
    assert test.refused_answerable == ()
    assert [r.question.text for r in test.false_answers] == ["tr1"]
    assert test.by_kind() == {"exact": (1, 0, 1), "typo": (1, 0, 0)}
    assert test.refusals_by_kind() == {"refuse_offtopic": (1, 1), "refuse_phrase": (1, 0)}
    data = test.to_json_dict()
    assert (data["must_refuse"], data["must_refuse_refused"], data["false_answers"]) == (2, 1, 1)
    assert data["answerable_refused"] == 0
    assert data["refusals_by_kind"] == {
        "refuse_offtopic": {"questions": 1, "refused": 1},
        "refuse_phrase": {"questions": 1, "refused": 0},
    }
    miss = data["misses"]
    assert isinstance(miss, list) and [(m["question"], m["split"]) for m in miss] == [
        ("t2", "test")
    ]
    details = data["false_answer_details"]
    assert isinstance(details, list) and details[0]["kind"] == "refuse_phrase"


def test_format_report_has_a_line_per_split_and_the_field_sample() -> None:
    field_set = QuestionSet(
        questions=(EvalQuestion(text="f1", docs=("a",), must_contain=("billions",), kind="field"),),
        refusals=(RefuseQuestion(text="fr", kind="refuse_field"),),
    )
    replies = {"f1": _answer(_quote("spent billions", "a")), "fr": _answer(answered=False)}
    field = evaluate(field_set, replies.__getitem__, k=3, problems=["loose phrase"])
    text = format_report(_split_report(), field=field)
    lines = text.splitlines()
    dev_row = next(line for line in lines if line.startswith("  dev "))
    test_row = next(line for line in lines if line.startswith("  test "))
    field_row = next(line for line in lines if line.startswith("  field "))
    assert "hit@1 0.500 (1/2)" in dev_row and "answerable refused 1/2" in dev_row
    assert "hit@3 0.500 (1/2)" in test_row and "must-refuse refused 1/2" in test_row
    assert "hit@1 1.000 (1/1)" in field_row and "must-refuse refused 1/1" in field_row
    kinds_test = lines.index("  kinds, test:")
    assert any("refuse_phrase" in line and "refused   0" in line for line in lines[kinds_test:])
    assert "field-sample key problems (1):" in text and "  - loose phrase" in text
    assert "misses at 3, test (1):" in text
    assert "answered but should be refused, test (1):" in text
    assert "     [typo] expected a containing 'nowhere'" in text
    # Every miss says what came back: a refusal's reason or the quotes given.
    assert "refused: Not in the knowledge base." in text


# --- question-set checks: refusal keys and case ------------------------------------------------


REFUSAL_TEXTS = {
    "a": "Ren spoke in Washington.\n\nThe New York Times interviewed him.",
    "b": "Nokia is a Finnish firm.\n\nNokia acquired Alcatel-Lucent in 2016 for a price.",
}


@pytest.mark.parametrize(
    ("refusal", "expected"),
    [
        (RefuseQuestion(text="q", name="Washington Times"), None),
        (RefuseQuestion(text="q", name="New York Times"), "do contain the name"),
        (RefuseQuestion(text="q", name="Washington Post"), "no article contains 'Post'"),
        (RefuseQuestion(text="q", entity="Nokia", absent=("market share",)), None),
        (RefuseQuestion(text="q", entity="Ericsson", absent=("x",)), "no article names"),
        (
            RefuseQuestion(text="q", entity="Alcatel-Lucent", absent=("PRICE",)),
            "a paragraph naming 'Alcatel-Lucent' contains 'PRICE'",
        ),
        # Whole words only: "Finnish" does not contain the word "fin".
        (RefuseQuestion(text="q", entity="Nokia", absent=("fin",)), None),
    ],
)
def test_check_verifies_refusal_keys(refusal: RefuseQuestion, expected: str | None) -> None:
    problems = check_question_set(QuestionSet(refusals=(refusal,)), REFUSAL_TEXTS)
    if expected is None:
        assert problems == []
    else:
        assert any(expected in p for p in problems), problems


def test_check_finds_unlisted_docs_whatever_the_case() -> None:
    # Scoring ignores case, so an unlisted article with the phrase in capitals would count.
    texts = {"a": "Huawei has spent billions.", "b": "HUAWEI HAS SPENT BILLIONS."}
    question = EvalQuestion(text="t", docs=("a",), must_contain=("spent billions",))
    problems = check_question_set(QuestionSet(questions=(question,)), texts)
    assert any("also in unlisted doc 'b'" in p for p in problems), problems


def test_check_finds_a_question_in_both_splits() -> None:
    qset = QuestionSet(
        refusals=(RefuseQuestion(text="Weather?"), RefuseQuestion(text="weather?", split="test"))
    )
    assert any("duplicate question" in p for p in check_question_set(qset, _texts()))


# --- parsing: splits, kinds, refusal keys ----------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"question": [{"text": "q", "docs": ["a"], "must_contain": "x", "split": "train"}]},
            "[[question]] #1: split",
        ),
        ({"question": [{"text": "q", "docs": ["a"], "must_contain": "x", "kind": ""}]}, "kind"),
        ({"refuse": [{"text": "r", "entity": "Nokia"}]}, "entity and absent go together"),
        ({"refuse": [{"text": "r", "absent": ["share"]}]}, "entity and absent go together"),
        ({"refuse": [{"text": "r", "entity": "Nokia", "absent": [" "]}]}, "[[refuse]] #1: absent"),
        ({"refuse": [{"text": "r", "name": ""}]}, "[[refuse]] #1: name"),
        ({"include": ["x.toml"]}, "unknown section(s) include"),
    ],
)
def test_parse_rejects_bad_splits_kinds_and_keys(data: dict[str, object], message: str) -> None:
    with pytest.raises(EvalSetError) as info:
        parse_question_set(data, source="t.toml")
    assert message in str(info.value)


def test_parse_reads_split_kind_and_refusal_keys() -> None:
    qset = parse_question_set(
        {
            "question": [
                {"text": "q", "docs": ["a"], "must_contain": "x", "kind": "typo", "split": "test"}
            ],
            "refuse": [
                {"text": "r1", "kind": "refuse_phrase", "name": "Washington Times"},
                {"text": "r2", "entity": "Nokia", "absent": "market share", "split": "test"},
            ],
        }
    )
    assert (qset.questions[0].kind, qset.questions[0].split) == ("typo", "test")
    assert qset.refusals[0].name == "Washington Times" and qset.refusals[0].split == "dev"
    assert qset.refusals[1].absent == ("market share",)


# --- loading: includes and the field-sample format ---------------------------------------------


def test_load_follows_includes_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "main.toml").write_text(
        'include = ["sub/held.toml"]\n[[refuse]]\ntext = "dev r"\n'
        '[[furniture]]\ndoc = "a"\ntext = "Source link"\n',
        encoding="utf-8",
    )
    (tmp_path / "sub" / "held.toml").write_text(
        '[[question]]\ntext = "test q"\ndocs = ["a"]\nmust_contain = "x"\nsplit = "test"\n',
        encoding="utf-8",
    )
    qset = load_question_set(tmp_path / "main.toml")
    assert qset.source == str(tmp_path / "main.toml")
    assert qset.files == (str(tmp_path / "main.toml"), str(tmp_path / "sub" / "held.toml"))
    assert [(q.text, q.split) for q in qset.questions] == [("test q", "test")]
    assert [(r.text, r.split) for r in qset.refusals] == [("dev r", "dev")]
    assert len(qset.furniture) == 1
    assert qset.splits() == ("dev", "test")


def test_a_file_of_includes_only_is_a_question_set(tmp_path: Path) -> None:
    (tmp_path / "all.toml").write_text('include = ["one.toml"]\n', encoding="utf-8")
    (tmp_path / "one.toml").write_text('[[refuse]]\ntext = "r"\n', encoding="utf-8")
    assert [r.text for r in load_question_set(tmp_path / "all.toml").refusals] == ["r"]


@pytest.mark.parametrize(
    ("main", "message"),
    [
        ('include = ["main.toml"]\n', "included twice in one chain"),
        ('include = ["missing.toml"]\n', "missing.toml: cannot read"),
        ('include = "other.toml"\n', "include must be a list of file names"),
        ("include = [1]\n", "include must be a list of file names"),
        ('include = ["empty.toml"]\n', "no [[question]] or [[refuse]] entries"),
    ],
)
def test_load_reports_bad_includes(tmp_path: Path, main: str, message: str) -> None:
    (tmp_path / "main.toml").write_text(main, encoding="utf-8")
    (tmp_path / "empty.toml").write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(EvalSetError) as info:
        load_question_set(tmp_path / "main.toml")
    assert message in str(info.value)


FIELD_LINES = (
    '{"question": "Who is Pang?", "answered": true, "docs": ["a"],'
    ' "quote_contains_any": ["Vincent Pang"]}\n'
    "\n"
    '{"question": "What is the capital of France?", "answered": false}\n'
)


@pytest.mark.parametrize("name", ["field.jsonl", "field.txt"])
def test_load_detects_the_field_sample_format(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text(FIELD_LINES, encoding="utf-8")
    qset = load_question_set(path)
    (q,) = qset.questions
    assert (q.text, q.docs, q.must_contain) == ("Who is Pang?", ("a",), ("Vincent Pang",))
    # The field sample is development data, and reported under its own kinds.
    assert (q.kind, q.split) == ("field", "dev")
    (r,) = qset.refusals
    assert (r.text, r.kind, r.split) == ("What is the capital of France?", "refuse_field", "dev")


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ('{"question": "q", "answered": true\n', "line 1: not JSON"),
        ('{"question": "q", "answered": true}\n', "needs docs and quote_contains_any"),
        (
            '{"question": "q", "answered": true, "docs": ["a"], "quote_contains_any": []}\n',
            "needs docs and quote_contains_any",
        ),
        ('{"question": "q", "answered": false, "docs": ["a"]}\n', "has no docs or phrases"),
        ('{"question": "", "answered": false}\n', "line 1: question"),
        ('{"question": "q"}\n', "line 1: answered"),
        ('{"question": "q", "answered": false, "colour": "red"}\n', "line 1: colour"),
        ('{"question": "q", "answered": false}\n[1]\n', "line 2"),
    ],
)
def test_load_reports_bad_field_sample_lines(tmp_path: Path, lines: str, message: str) -> None:
    path = tmp_path / "field.jsonl"
    path.write_text(lines, encoding="utf-8")
    with pytest.raises(EvalSetError) as info:
        load_question_set(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_load_reports_non_utf8_files(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[[refuse]]\ntext = "caf\xe9"\n')
    with pytest.raises(EvalSetError, match=str(path)):
        load_question_set(path)


def test_load_rejects_a_blank_field_sample(tmp_path: Path) -> None:
    path = tmp_path / "field.jsonl"
    path.write_text("\n\n", encoding="utf-8")
    with pytest.raises(EvalSetError, match="no \\[\\[question\\]\\] or \\[\\[refuse\\]\\]"):
        load_question_set(path)
