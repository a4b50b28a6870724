"""Bm25Index ranks exactly as rank-bm25's BM25Okapi with the same parameters.

The contract (docs/retrieval.md): ``scores`` equals ``BM25Okapi.get_scores`` bit for
bit, and ``top_k`` returns the k best documents, highest first. Two rankings count
as the same when, position by position, the scores are equal, and every document's
score is exactly rank-bm25's score for that document: documents with exactly equal
scores may change places (and at the k-th place a different one of several tied
documents may be chosen); nothing else may.
"""

from __future__ import annotations

import itertools
import random
import time
from pathlib import Path

import numpy as np
import pytest
from rank_bm25 import BM25Okapi
from ranking_helpers import assert_same_ranking, real_corpus, real_queries

import knowledge.retrieval.index as index_module
from knowledge.retrieval.index import Bm25Index, Bm25Params


@pytest.fixture(scope="module")
def corpus() -> list[list[str]]:
    return real_corpus()


@pytest.fixture(params=["bitmap", "maxscore", "term-at-a-time"])
def kernel(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every compiled search: the bitmap search (up to BITMAP_TERMS terms), MaxScore,
    and term-at-a-time scoring (for longer queries): each one for every query."""
    from knowledge.retrieval.compiled import topk

    if request.param == "maxscore":
        monkeypatch.setattr(topk, "BITMAP_TERMS", 0)
        monkeypatch.setattr(Bm25Index, "long_queries_term_at_a_time", False)
    elif request.param == "term-at-a-time":
        monkeypatch.setattr(topk, "BITMAP_TERMS", 0)
    else:
        monkeypatch.setattr(Bm25Index, "long_queries_term_at_a_time", False)
    return str(request.param)


@pytest.fixture(scope="module")
def queries(corpus: list[list[str]]) -> list[list[str]]:
    return real_queries(corpus, 400)


@pytest.mark.parametrize(
    "params", [Bm25Params(), Bm25Params(k1=0.9, b=0.4), Bm25Params(k1=2.0, b=1.0, epsilon=0.5)]
)
@pytest.mark.parametrize("pruned", [False, True], ids=["as-configured", "always-pruned"])
@pytest.mark.usefixtures("kernel")
def test_rankings_match_rank_bm25_on_real_text(
    corpus: list[list[str]],
    queries: list[list[str]],
    params: Bm25Params,
    pruned: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if pruned:
        # Force the threshold search even where scoring every match is cheaper.
        monkeypatch.setattr(index_module, "_SCORE_ALL_BELOW", 0)
    assert len(corpus) > 1000 and len(queries) >= 400
    reference = BM25Okapi(corpus, k1=params.k1, b=params.b, epsilon=params.epsilon)
    index = Bm25Index(corpus, params)
    index.prepare()
    for query in queries:
        expected = np.asarray(reference.get_scores(query))
        assert np.array_equal(index.scores(query), expected)
        for k in (1, 5, 10):
            assert_same_ranking(index.top_k(query, k), expected, k)


def test_idf_doc_freq_and_average_match_rank_bm25(corpus: list[list[str]]) -> None:
    reference = BM25Okapi(corpus, k1=1.2, b=0.75)
    index = Bm25Index(corpus)
    assert index.n_docs == len(corpus)
    assert index._average_idf == reference.average_idf
    for term, idf in itertools.islice(reference.idf.items(), 0, None, 7):
        assert index.idf(term) == idf
        assert index.doc_freq(term) == sum(1 for doc in corpus if term in doc)
    assert index.idf("no-such-term") == 0.0
    assert index.doc_freq("no-such-term") == 0


def test_common_terms_get_the_epsilon_floor() -> None:
    # "a" is in 3 of 4 documents: negative idf, floored at epsilon * mean idf.
    corpus = [["a", "b"], ["a", "c"], ["a", "d", "d"], ["e"]]
    reference = BM25Okapi(corpus, k1=1.2, b=0.75, epsilon=0.25)
    index = Bm25Index(corpus)
    assert index.idf("a") == reference.idf["a"] == 0.25 * reference.average_idf
    for query in (["a"], ["a", "d"], ["d", "a", "d"], ["e", "zzz"]):
        expected = np.asarray(reference.get_scores(query))
        assert np.array_equal(index.scores(query), expected)
        assert_same_ranking(index.top_k(query, 4), expected, 4)


def test_negative_weights_fall_back_to_full_scoring() -> None:
    # Every term in most documents: the mean idf, and so the floor, is negative.
    corpus = [["x", "y"], ["x", "y"], ["x", "y", "z"], ["x"]]
    reference = BM25Okapi(corpus, k1=1.2, b=0.75)
    assert reference.average_idf < 0
    index = Bm25Index(corpus)
    for query in (["x"], ["y", "z"], ["z"]):
        expected = np.asarray(reference.get_scores(query))
        assert np.array_equal(index.scores(query), expected)
        assert index.top_k(query, 4) == [
            (int(i), float(expected[i])) for i in np.lexsort((np.arange(4), -expected))
        ]


def zipf_corpus(n_docs: int, vocabulary: int, seed: int) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    weights = 1 / (np.arange(1, vocabulary + 1) + 2.0) ** 1.1
    weights /= weights.sum()
    lengths = rng.integers(3, 40, n_docs)
    return [[f"w{t}" for t in rng.choice(vocabulary, size=n, p=weights)] for n in lengths]


@pytest.mark.parametrize("seed", [1, 2, 3])
# Bitmaps stored for the usual share of terms, for terms in every document only
# (the rest made per query), and for every term.
@pytest.mark.parametrize("dense_share", [64, 1, 10**9])
@pytest.mark.usefixtures("kernel")
def test_pruned_search_matches_on_zipf_text_with_repeats_and_unknown_terms(
    seed: int, dense_share: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index_module, "_SCORE_ALL_BELOW", 0)
    monkeypatch.setattr(index_module, "DENSE_SHARE", dense_share)
    corpus = zipf_corpus(3000, 800, seed)
    reference = BM25Okapi(corpus, k1=1.2, b=0.75)
    index = Bm25Index(corpus)
    index.prepare()
    rng = random.Random(seed)
    for _ in range(150):
        doc = rng.choice(corpus)
        query = rng.sample(doc, min(len(doc), rng.randint(1, 8)))
        query += rng.choice([[], ["never-seen"], query[:1]])  # unknown and repeated terms
        expected = np.asarray(reference.get_scores(query))
        for k in (1, 5, 50):
            assert_same_ranking(index.top_k(query, k), expected, k)


@pytest.mark.usefixtures("kernel")
def test_long_lists_many_terms_and_deep_k_on_a_larger_corpus(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Long enough lists for the search to re-plan many times on the way, and
    # queries with more distinct terms than are planned exhaustively.
    monkeypatch.setattr(index_module, "_SCORE_ALL_BELOW", 0)
    corpus = zipf_corpus(20_000, 3000, seed=11)
    reference = BM25Okapi(corpus, k1=1.2, b=0.75)
    index = Bm25Index(corpus)
    index.prepare()
    rng = random.Random(11)
    for n_terms in (3, 8, 9, 14):
        for _ in range(12):
            pool = sorted({t for doc in rng.sample(corpus, 3) for t in doc})
            query = rng.sample(pool, min(n_terms, len(pool)))
            expected = np.asarray(reference.get_scores(query))
            for k in (1, 5, 100):
                assert_same_ranking(index.top_k(query, k), expected, k)


def test_before_the_search_is_compiled_every_match_is_scored_exactly(
    corpus: list[list[str]], queries: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from knowledge.retrieval.compiled import topk

    index = Bm25Index(corpus)
    index.prepare()
    compiled = [index.top_k(q, 5) for q in queries]
    started: list[bool] = []
    monkeypatch.setattr(topk, "ready", lambda post, tf: False)
    monkeypatch.setattr(
        index_module.Bm25Index, "prepare", lambda self, wait=True: started.append(wait)
    )
    monkeypatch.setattr(index_module, "_SCORE_ALL_BELOW", 0)
    assert [index.top_k(q, 5) for q in queries] == compiled
    # Each query asked for the compile in the background and did not wait for it.
    assert started and not any(started)


def test_bitmaps_come_in_the_background_and_change_no_answer(
    corpus: list[list[str]], queries: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from knowledge.retrieval.compiled import topk

    monkeypatch.setattr(index_module, "_SCORE_ALL_BELOW", 0)
    index = Bm25Index(corpus)
    topk.prepare(index._post, index._tf, wait=True)  # compiled, no bitmaps yet
    assert index._bitmaps is None
    before = [index.top_k(q, 5) for q in queries]
    deadline = time.monotonic() + 60
    while index._bitmaps is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert index._bitmaps is not None
    assert [index.top_k(q, 5) for q in queries] == before
    bits, _, row = index._bitmaps
    assert index.nbytes >= bits.nbytes + sum(a.nbytes for a in index._arrays().values())
    # Bitmaps made per query for rarer terms are cleared after each search.
    assert (row < 0).any()
    assert not np.any(index._local.bits)


def test_stored_bitmaps_and_counts_match_the_postings(corpus: list[list[str]]) -> None:
    index = Bm25Index(corpus)
    index.prepare()
    assert index._bitmaps is not None
    bits, before, row = index._bitmaps
    for tid in np.flatnonzero(row >= 0)[:200].tolist():
        lo, hi = index._posting_range(tid)
        docs = index._post[lo:hi].astype(np.int64)
        r = int(row[tid])
        set_bits = np.flatnonzero(np.unpackbits(bits[r].view(np.uint8), bitorder="little"))
        assert np.array_equal(set_bits, docs)
        assert np.array_equal(before[r], np.searchsorted(docs, np.arange(bits.shape[1]) * 64))
    stored = index._df[row >= 0]
    assert stored.min() >= max(1, index.n_docs // index_module.DENSE_SHARE)
    assert stored.min() >= index._df[row < 0].max()  # the commonest terms
    assert bits.nbytes + before.nbytes <= index_module.BITMAP_BYTES_PER_POSTING * index.n_postings


def test_bitmaps_stay_within_their_share_of_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_module, "_SCORE_ALL_BELOW", 0)
    # Short documents over a vocabulary where every term is in 1/40 of them: all
    # are common, and a bitmap each would take ~4 times the postings' bytes.
    rng = random.Random(4)
    vocabulary = [f"w{i}" for i in range(200)]
    corpus = [rng.sample(vocabulary, 5) + rng.sample(vocabulary, 1) for _ in range(3000)]
    index = Bm25Index(corpus)
    index.prepare()
    assert index._bitmaps is not None
    bits, before, _ = index._bitmaps
    assert 0 < bits.shape[0] < np.count_nonzero(index._df >= max(1, index.n_docs // 64))
    assert bits.nbytes + before.nbytes <= index_module.BITMAP_BYTES_PER_POSTING * index.n_postings
    reference = BM25Okapi(corpus, k1=1.2, b=0.75)
    for _ in range(40):
        query = rng.sample(vocabulary, rng.randint(3, 8))
        assert_same_ranking(index.top_k(query, 5), np.asarray(reference.get_scores(query)), 5)


def test_prepare_in_the_background_then_wait() -> None:
    from knowledge.retrieval.compiled import topk

    # tf up to 300 needs a wider tf type than the other tests' corpora.
    index = Bm25Index([["a"] * 300 + ["b"], ["a", "c"], ["c"]])
    index.prepare(wait=False)
    index.prepare(wait=True)
    assert topk.ready(index._post, index._tf)


def test_ties_go_by_index_and_short_result_lists_are_filled_with_zero_scores() -> None:
    corpus = [["x", "y"], ["z"], ["x", "y"], ["q"], ["x", "y"]]
    index = Bm25Index(corpus)
    hits = index.top_k(["x"], 5)
    assert [doc for doc, _ in hits] == [0, 2, 4, 1, 3]
    assert hits[0][1] == hits[1][1] == hits[2][1] > 0
    assert hits[3][1] == hits[4][1] == 0.0
    assert index.top_k(["unknown"], 2) == [(0, 0.0), (1, 0.0)]
    assert index.top_k([], 3) == [(0, 0.0), (1, 0.0), (2, 0.0)]


def test_k_beyond_the_corpus_and_non_positive_k() -> None:
    index = Bm25Index([["a"], ["b"], ["a", "b"]])
    assert len(index.top_k(["a"], 10)) == 3
    assert index.top_k(["a"], 0) == []
    assert index.top_k(["a"], -1) == []


def test_empty_corpus_and_empty_documents() -> None:
    empty = Bm25Index([])
    assert empty.n_docs == 0
    assert empty.top_k(["a"], 3) == []
    assert empty.scores(["a"]).size == 0
    assert empty.idf("a") == 0.0
    blank = Bm25Index([[], [], []])
    assert blank.top_k(["a"], 2) == [(0, 0.0), (1, 0.0)]
    assert np.array_equal(blank.scores(["a"]), np.zeros(3))
    mixed = [[], ["a", "b"], [], ["b"]]
    expected = np.asarray(BM25Okapi(mixed, k1=1.2, b=0.75).get_scores(["b"]))
    assert np.array_equal(Bm25Index(mixed).scores(["b"]), expected)


def test_saved_index_answers_like_the_built_one(tmp_path: Path, corpus: list[list[str]]) -> None:
    params = Bm25Params(k1=1.5, b=0.6)
    built = Bm25Index(corpus, params)
    path = tmp_path / "sub" / "index.npz"
    built.save(path, meta={"kb_version": "abc"})
    assert [p.name for p in path.parent.iterdir()] == ["index.npz"]  # no temp file left
    loaded = Bm25Index.load(path)
    assert loaded.params == params
    assert (loaded.n_docs, loaded.n_terms, loaded.avgdl) == (
        built.n_docs,
        built.n_terms,
        built.avgdl,
    )
    for query in real_queries(corpus, 60):
        assert loaded.top_k(query, 5) == built.top_k(query, 5)
        assert np.array_equal(loaded.scores(query), built.scores(query))
    assert index_module.read_header(path)["meta"] == {"kb_version": "abc"}


def test_unreadable_or_foreign_files_raise_index_file_error(tmp_path: Path) -> None:
    good = tmp_path / "good.npz"
    Bm25Index([["a", "b"], ["c"]]).save(good)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:100])
    text = tmp_path / "text.npz"
    text.write_text("not an index")
    other = tmp_path / "other.npz"
    np.savez(other, header=np.frombuffer(b'{"format": 999}', dtype=np.uint8))
    for path in (truncated, text, other, tmp_path / "missing.npz"):
        with pytest.raises(index_module.IndexFileError):
            Bm25Index.load(path)
        with pytest.raises(index_module.IndexFileError):
            index_module.read_header(path)


def test_length_normaliser_runs_cover_every_document_exactly() -> None:
    k = np.array([0.5, 0.5, 0.75, 1.0, 1.0, 1.0, 1.25])
    starts, values = index_module._k_runs(k)
    assert starts.tolist() == [0, 2, 3, 6, 7]
    assert values.tolist() == [0.5, 0.75, 1.0, 1.25]
    for run in range(values.size):
        assert np.all(k[starts[run] : starts[run + 1]] == values[run])
    starts, values = index_module._k_runs(np.zeros(0))
    assert starts.tolist() == [0] and values.size == 0


def test_a_saved_index_with_normalisers_out_of_order_is_refused(tmp_path: Path) -> None:
    # The search reads K by runs over ids numbered by length; a file that breaks
    # that order would give wrong scores, so it is refused like any damaged file.
    path = tmp_path / "index.npz"
    Bm25Index([["a", "b", "c"], ["a"], ["b", "c"]]).save(path)
    with np.load(path) as data:
        arrays = {name: data[name] for name in data.files}
    arrays["k"] = arrays["k"][::-1].copy()
    np.savez(path, **arrays)  # type: ignore[arg-type]
    with pytest.raises(index_module.IndexFileError, match="out of order"):
        Bm25Index.load(path)


def test_progress_reports_each_build_stage() -> None:
    lines: list[str] = []
    Bm25Index([["a", "b"], ["b"]], progress=lines.append)
    assert len(lines) == 3
    assert "3 tokens of 2 documents" in lines[0]
    assert "2 terms" in lines[1]
    assert "3 postings" in lines[2]


def test_concurrent_queries_get_the_same_answers(corpus: list[list[str]]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    index = Bm25Index(corpus)
    index.prepare()
    queries = real_queries(corpus, 200)
    expected = [index.top_k(q, 5) for q in queries]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(lambda q: index.top_k(q, 5), queries)) == expected
