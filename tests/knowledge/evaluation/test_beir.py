"""BEIR loading and trec_eval-style metrics, on small hand-made datasets."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bot.cli import main
from knowledge.evaluation.beir import (
    DEFAULT_CONFIG,
    PLAIN_CONFIG,
    TUNED_CONFIG,
    BeirFormatError,
    RetrievalConfig,
    evaluate,
    load_beir,
    ndcg_at_k,
    recall_at_k,
)

LOG2_3 = math.log2(3)


def write_beir(
    root: Path,
    corpus: list[dict[str, str]],
    queries: list[dict[str, str]],
    qrels: list[tuple[str, str, int]],
    split: str = "test",
) -> Path:
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in corpus))
    (root / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    rows = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t{s}" for q, d, s in qrels]
    (root / "qrels" / f"{split}.tsv").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture
def fruit(tmp_path: Path) -> Path:
    corpus = [
        {"_id": "d1", "title": "Apple pie", "text": "An apple pie recipe with apple slices."},
        {"_id": "d2", "title": "Banana", "text": "Banana bread."},
        {"_id": "d3", "title": "", "text": "Apple and banana smoothie."},
        {"_id": "d4", "title": "Cars", "text": "Engine oil."},
    ]
    # Unrelated documents, so that no query word is in half the corpus (idf <= 0).
    corpus += [{"_id": f"f{i}", "title": "", "text": f"weather report {i}"} for i in range(6)]
    queries = [
        {"_id": "q1", "text": "apple pie"},
        {"_id": "q2", "text": "banana smoothie"},
        {"_id": "q3", "text": "engine"},
        {"_id": "q4", "text": "nothing relevant is judged"},
        {"_id": "q5", "text": "not judged at all"},
    ]
    qrels = [
        ("q1", "d1", 2),
        ("q1", "d3", 1),
        ("q2", "d2", 1),  # ranked second: d3 holds both words
        ("q3", "d4", 1),
        ("q3", "d9", 1),  # judged relevant but missing from the corpus
        ("q4", "d1", 0),
    ]
    return write_beir(tmp_path / "fruit", corpus, queries, qrels)


def test_ndcg_follows_trec_eval() -> None:
    assert ndcg_at_k(["a", "b", "c"], {"b": 1}) == pytest.approx(1 / LOG2_3)
    graded = ndcg_at_k(["x", "a", "b"], {"a": 2, "b": 1})
    assert graded == pytest.approx((2 / LOG2_3 + 1 / 2) / (2 + 1 / LOG2_3))
    assert ndcg_at_k(["a", "b"], {"a": 1, "b": 0}) == 1.0
    assert ndcg_at_k([f"x{i}" for i in range(10)] + ["a"], {"a": 1}) == 0.0
    assert ndcg_at_k(["a"], {"a": 0}) == 0.0


def test_recall_counts_every_relevant_document() -> None:
    assert recall_at_k(["a", "x"], {"a": 1, "b": 1}) == 0.5
    assert recall_at_k(["a", "b"], {"a": 1, "b": 0}) == 1.0
    assert recall_at_k(["x"] * 100 + ["a"], {"a": 1}) == 0.0


def test_loader_keeps_judged_queries_with_a_relevant_document(fruit: Path) -> None:
    data = load_beir(fruit)
    assert data.doc_ids[:4] == ("d1", "d2", "d3", "d4")
    assert data.titles[0] == "Apple pie"
    assert sorted(data.queries) == ["q1", "q2", "q3"]
    assert data.qrels["q3"] == {"d4": 1, "d9": 1}


def test_evaluate_gives_the_hand_computed_metrics(fruit: Path) -> None:
    report = evaluate(load_beir(fruit), RetrievalConfig(), name="fruit")
    # q1: d1 then d3, ideal. q2: d2 second. q3: d4 first, d9 unretrievable.
    q3_ndcg = 1 / (1 + 1 / LOG2_3)
    assert report.queries == 3
    assert report.ndcg_at_10 == pytest.approx((1 + 1 / LOG2_3 + q3_ndcg) / 3)
    assert report.recall_at_100 == pytest.approx((1 + 1 + 0.5) / 3)
    assert report.to_json_dict()["ndcg_at_10"] == round(report.ndcg_at_10, 4)


def test_title_repeat_and_word_parts_are_engine_knobs() -> None:
    config = RetrievalConfig(title_repeat=2, word_parts=True)
    analyzer = config.analyzer()
    assert analyzer.word_parts
    terms = config.document_terms(analyzer, "Tet1", "Silencing BCL-2")
    assert terms == ["tet1", "tet", "1"] * 2 + ["silenc", "bcl2", "bcl", "2"]
    assert config.document_terms(analyzer, "Banana", "bread") == ["banana", "banana", "bread"]
    plain = RetrievalConfig()
    assert not plain.analyzer().word_parts
    assert plain.document_terms(plain.analyzer(), "", "BCL-2 Tet1") == ["bcl", "2", "tet1"]
    assert TUNED_CONFIG.word_parts


def test_the_default_preset_is_the_one_chosen_on_train() -> None:
    # Chosen on SciFact's train split (docs/retrieval.md): word parts, title twice.
    assert RetrievalConfig(title_repeat=2, word_parts=True) == DEFAULT_CONFIG
    assert TUNED_CONFIG == DEFAULT_CONFIG
    assert RetrievalConfig() == PLAIN_CONFIG
    assert not PLAIN_CONFIG.analyzer().word_parts


def test_word_parts_let_a_hyphenated_query_find_the_joined_spelling(tmp_path: Path) -> None:
    corpus = [
        {"_id": "bcl", "title": "", "text": "Bcl2 inhibits apoptosis"},
        {"_id": "tet", "title": "", "text": "TET enzymes oxidise methylcytosine"},
    ]
    fillers = ["rain", "snow", "wind", "fog", "hail", "sun"]
    corpus += [{"_id": w, "title": "", "text": f"weather report: {w}"} for w in fillers]
    queries = [{"_id": "q1", "text": "BCL-2 apoptosis"}, {"_id": "q2", "text": "Tet1"}]
    qrels = [("q1", "bcl", 1), ("q2", "tet", 1)]
    data = load_beir(write_beir(tmp_path / "genes", corpus, queries, qrels))
    # Without parts q1 still finds "apoptosis"; q2 ("tet1") finds nothing.
    assert evaluate(data, RetrievalConfig()).ndcg_at_10 == 0.5
    assert evaluate(data, RetrievalConfig(word_parts=True)).ndcg_at_10 == 1.0


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("corpus.jsonl", '{"_id": "d1", "text": "x"}\nnot json\n', "corpus.jsonl:2: not JSON"),
        ("corpus.jsonl", '{"title": "no id"}\n', "no _id"),
        ("corpus.jsonl", '{"_id": "d1"}\n{"_id": "d1"}\n', "duplicate _id"),
        ("queries.jsonl", '{"_id": "q2", "text": "other"}\n', "no text for judged queries q1"),
        ("qrels/test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\n", "test.tsv:2: expected"),
        ("qrels/test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t0\n", "no relevant document"),
    ],
)
def test_malformed_datasets_name_the_problem(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    root = write_beir(
        tmp_path / "bad",
        [{"_id": "d1", "text": "x"}],
        [{"_id": "q1", "text": "x"}],
        [("q1", "d1", 1)],
    )
    (root / name).write_text(content)
    with pytest.raises(BeirFormatError, match=message):
        load_beir(root)


def test_missing_files_and_splits(fruit: Path) -> None:
    with pytest.raises(BeirFormatError, match=r"dev\.tsv"):
        load_beir(fruit, "dev")
    (fruit / "corpus.jsonl").unlink()
    with pytest.raises(BeirFormatError, match=r"corpus\.jsonl"):
        load_beir(fruit)


def test_cli_prints_the_metrics(fruit: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--beir", str(fruit), "--json", "--preset", "default", "--k1", "1.5"]) == 0
    out = capsys.readouterr()
    result = json.loads(out.out)
    assert result["preset"] == "default"
    assert result["queries"] == 3
    assert result["config"]["k1"] == 1.5
    assert result["recall_at_100"] == pytest.approx(0.8333, abs=1e-4)
    assert "eval: searching 3 queries" in out.err

    assert main(["eval", "--beir", str(fruit), "--preset", "default", "--preset", "tuned"]) == 0
    text = capsys.readouterr().out
    assert text.count("nDCG@10") == 2
    assert "preset tuned" in text
    assert main(["eval", "--beir", str(fruit), "--json", "--preset", "plain"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert plain["preset"] == "plain"
    assert plain["config"]["title_repeat"] == 1
    assert plain["config"]["word_parts"] is False


def test_cli_errors(fruit: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["eval", "--beir", str(tmp_path / "nowhere")])
    assert exc.value.code == 2
    (fruit / "qrels" / "test.tsv").unlink()
    assert main(["eval", "--beir", str(fruit)]) == 1
    assert "test.tsv" in capsys.readouterr().err
    assert main(["eval", "--beir", str(fruit), "--b", "3"]) == 2
    assert "b" in capsys.readouterr().err
