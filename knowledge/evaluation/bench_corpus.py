"""Corpora and queries for the retrieval benchmark, generated locally.

Two sources, both already analysed into index terms:

* ``beir``: a real BEIR corpus (title + text through the project analyzer), cut
  into passages of about 60 terms; its own queries, cut to their first 8 terms
  and kept when they have at least 3. Used for sizes the corpus can fill.
* ``synthetic``: passages of Zipf-distributed terms. Ranks follow a truncated
  Zipf-Mandelbrot law p(r) ~ 1/(r + 8)^1.1 over 400,000 terms, sampled by the
  inverse of its continuous CDF, which puts the head at the level of SciFact's
  analysed text (top term ~1.5% of tokens, slope ~1.1); lengths are normal
  (mean 60, sd 15, clipped to 10..150). A query is 3 to 8 distinct terms drawn
  from one random passage, so it mixes rare and very common terms.

Everything is seeded: the same arguments give the same corpus in any process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from knowledge.retrieval.tokenizer import default_analyzer

ZIPF_S = 1.1
ZIPF_Q = 8.0
VOCABULARY = 400_000
MEAN_LENGTH = 60
PASSAGE_TERMS = 60
QUERY_TERMS = (3, 8)

Source = Literal["synthetic", "beir"]


@dataclass(frozen=True)
class BenchCorpus:
    source: Source
    passages: list[list[str]]
    queries: list[list[str]]


def synthetic_corpus(n_docs: int, n_queries: int, seed: int = 0) -> BenchCorpus:
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.normal(MEAN_LENGTH, 15, n_docs).round(), 10, 150).astype(np.int64)
    ranks = _zipf_ranks(rng, int(lengths.sum()))
    names = np.array([f"t{r}" for r in range(VOCABULARY)], dtype=object)
    tokens = names[ranks]
    del ranks
    ends = np.cumsum(lengths).tolist()
    starts = [0, *ends[:-1]]
    passages: list[list[str]] = [tokens[a:b].tolist() for a, b in zip(starts, ends, strict=True)]
    return BenchCorpus("synthetic", passages, _sampled_queries(passages, n_queries, seed + 1))


def beir_corpus(directory: Path, n_docs: int, n_queries: int) -> BenchCorpus | None:
    """The first ``n_docs`` passages of a BEIR corpus, or None if it has fewer."""
    analyzer = default_analyzer()
    passages: list[list[str]] = []
    with (directory / "corpus.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            terms = analyzer.tokenize(f"{rec.get('title') or ''} {rec.get('text') or ''}")
            passages.extend(
                terms[i : i + PASSAGE_TERMS] for i in range(0, len(terms), PASSAGE_TERMS)
            )
            if len(passages) >= n_docs:
                break
    if len(passages) < n_docs:
        return None
    queries: list[list[str]] = []
    with (directory / "queries.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            terms = list(dict.fromkeys(analyzer.tokenize(json.loads(line).get("text") or "")))
            if len(terms) >= QUERY_TERMS[0]:
                queries.append(terms[: QUERY_TERMS[1]])
    if not queries:
        return None
    # Cycle the real queries when more are asked for than the dataset has.
    return BenchCorpus(
        "beir", passages[:n_docs], [queries[i % len(queries)] for i in range(n_queries)]
    )


def _zipf_ranks(rng: np.random.Generator, n: int) -> np.ndarray:
    """Ranks 0..VOCABULARY-1 of a truncated Zipf-Mandelbrot law (continuous inverse CDF)."""
    one_minus_s = 1 - ZIPF_S
    lo = (1 + ZIPF_Q) ** one_minus_s
    hi = (VOCABULARY + 1 + ZIPF_Q) ** one_minus_s
    u = rng.random(n)
    u *= hi - lo
    u += lo
    np.power(u, 1 / one_minus_s, out=u)
    u -= ZIPF_Q + 1
    return np.clip(u.astype(np.int64), 0, VOCABULARY - 1)


def _sampled_queries(passages: list[list[str]], n: int, seed: int) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    out: list[list[str]] = []
    for _ in range(n):
        terms = list(dict.fromkeys(passages[int(rng.integers(len(passages)))]))
        size = min(len(terms), int(rng.integers(QUERY_TERMS[0], QUERY_TERMS[1] + 1)))
        out.append([terms[i] for i in rng.choice(len(terms), size=size, replace=False)])
    return out
