"""Real text, queries and the ranking comparison shared by the index tests."""

from __future__ import annotations

import random
import tomllib
from collections.abc import Sequence
from pathlib import Path
from pydoc_data.topics import topics

import numpy as np

from knowledge.retrieval.tokenizer import default_analyzer

ARTICLES = Path(__file__).resolve().parents[1] / "knowledge" / "articles"
QUESTIONS = Path(__file__).resolve().parent / "knowledge" / "questions.toml"


def real_corpus() -> list[list[str]]:
    """Passages of real English: Python's help topics and the bundled articles."""
    analyzer = default_analyzer()
    texts = [topics[name] for name in sorted(topics)]
    texts += [p.read_text(encoding="utf-8") for p in sorted(ARTICLES.glob("*.txt"))]
    passages: list[list[str]] = []
    for text in texts:
        terms = analyzer.tokenize(text)
        passages.extend(terms[i : i + 30] for i in range(0, len(terms), 30))
    return passages


def real_queries(corpus: Sequence[Sequence[str]], n: int, seed: int = 7) -> list[list[str]]:
    """Questions of the bundled question set, then 3-8 terms from random passages."""
    analyzer = default_analyzer()
    qset = tomllib.loads(QUESTIONS.read_text(encoding="utf-8"))
    queries = [analyzer.tokenize(q["text"]) for q in qset["question"] + qset["refuse"]]
    rng = random.Random(seed)
    while len(queries) < n:
        terms = sorted(set(rng.choice(corpus)))
        if len(terms) >= 3:
            queries.append(rng.sample(terms, rng.randint(3, min(8, len(terms)))))
    return queries


def assert_same_ranking(got: list[tuple[int, float]], reference: np.ndarray, k: int) -> None:
    """``got`` is a top-k of ``reference`` up to reordering of (near-)equal scores."""
    expected = np.sort(reference)[::-1][: min(k, reference.size)]
    assert len(got) == expected.size
    assert len({doc for doc, _ in got}) == len(got)
    for (doc, score), want in zip(got, expected, strict=True):
        # Bit-identical scores: only documents with exactly equal scores may swap.
        assert score == want
        assert score == reference[doc]
