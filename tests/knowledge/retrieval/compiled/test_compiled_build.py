"""The compiled build of a large index gives exactly the arrays of the sorting build."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import Any, overload

import numpy as np
import pytest
from rank_bm25 import BM25Okapi
from ranking_helpers import assert_same_ranking, real_corpus, real_queries

import knowledge.retrieval.index as index_module
from knowledge.retrieval.compiled import build, build_kernels
from knowledge.retrieval.index import Bm25Index, Bm25Params


def built(corpus: Sequence[Sequence[str]], *, compiled: bool, **kw: Any) -> Bm25Index:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(index_module, "COMPILED_BUILD_FROM", 0 if compiled else 10**18)
        return Bm25Index(corpus, **kw)


def assert_same_index(a: Bm25Index, b: Bm25Index) -> None:
    assert list(a._vocab.items()) == list(b._vocab.items())
    assert a.n_docs == b.n_docs
    assert a.avgdl == b.avgdl
    assert a._average_idf == b._average_idf
    for name, array in a._arrays().items():
        other = b._arrays()[name]
        assert array.dtype == other.dtype, name
        assert np.array_equal(array, other), name
    assert np.array_equal(a._run_start, b._run_start)
    assert np.array_equal(a._run_k, b._run_k)


def fresh(word: str) -> str:
    """An equal string that is a different object."""
    return "".join(list(word))


def random_corpus(seed: int, n_docs: int, vocab: int, *, share: float) -> list[list[str]]:
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(vocab)]
    docs = []
    for _ in range(n_docs):
        length = rng.choice([0, 1, 2, rng.randint(3, 40), rng.randint(3, 40)])
        doc = [words[min(int(rng.paretovariate(1.1)) - 1, vocab - 1)] for _ in range(length)]
        docs.append([w if rng.random() < share else fresh(w) for w in doc])
    return docs


class LazyCorpus(Sequence[list[str]]):
    """Makes every document anew on each access: its strings die after use."""

    def __init__(self, docs: list[list[str]]) -> None:
        self._docs = docs

    def __len__(self) -> int:
        return len(self._docs)

    @overload
    def __getitem__(self, i: int) -> list[str]: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[list[str]]: ...
    def __getitem__(self, i: int | slice) -> list[str] | Sequence[list[str]]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return [fresh(w) for w in self._docs[i]]

    def __iter__(self) -> Iterator[list[str]]:
        return (self[i] for i in range(len(self)))


@pytest.fixture(scope="module")
def corpus() -> list[list[str]]:
    return real_corpus()


def test_real_text_gives_the_same_index_both_ways(corpus: list[list[str]]) -> None:
    for params in (Bm25Params(), Bm25Params(k1=0.9, b=0.4)):
        assert_same_index(
            built(corpus, compiled=True, params=params),
            built(corpus, compiled=False, params=params),
        )


def test_compiled_build_ranks_as_rank_bm25(corpus: list[list[str]]) -> None:
    params = Bm25Params()
    index = built(corpus, compiled=True, params=params)
    index.prepare()
    reference = BM25Okapi(corpus, k1=params.k1, b=params.b, epsilon=params.epsilon)
    for query in real_queries(corpus, 60):
        assert_same_ranking(index.top_k(query, 5), reference.get_scores(query), 5)


@pytest.mark.parametrize("seed", range(6))
def test_shared_and_fresh_string_objects_number_the_same(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small chunks: many hand-overs between the two threads, and a table that grows.
    monkeypatch.setattr(build, "_CHUNK_TOKENS", 37)
    docs = random_corpus(seed, 400, 5000, share=[1.0, 0.5, 0.0][seed % 3])
    assert_same_index(built(docs, compiled=True), built(docs, compiled=False))


def test_documents_made_on_access_keep_their_terms_apart(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Each token is a new object freed soon after; its address is then reused by
    # another string, which must not be taken for the first.
    monkeypatch.setattr(build, "_CHUNK_TOKENS", 16)
    docs = random_corpus(11, 300, 800, share=1.0)
    assert_same_index(built(LazyCorpus(docs), compiled=True), built(docs, compiled=False))


def test_too_many_distinct_objects_fall_back_to_numbering_strings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(build, "MAX_OBJECTS", 50)
    docs = random_corpus(3, 200, 3000, share=0.0)
    lengths = np.fromiter(map(len, docs), dtype=np.int64)
    assert build.number_tokens(docs, lengths) is None
    assert_same_index(built(docs, compiled=True), built(docs, compiled=False))


def test_large_term_frequencies_and_empty_documents() -> None:
    docs = [[], ["a"] * 300, [], ["b", "a", "b"], ["c"] * 70_000, []]
    compiled = built(docs, compiled=True)
    assert compiled._tf.dtype == np.uint32
    assert_same_index(compiled, built(docs, compiled=False))


@pytest.mark.parametrize("workers", [1, 3, 5])
def test_any_number_of_ranges_lays_out_the_same_postings(
    workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(build, "_workers", lambda: workers)
    docs = random_corpus(5, 120, 300, share=0.7)
    assert_same_index(built(docs, compiled=True), built(docs, compiled=False))


def test_number_objects_numbers_in_order_of_first_appearance_across_calls() -> None:
    rng = np.random.default_rng(0)
    values = rng.integers(1, 3000, 20_000) * 16
    expected: dict[int, int] = {}
    want = np.array([expected.setdefault(int(v), len(expected)) for v in values])
    number = np.empty(values.size, dtype=np.int32)
    first = np.empty(values.size, dtype=np.int64)
    table, count = build_kernels.new_table(), 0
    for lo in range(0, values.size, 999):
        hi = min(lo + 999, values.size)
        table, count = build_kernels.number_objects(
            values[lo:hi], lo, number[lo:hi], table, first, count
        )
    assert count == len(expected)
    assert np.array_equal(number, want)
    assert [int(values[i]) for i in first[:count]] == list(expected)


def test_number_objects_reports_running_out_of_room() -> None:
    values = np.arange(1, 101, dtype=np.int64) * 16
    number = np.empty(values.size, dtype=np.int32)
    first = np.empty(10, dtype=np.int64)
    _, count = build_kernels.number_objects(values, 0, number, build_kernels.new_table(), first, 0)
    assert count == -1


def numbered(docs: Sequence[Sequence[str]], seed: int) -> tuple[Any, Any, list[str]]:
    """The documents as token ids in a shuffled numbering, with unused ids in it."""
    vocab = [*sorted({t for d in docs for t in d}), "unused-a", "unused-b"]
    random.Random(seed).shuffle(vocab)
    ids = {t: i for i, t in enumerate(vocab)}
    tokens = np.array([ids[t] for d in docs for t in d], dtype=np.int32)
    return tokens, np.array([len(d) for d in docs], dtype=np.int64), vocab


@pytest.mark.parametrize("compiled", [False, True])
def test_an_index_of_token_ids_is_the_index_of_the_terms(
    corpus: list[list[str]], compiled: bool
) -> None:
    params = Bm25Params(k1=1.5, b=0.6)
    for docs in (corpus, random_corpus(7, 3000, 2000, share=1.0), [[], ["a"], []]):
        tokens, lengths, vocab = numbered(docs, seed=len(docs))
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(index_module, "COMPILED_BUILD_FROM", 0 if compiled else 10**18)
            index, term_of = Bm25Index.from_token_ids(tokens, lengths, vocab, params)
        assert_same_index(index, built(docs, compiled=False, params=params))
        for i, term in enumerate(vocab):
            assert term_of[i] == (index.term_id(term) if term in index._vocab else -1)
        assert index.terms == tuple(index._vocab)


def test_token_ids_must_add_up_and_name_distinct_terms() -> None:
    with pytest.raises(ValueError, match="add up"):
        Bm25Index.from_token_ids(np.array([0, 1], dtype=np.int32), np.array([1]), ["a", "b"])
    with pytest.raises(ValueError, match="same term"):
        Bm25Index.from_token_ids(np.array([0, 1], dtype=np.int32), np.array([2]), ["a", "a"])


def test_first_seen_numbers_in_order_of_appearance() -> None:
    tokens = np.array([5, 2, 5, 0, 2, 7], dtype=np.int32)
    assert build_kernels.first_seen(tokens, 8).tolist() == [5, 2, 0, 7]
