"""BM25 ranking over passages.

rank-bm25's BM25Okapi is the definition of the scores. Parameters are chosen in
``Bm25Params``; see docs/retrieval.md for the evaluation behind them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict
from rank_bm25 import BM25Okapi


class Bm25Params(BaseModel):
    model_config = ConfigDict(frozen=True)

    k1: float = 1.2
    b: float = 0.75
    epsilon: float = 0.25


class Bm25Index:
    """Scores a fixed corpus of pre-tokenised documents."""

    def __init__(self, corpus: Sequence[Sequence[str]], params: Bm25Params | None = None) -> None:
        self.params = params or Bm25Params()
        self.n_docs = len(corpus)
        self._df: dict[str, int] = {}
        for doc in corpus:
            for term in set(doc):
                self._df[term] = self._df.get(term, 0) + 1
        # rank-bm25 divides by the corpus size: an empty knowledge base has no model at all.
        self._bm25: BM25Okapi | None = (
            BM25Okapi([list(d) for d in corpus], k1=self.params.k1, b=self.params.b,
                      epsilon=self.params.epsilon)
            if corpus
            else None
        )

    def doc_freq(self, term: str) -> int:
        return self._df.get(term, 0)

    def idf(self, term: str) -> float:
        if self._bm25 is None:
            return 0.0
        return float(self._bm25.idf.get(term, 0.0))

    def scores(self, query: Sequence[str]) -> np.ndarray:
        if self._bm25 is None:
            return np.zeros(0)
        return np.asarray(self._bm25.get_scores(list(query)), dtype=np.float64)

    def top_k(self, query: Sequence[str], k: int) -> list[tuple[int, float]]:
        """Best ``k`` documents as (index, score), highest first, ties by index."""
        scores = self.scores(query)
        if scores.size == 0 or k <= 0:
            return []
        order = np.lexsort((np.arange(scores.size), -scores))[:k]
        return [(int(i), float(scores[i])) for i in order]
