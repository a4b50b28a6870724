"""The retrieval benchmark: corpora, the measurement processes and the table."""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import pytest

from bot.bench import BenchPlan, BenchReport, SizeResult, format_table, machine_info
from bot.bench_kb import KbBenchReport, format_kb_table
from bot.cli import main
from bot.commands.bench import _size
from knowledge.evaluation.bench_corpus import QUERY_TERMS, beir_corpus, synthetic_corpus


def test_synthetic_corpus_is_seeded_and_zipf_shaped() -> None:
    a = synthetic_corpus(2000, 50, seed=3)
    b = synthetic_corpus(2000, 50, seed=3)
    assert a.passages == b.passages and a.queries == b.queries
    assert synthetic_corpus(2000, 50, seed=4).passages != a.passages
    lengths = [len(p) for p in a.passages]
    assert min(lengths) >= 10 and max(lengths) <= 150
    assert 55 < sum(lengths) / len(lengths) < 65
    counts = Counter(t for p in a.passages for t in p)
    top = counts.most_common(1)[0][1] / sum(counts.values())
    assert 0.01 < top < 0.03  # a head like analysed English text, not a flat vocabulary
    for query in a.queries:
        assert QUERY_TERMS[0] <= len(query) <= QUERY_TERMS[1]
        assert len(set(query)) == len(query)
        assert any(set(query) <= set(p) for p in a.passages)


def write_corpus(root: Path, n_docs: int) -> Path:
    root.mkdir()
    words = "licence patent royalty network operator carrier spectrum handset".split()
    with (root / "corpus.jsonl").open("w") as fh:
        for i in range(n_docs):
            text = " ".join(words[(i + j) % len(words)] for j in range(30))
            fh.write(json.dumps({"_id": str(i), "title": f"doc {i}", "text": text}) + "\n")
    with (root / "queries.jsonl").open("w") as fh:
        fh.write(json.dumps({"_id": "q1", "text": "patent royalty for network operators"}) + "\n")
        fh.write(json.dumps({"_id": "q2", "text": "spectrum"}) + "\n")  # too short: dropped
    return root


def test_beir_corpus_cuts_passages_and_keeps_real_queries(tmp_path: Path) -> None:
    root = write_corpus(tmp_path / "real", 40)
    corpus = beir_corpus(root, 30, 5)
    assert corpus is not None and corpus.source == "beir"
    assert len(corpus.passages) == 30
    assert corpus.queries == [["patent", "royalti", "network", "oper"]] * 5
    assert beir_corpus(root, 10_000, 5) is None


@pytest.mark.parametrize(("text", "value"), [("500", 500), ("10k", 10_000), ("1M", 1_000_000)])
def test_sizes_accept_suffixes(text: str, value: int) -> None:
    assert _size(text) == value


def test_sizes_reject_nonsense() -> None:
    for text in ("ten", "0", "-5"):
        with pytest.raises(argparse.ArgumentTypeError):
            _size(text)


def test_baseline_queries_shrink_with_size() -> None:
    plan = BenchPlan(queries=500)
    assert plan.baseline_count(1_000) == 500
    assert plan.baseline_count(100_000) == 200
    assert plan.baseline_count(1_000_000) == 20
    assert BenchPlan(queries=50, baseline_queries=80).baseline_count(1_000_000) == 50


def test_table_shows_both_engines_and_the_ratio() -> None:
    engine = {
        "build_s": 2.0,
        "peak_mb": 100.0,
        "p50_ms": 0.5,
        "p95_ms": 1.0,
        "queries": 500,
        "by_common_terms": {
            "0": {"queries": 300, "p50_ms": 0.25, "p95_ms": 0.5},
            "1": {"queries": 200, "p50_ms": 1.0, "p95_ms": 2.0},
        },
    }
    loaded = {"load_s": 0.25, "resident_mb": 50.0}
    baseline = {
        "build_s": 8.0,
        "peak_mb": 400.0,
        "resident_mb": 300.0,
        "p50_ms": 50.0,
        "p95_ms": 70.0,
        "queries": 200,
        "queries_checked": 200,
        "mismatches": 0,
    }
    report = BenchReport(machine=machine_info())
    report.results.append(SizeResult(100_000, "synthetic", engine, loaded, baseline))
    table = format_table(report)
    assert "100,000 synthetic licensebot" in table
    assert "rank-bm25" in table
    assert "100.0x" in table and "70.0x" in table and "4.0x" in table and "6.0x" in table
    assert "200/200 top-5 lists identical" in table
    assert "0: p50 0.25 / p95 0.50 ms (300), 1: p50 1.00 / p95 2.00 ms (200)" in table


def test_bench_measures_in_fresh_processes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    real = write_corpus(tmp_path / "real", 60)
    argv = ["bench", "--sizes", "50", "400", "--queries", "15", "--corpus", str(real), "--json"]
    assert main(argv) == 0
    out = capsys.readouterr()
    report = json.loads(out.out)
    first, second = report["results"]
    assert (first["size"], first["source"]) == (50, "beir")
    assert (second["size"], second["source"]) == (400, "synthetic")  # the real corpus is too small
    for result in report["results"]:
        assert result["engine"]["docs"] == result["size"]
        assert result["engine"]["queries"] == 15
        groups = result["engine"]["by_common_terms"].values()
        assert sum(g["queries"] for g in groups) == 15
        assert result["loaded"]["load_s"] >= 0
        assert result["rank_bm25"]["mismatches"] == 0
        assert result["rank_bm25"]["queries_checked"] == 15
    assert "bench: 400 passages: rank-bm25 (15 queries)" in out.err
    assert report["machine"]["cores"] >= 1


def test_bench_reports_a_missing_corpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--sizes", "10", "--corpus", str(tmp_path)]) == 2
    assert "no corpus.jsonl" in capsys.readouterr().err


@pytest.mark.slow
def test_quick_mode_runs_in_under_a_minute(capsys: pytest.CaptureFixture[str]) -> None:
    started = time.perf_counter()
    assert main(["bench", "--quick"]) == 0
    assert time.perf_counter() - started < 60
    table = capsys.readouterr().out
    assert "10,000 synthetic licensebot" in table
    assert table.count("100/100 top-5 lists identical") == 2


def write_articles_corpus(root: Path, n_docs: int) -> Path:
    """A BEIR-shaped corpus of article-like documents (titles, sentences) and queries."""
    root.mkdir()
    topics = ["battery patents", "5G licensing", "royalty rates", "handset makers", "spectrum"]
    with (root / "corpus.jsonl").open("w") as fh:
        for i in range(n_docs):
            topic = topics[i % len(topics)]
            text = " ".join(
                f"Company {i} said its {topic} deal number {j} covers carmakers and networks."
                for j in range(6)
            )
            fh.write(json.dumps({"_id": f"d{i}", "title": f"{topic} news {i}", "text": text}))
            fh.write("\n")
    with (root / "queries.jsonl").open("w") as fh:
        for i, topic in enumerate(topics):
            fh.write(json.dumps({"_id": f"q{i}", "text": f"What did companies say about {topic}?"}))
            fh.write("\n")
    return root


@pytest.mark.slow
def test_kb_quick_mode_measures_every_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = write_articles_corpus(tmp_path / "beir", 40)
    started = time.perf_counter()
    code = main(["bench", "--kb", "--quick", "--sizes", "100", "--corpus", str(corpus), "--json"])
    assert code == 0
    assert time.perf_counter() - started < 60
    (result,) = json.loads(capsys.readouterr().out)["results"]
    assert result["size"] == 100 and result["corpus_docs"] == 40
    build, warm = result["build"], result["warm"]
    assert build["articles"] == 100 and build["skipped"] == 0 and build["passages"] >= 200
    assert build["first_build_s"] > 0 and warm["warm_start_s"] > 0
    for key in ("reload_edit_s", "reload_add_s", "reload_remove_s", "check_s"):
        assert warm[key] > 0, key
    assert warm["check_problems"] == 0 and warm["questions"] == 5 and warm["answered"] > 0
    assert 0 < warm["answer_p50_ms"] <= warm["answer_p95_ms"]
    assert warm["resident_mb"] > 0 and result["ask_json_s"] > 0 and result["check_cli_s"] > 0
    assert set(result["tantivy"]) >= {"available"}
    table = format_kb_table(KbBenchReport(machine=machine_info(), results=[result, result]))
    assert "      100 " in table and "growth 100 -> 100 articles" in table


def test_kb_mode_needs_a_corpus(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--kb", "--quick"]) == 2
    assert "needs --corpus" in capsys.readouterr().err
