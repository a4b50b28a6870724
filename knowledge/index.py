"""BM25 ranking over passages, exact to rank-bm25 and fast at a million passages.

rank-bm25's ``BM25Okapi`` (0.2.2) is the definition of the scores: the same idf
(``ln(N - df + 0.5) - ln(df + 0.5)``, negative values replaced by
``epsilon * mean idf`` where the mean is taken over every term before the
replacement), the same per-document term weight, and the same order of float64
operations, so each score here is bit-for-bit the score rank-bm25 would give.
How the scores are served is different; see docs/retrieval.md.

Layout. Documents get internal ids in order of increasing length, so the length
normaliser ``K`` grows with the internal id. Every term's postings are split into
segments of equal term frequency, each sorted by internal id. Within a segment a
posting's contribution therefore never grows along the segment: the postings worth
at least some value form a prefix, found by binary search, and any single posting
is found by binary search too.

Top-k is a two-round threshold algorithm. The first postings of every segment are
scored exactly; the k-th best of those is a lower bound for the k-th best score
overall. That bound is split among the query terms (terms whose best possible
contribution all together cannot reach it get no share and are never scanned); a
document that reaches the bound must reach its share in at least one term, so the
segment prefixes above the shares hold every document of the true top k. Only
those are scored, exactly, by binary search in each query term's segments.
"""

from __future__ import annotations

import collections
import itertools
import json
import math
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

FORMAT_VERSION: Final = 1

IntArray = npt.NDArray[np.int64]
Int32Array = npt.NDArray[np.int32]
FloatArray = npt.NDArray[np.float64]

# Floating-point headroom for pruning bounds. Bounds are derived algebraically but
# scores are float sums; a bound loosened by far more than any rounding error can
# only admit extra candidates, never drop a document that belongs in the top k.
_SLACK: Final = 1e-9
# Segments this short are scored whole up front; longer ones by their head.
_SEED_WHOLE: Final = 256
_SEED_HEAD: Final = 16

Progress = Callable[[str], None]


class Bm25Params(BaseModel):
    model_config = ConfigDict(frozen=True)

    k1: float = 1.2
    b: float = 0.75
    epsilon: float = 0.25


class IndexFileError(Exception):
    """A saved index that cannot be read, or was written by a different format."""


class Bm25Index:
    """Scores a fixed corpus of pre-tokenised documents."""

    def __init__(
        self,
        corpus: Sequence[Sequence[str]],
        params: Bm25Params | None = None,
        *,
        progress: Progress | None = None,
    ) -> None:
        self.params = params or Bm25Params()
        say = progress or _quiet
        n_docs = len(corpus)
        say(f"index: counting {n_docs:,} documents")
        lengths = np.fromiter(map(len, corpus), dtype=np.int64, count=n_docs)
        n_tokens = int(lengths.sum())
        say(f"index: mapping {n_tokens:,} tokens to term ids")
        # A defaultdict numbering keys on first sight keeps the loop in C and gives
        # rank-bm25's own vocabulary order, which fixes the order of its idf sum.
        numbering: collections.defaultdict[str, int] = collections.defaultdict(
            itertools.count().__next__
        )
        token_ids = np.fromiter(
            map(numbering.__getitem__, itertools.chain.from_iterable(corpus)),
            dtype=np.int64,
            count=n_tokens,
        )
        vocab = dict(numbering)
        say(f"index: building postings for {len(vocab):,} terms")
        self._init_from_arrays(vocab, token_ids, lengths)
        self._local = threading.local()

    # ------------------------------------------------------------------ build

    def _init_from_arrays(
        self, vocab: dict[str, int], token_ids: IntArray, lengths: IntArray
    ) -> None:
        p = self.params
        n_docs = int(lengths.size)
        n_terms = len(vocab)
        self.n_docs = n_docs
        self._vocab = vocab
        total = int(lengths.sum())
        # rank-bm25 divides the token count by the corpus size as Python numbers.
        self._avgdl = total / n_docs if n_docs else 0.0

        # Internal ids: documents by increasing length (ties by original index).
        order = np.argsort(lengths, kind="stable")
        internal_of = np.empty(n_docs, dtype=np.int64)
        internal_of[order] = np.arange(n_docs, dtype=np.int64)
        self._orig = order.astype(np.int32 if n_docs < 2**31 else np.int64)
        self._k = _length_norm(lengths[order], self._avgdl, p)

        doc_bits = max(1, int(n_docs).bit_length())
        # One sort of (term, internal doc) keys groups equal tokens; runs are tf.
        keys = token_ids
        keys <<= doc_bits
        keys |= np.repeat(internal_of, lengths)
        del internal_of
        keys.sort()
        if keys.size:
            starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
            tf = np.diff(np.append(starts, keys.size)).astype(np.int64)
            pair_keys = keys[starts]
        else:
            tf = np.zeros(0, dtype=np.int64)
            pair_keys = keys
        del keys
        pair_term = pair_keys >> doc_bits
        pair_doc = pair_keys & ((1 << doc_bits) - 1)
        del pair_keys

        df = np.bincount(pair_term, minlength=n_terms).astype(np.int64)
        self._df = df.astype(np.int32)
        self._idf, self._average_idf = _okapi_idf(df, n_docs, p.epsilon)

        # Regroup each term's postings by tf (descending), keeping doc order inside.
        perm = _order_by_term_then_tf(pair_term, tf, df)
        post_term = pair_term[perm]
        post_tf = tf[perm]
        self._post = pair_doc[perm].astype(np.int32)
        del perm, pair_term, pair_doc, tf

        if post_term.size:
            boundary = np.concatenate(
                ([True], (post_term[1:] != post_term[:-1]) | (post_tf[1:] != post_tf[:-1]))
            )
            seg_start = np.flatnonzero(boundary)
        else:
            seg_start = np.zeros(0, dtype=np.int64)
        seg_term = post_term[seg_start]
        self._seg_tf = post_tf[seg_start].astype(np.float64)
        self._seg_ptr = np.append(seg_start, post_term.size).astype(np.int64)
        self._term_seg = np.searchsorted(seg_term, np.arange(n_terms + 1)).astype(np.int64)
        # A segment's first posting has its largest tf-part; the term's bound is
        # the best of its segments' first postings.
        first_ratio = _ratio(self._seg_tf, self._k[self._post[seg_start]], p)
        if n_terms:
            self._max_ratio = np.maximum.reduceat(first_ratio, self._term_seg[:-1])
        else:
            self._max_ratio = np.zeros(0, dtype=np.float64)

    # ------------------------------------------------------------- accessors

    @property
    def n_terms(self) -> int:
        return len(self._vocab)

    @property
    def avgdl(self) -> float:
        return self._avgdl

    @property
    def nbytes(self) -> int:
        """Bytes held by the index arrays (the vocabulary dict not included)."""
        return sum(a.nbytes for a in self._arrays().values())

    def doc_freq(self, term: str) -> int:
        tid = self._vocab.get(term)
        return 0 if tid is None else int(self._df[tid])

    def idf(self, term: str) -> float:
        tid = self._vocab.get(term)
        return 0.0 if tid is None else float(self._idf[tid])

    # --------------------------------------------------------------- scoring

    def scores(self, query: Sequence[str]) -> FloatArray:
        """Score of every document, by original index (rank-bm25 ``get_scores``)."""
        out = np.zeros(self.n_docs, dtype=np.float64)
        if self.n_docs == 0:
            return out
        internal = np.zeros(self.n_docs, dtype=np.float64)
        for tid in self._query_ids(query):
            for seg in range(int(self._term_seg[tid]), int(self._term_seg[tid + 1])):
                docs = self._seg_docs(seg)
                internal[docs] += self._contribution(tid, self._seg_tf[seg], docs)
        out[self._orig] = internal
        return out

    def top_k(self, query: Sequence[str], k: int) -> list[tuple[int, float]]:
        """Best ``k`` documents as (index, score), highest first, ties by index.

        When fewer than ``k`` documents match, the rest are the lowest-indexed
        non-matching documents with score 0.0, as a full sort of ``scores`` gives.
        """
        k = min(k, self.n_docs)
        if k <= 0:
            return []
        qids = self._query_ids(query)
        if any(self._idf[t] < 0 for t in qids):
            # Negative weights (a tiny corpus whose mean idf is negative) break the
            # upper bounds pruning relies on; score everything instead.
            return _best_of(self.scores(query), k)
        docs, scores = self._candidates(qids, k) if qids else _empty_hits()
        return self._rank(docs, scores, k)

    def _query_ids(self, query: Iterable[str]) -> list[int]:
        """Term ids of the query tokens, in order, repeats kept, no-weight ones dropped."""
        out: list[int] = []
        for token in query:
            tid = self._vocab.get(token)
            if tid is not None and self._idf[tid] != 0.0:
                out.append(tid)
        return out

    def _candidates(self, qids: list[int], k: int) -> tuple[IntArray, FloatArray]:
        """Internal ids and exact scores of a document set holding the top ``k``."""
        counts = collections.Counter(qids)
        terms = list(counts)
        weight = {t: counts[t] * float(self._idf[t]) for t in terms}

        # Seeds: whole short segments and the head of the others, scored exactly.
        # A document outside them sits past the head of every segment it is in, so
        # its bound per term comes from the first posting after the head.
        seed_parts: list[Int32Array] = []
        bound: dict[int, float] = {}
        skip: dict[int, int] = {}
        for t in terms:
            best = 0.0
            for seg in self._segments(t):
                docs = self._seg_docs(seg)
                head = docs.size if docs.size <= _SEED_WHOLE else _SEED_HEAD + k
                skip[seg] = head
                seed_parts.append(docs[:head])
                if head < docs.size:
                    tf = self._seg_tf[seg]
                    best = max(best, float(tf * (self.params.k1 + 1) / (tf + self._k[docs[head]])))
            if best > 0:
                bound[t] = weight[t] * best * (1 + _SLACK)
        seeds = np.unique(np.concatenate(seed_parts))
        seed_scores = self._exact(qids, seeds)
        theta = _kth_largest(seed_scores, k) * (1 - _SLACK)
        if not bound:
            return seeds, seed_scores
        if theta <= 0:
            # Fewer than k matching documents among the seeds: every match counts.
            found = np.unique(np.concatenate([self._seg_docs(g) for t in terms for g in self._segments(t)]))
            return found, self._exact(qids, found)

        # Terms whose bounds together stay below the threshold are never scanned: a
        # document found only through them scores below it. The longest posting
        # lists are the ones worth leaving out, so they are tried first.
        spare = theta
        essential: list[int] = []
        for t in sorted(bound, key=lambda t: -int(self._df[t])):
            if bound[t] < spare:
                spare -= bound[t]
            else:
                essential.append(t)
        total_bound = sum(bound.values())
        # Through term t a document reaches theta only if its contribution there
        # is at least theta minus every other term's bound: only prefixes are read.
        floor = {t: theta - (total_bound - bound[t]) for t in essential}

        acc = self._scratch()
        fresh: list[IntArray] = []
        try:
            for t in essential:
                min_ratio = floor[t] / weight[t]
                for seg in self._segments(t):
                    docs = self._seg_docs(seg)
                    docs = docs[skip[seg] : self._prefix_len(docs, self._seg_tf[seg], min_ratio)]
                    if docs.size:
                        fresh.append(docs[acc[docs] == 0.0])
                        acc[docs] += self._contribution(t, self._seg_tf[seg], docs)
            seen = np.concatenate(fresh) if fresh else np.zeros(0, dtype=np.int32)
            cand = self._survivors(qids, acc, seen, theta, bound, floor, k)
        finally:
            acc[seen] = 0.0
        found = np.union1d(cand, seeds)
        return found, self._exact(qids, found)

    def _survivors(
        self,
        qids: list[int],
        acc: FloatArray,
        seen: IntArray,
        theta: float,
        bound: dict[int, float],
        floor: dict[int, float],
        k: int,
    ) -> IntArray:
        """Documents of ``seen`` that may still reach the top ``k``, sorted."""
        if seen.size == 0:
            return seen
        partial = acc[seen]
        if seen.size > k:
            # The best partial sums are likely among the best scores: their exact
            # scores usually lift the threshold well above the seeds'.
            best = np.sort(seen[np.argpartition(-partial, k)[:k]])
            theta = max(theta, float(self._exact(qids, best).min()) * (1 - _SLACK))
        rest = [t for t in bound if t not in floor]
        remaining = sum(bound[t] for t in rest) + sum(max(c, 0.0) for c in floor.values())
        cand = np.sort(seen[partial + remaining * (1 + _SLACK) >= theta])
        # Unread terms, largest bound first: add their contributions for the
        # candidates left, dropping those the remaining bounds cannot lift.
        for t in sorted(rest, key=lambda t: -bound[t]):
            if cand.size == 0:
                break
            self._accumulate(acc, t, cand)
            remaining -= bound[t]
            cand = cand[acc[cand] + remaining * (1 + _SLACK) >= theta]
        return cand

    def _accumulate(self, acc: FloatArray, tid: int, docs: IntArray) -> None:
        """Add term ``tid``'s contribution to ``acc`` at those of ``docs`` holding it."""
        for seg in self._segments(tid):
            seg_docs = self._seg_docs(seg)
            pos = np.searchsorted(seg_docs, docs)
            inside = pos < seg_docs.size
            hit = docs[inside][seg_docs[pos[inside]] == docs[inside]]
            if hit.size:
                acc[hit] += self._contribution(tid, self._seg_tf[seg], hit)

    def _scratch(self) -> FloatArray:
        """A zeroed per-thread accumulator over all documents; callers re-zero it."""
        acc: FloatArray | None = getattr(self._local, "acc", None)
        if acc is None or acc.size != self.n_docs:
            acc = np.zeros(self.n_docs, dtype=np.float64)
            self._local.acc = acc
        return acc

    def _segments(self, tid: int) -> range:
        return range(int(self._term_seg[tid]), int(self._term_seg[tid + 1]))

    def _prefix_len(self, docs: Int32Array, tf: float, min_ratio: float) -> int:
        """How many leading postings of a tf segment may reach ``min_ratio``."""
        if min_ratio <= 0:
            return int(docs.size)
        p = self.params
        # ratio = tf(k1+1)/(tf+K) >= r  <=>  K <= tf(k1+1)/r - tf
        k_cut = tf * (p.k1 + 1) / min_ratio - tf
        k_cut = k_cut * (1 + _SLACK) + _SLACK
        doc_cut = int(np.searchsorted(self._k, k_cut, side="right"))
        return int(np.searchsorted(docs, doc_cut, side="left"))

    def _exact(self, qids: list[int], docs: IntArray) -> FloatArray:
        """Scores of ``docs`` (sorted internal ids), summed in query order like rank-bm25."""
        contrib: dict[int, FloatArray] = {}
        for t in dict.fromkeys(qids):
            tf = np.zeros(docs.size, dtype=np.float64)
            for seg in range(int(self._term_seg[t]), int(self._term_seg[t + 1])):
                seg_docs = self._seg_docs(seg)
                pos = np.searchsorted(seg_docs, docs)
                inside = pos < seg_docs.size
                hit = np.zeros(docs.size, dtype=bool)
                hit[inside] = seg_docs[pos[inside]] == docs[inside]
                tf[hit] = self._seg_tf[seg]
            contrib[t] = self._contribution(t, tf, docs)
        total = np.zeros(docs.size, dtype=np.float64)
        for t in qids:
            total += contrib[t]
        return total

    def _contribution(
        self, tid: int, tf: FloatArray | np.float64, docs: IntArray | Int32Array
    ) -> FloatArray:
        # Same float64 operations in the same order as BM25Okapi.get_scores.
        k1 = self.params.k1
        ratio = tf * (k1 + 1) / (tf + self._k[docs])
        return np.asarray(self._idf[tid] * ratio, dtype=np.float64)

    def _rank(self, docs: IntArray, scores: FloatArray, k: int) -> list[tuple[int, float]]:
        keep = scores > 0
        if np.count_nonzero(keep) > k:
            # Everything tied with the k-th score stays, so ties still go by index.
            kth = np.partition(scores, scores.size - k)[scores.size - k]
            keep = scores >= kth
        orig = self._orig[docs[keep]].astype(np.int64)
        scores = scores[keep]
        order = np.lexsort((orig, -scores))[:k]
        hits = [(int(orig[i]), float(scores[i])) for i in order]
        if len(hits) < k:
            hits.extend(_zero_fill(set(orig.tolist()), k - len(hits)))
        return hits

    def _seg_docs(self, seg: int) -> Int32Array:
        return self._post[int(self._seg_ptr[seg]) : int(self._seg_ptr[seg + 1])]

    # ----------------------------------------------------------- persistence

    def _arrays(self) -> dict[str, npt.NDArray[Any]]:
        return {
            "df": self._df,
            "idf": self._idf,
            "max_ratio": self._max_ratio,
            "term_seg": self._term_seg,
            "seg_tf": self._seg_tf,
            "seg_ptr": self._seg_ptr,
            "post": self._post,
            "k": self._k,
            "orig": self._orig,
        }

    def save(self, path: Path, *, meta: Mapping[str, Any] | None = None) -> None:
        """Write the index to ``path`` atomically (temp file + rename).

        ``meta`` is stored in the header and returned by :func:`read_header`.
        """
        terms = list(self._vocab)
        text = "".join(terms)
        header = {
            "format": FORMAT_VERSION,
            "params": self.params.model_dump(),
            "n_docs": self.n_docs,
            "avgdl": self._avgdl,
            "average_idf": self._average_idf,
            "meta": dict(meta or {}),
        }
        arrays = self._arrays()
        arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
        arrays["terms"] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
        arrays["term_ends"] = np.cumsum(np.fromiter(map(len, terms), np.int64, len(terms)))
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, allow_pickle=False, **arrays)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path) -> Bm25Index:
        """Read an index written by :meth:`save`; raises :class:`IndexFileError`."""
        try:
            with np.load(path, allow_pickle=False) as data:
                header = _parse_header(data["header"])
                arrays = {name: data[name] for name in data.files}
        except (OSError, ValueError, KeyError, EOFError) as exc:
            raise IndexFileError(f"{path}: {exc}") from exc
        self = cls.__new__(cls)
        self._local = threading.local()
        try:
            self.params = Bm25Params(**header["params"])
            self.n_docs = int(header["n_docs"])
            self._avgdl = float(header["avgdl"])
            self._average_idf = float(header["average_idf"])
            text = arrays["terms"].tobytes().decode("utf-8")
            ends = arrays["term_ends"].tolist()
            starts = [0, *ends[:-1]]
            self._vocab = {text[a:b]: i for i, (a, b) in enumerate(zip(starts, ends, strict=True))}
            self._df = arrays["df"]
            self._idf = arrays["idf"]
            self._max_ratio = arrays["max_ratio"]
            self._term_seg = arrays["term_seg"]
            self._seg_tf = arrays["seg_tf"]
            self._seg_ptr = arrays["seg_ptr"]
            self._post = arrays["post"]
            self._k = arrays["k"]
            self._orig = arrays["orig"]
        except (KeyError, TypeError, ValueError, UnicodeDecodeError) as exc:
            raise IndexFileError(f"{path}: {exc}") from exc
        if self._orig.size != self.n_docs or self._term_seg.size != len(self._vocab) + 1:
            raise IndexFileError(f"{path}: arrays do not match the header")
        return self


def read_header(path: Path) -> dict[str, Any]:
    """The header of a saved index without loading its arrays."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return _parse_header(data["header"])
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise IndexFileError(f"{path}: {exc}") from exc


def _parse_header(raw: npt.NDArray[Any]) -> dict[str, Any]:
    header = json.loads(raw.tobytes().decode("utf-8"))
    if not isinstance(header, dict) or header.get("format") != FORMAT_VERSION:
        raise ValueError(f"unsupported index format {header.get('format')!r}")
    return header


# ---------------------------------------------------------------- helpers


def _quiet(_: str) -> None:
    return None


def _length_norm(lengths: IntArray, avgdl: float, p: Bm25Params) -> FloatArray:
    """K = k1 * (1 - b + b * dl / avgdl), evaluated exactly as rank-bm25 does."""
    if lengths.size == 0:
        return np.zeros(0, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(p.k1 * (1 - p.b + p.b * lengths / avgdl), dtype=np.float64)


def _ratio(tf: FloatArray, k: FloatArray, p: Bm25Params) -> FloatArray:
    return np.asarray(tf * (p.k1 + 1) / (tf + k), dtype=np.float64)


def _okapi_idf(df: IntArray, n_docs: int, epsilon: float) -> tuple[FloatArray, float]:
    """BM25Okapi idf per term id (ids in first-seen order) and the mean it floors with."""
    if df.size == 0:
        return np.zeros(0, dtype=np.float64), 0.0
    # math.log, not np.log: numpy's vectorised log may differ in the last bit.
    distinct, inverse = np.unique(df, return_inverse=True)
    per_df = np.array(
        [math.log(n_docs - d + 0.5) - math.log(d + 0.5) for d in distinct.tolist()],
        dtype=np.float64,
    )
    idf = per_df[inverse]
    # rank-bm25 sums in vocabulary order, one term at a time; cumsum adds the same way.
    average = float(np.cumsum(idf)[-1]) / idf.size
    idf[idf < 0] = epsilon * average
    return idf, average


def _order_by_term_then_tf(term: IntArray, tf: IntArray, df: IntArray) -> IntArray:
    """Permutation of (term, doc)-sorted postings into (term, tf desc, doc) order.

    Most postings have tf 1, so only the others are sorted; the tf-1 postings keep
    their order and go after them within each term.
    """
    n = term.size
    term_start = np.concatenate(([0], np.cumsum(df)[:-1])) if df.size else df
    many = np.flatnonzero(tf > 1)
    one = np.flatnonzero(tf == 1)
    # Stable sort of the tf>1 postings by (term, -tf); doc order is kept within ties.
    many_sorted = many[np.lexsort((-tf[many], term[many]))]
    many_per_term = np.bincount(term[many], minlength=df.size)
    dest = np.empty(n, dtype=np.int64)
    dest[many_sorted] = _rank_within_groups(term[many_sorted]) + term_start[term[many_sorted]]
    one_term = term[one]
    dest[one] = _rank_within_groups(one_term) + term_start[one_term] + many_per_term[one_term]
    perm = np.empty(n, dtype=np.int64)
    perm[dest] = np.arange(n, dtype=np.int64)
    return perm


def _rank_within_groups(sorted_keys: IntArray) -> IntArray:
    """Position of each element within its run of equal keys (input sorted)."""
    n = sorted_keys.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate(([True], sorted_keys[1:] != sorted_keys[:-1])))
    run_len = np.diff(np.append(starts, n))
    return np.arange(n, dtype=np.int64) - np.repeat(starts, run_len)


def _kth_largest(values: FloatArray, k: int) -> float:
    """The k-th largest positive value, or 0.0 when there are fewer than k."""
    positive = values[values > 0]
    if positive.size < k:
        return 0.0
    return float(np.partition(positive, positive.size - k)[positive.size - k])


def _best_of(scores: FloatArray, k: int) -> list[tuple[int, float]]:
    order = np.lexsort((np.arange(scores.size), -scores))[:k]
    return [(int(i), float(scores[i])) for i in order]


def _empty_hits() -> tuple[IntArray, FloatArray]:
    return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)


def _zero_fill(taken: set[int], count: int) -> list[tuple[int, float]]:
    out: list[tuple[int, float]] = []
    for i in itertools.count():
        if len(out) == count:
            break
        if i not in taken:
            out.append((i, 0.0))
    return out
