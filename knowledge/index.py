"""BM25 ranking over passages, exact to rank-bm25 and fast at a million passages.

rank-bm25's ``BM25Okapi`` (0.2.2) is the definition of the scores: the same idf
(``ln(N - df + 0.5) - ln(df + 0.5)``, negative values replaced by
``epsilon * mean idf`` where the mean is taken over every term before the
replacement), the same per-document weight and the same float64 operations in the
same order, so every score here is bit-for-bit the score rank-bm25 gives. How the
scores are served is different (docs/retrieval.md has the details):

* Documents get internal ids in order of increasing length, so the length
  normaliser ``K`` never decreases with the id.
* Each term's postings are split into segments by term frequency (1, 2, 3-4,
  5-8, ...), each sorted by internal id. Along a segment a posting's contribution
  is bounded by that of the segment's largest tf at the posting's ``K``, which
  never grows: the postings that may be worth at least some value form a prefix,
  found by binary search, and any one posting is found by binary search too.
* Top-k is an exact threshold search (:class:`_TopK`): read the heads of all
  segments, take the k-th best exact score among the best partial sums as the
  threshold, read further only the prefixes a document would need to reach it,
  then drop candidates whose upper bound falls below it and score the rest
  exactly.
"""

from __future__ import annotations

import collections
import itertools
import json
import math
import os
import tempfile
import threading
import zipfile
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
AnyArray = npt.NDArray[Any]

# Headroom for pruning bounds. Bounds are derived algebraically while scores are
# float sums; loosening a bound by far more than any rounding error can only admit
# extra candidates, never drop a document that belongs in the top k.
_SLACK: Final = 1e-9
# Segments this short are read whole before the threshold is set; longer ones
# contribute their first postings (the shortest documents).
_HEAD_WHOLE: Final = 256
_HEAD: Final = 16
# A binary search costs about this many sequential reads of a posting list.
_PROBE_COST: Final = 16
# Queries whose terms have at most this many postings in all are scored whole.
_SCORE_ALL_BELOW: Final = 4096
# Below this many candidates, exact scoring is cheaper than more pruning.
_EXACT_DIRECTLY: Final = 64

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

    _vocab: dict[str, int]
    _df: Int32Array  # per term id: documents containing it
    _idf: FloatArray  # per term id: BM25Okapi idf after the epsilon floor
    _term_seg: IntArray  # term id -> its segments [_term_seg[t], _term_seg[t + 1])
    _seg_ptr: IntArray  # segment -> its postings [_seg_ptr[g], _seg_ptr[g + 1])
    _seg_maxtf: FloatArray  # segment -> largest tf in it
    _post: Int32Array  # postings: internal document ids
    _tf: AnyArray  # postings: term frequency (smallest unsigned dtype that fits)
    _k: FloatArray  # internal id -> k1 * (1 - b + b * dl / avgdl), non-decreasing
    _orig: AnyArray  # internal id -> original document index

    def __init__(
        self,
        corpus: Sequence[Sequence[str]],
        params: Bm25Params | None = None,
        *,
        progress: Progress | None = None,
    ) -> None:
        self.params = params or Bm25Params()
        self._local = threading.local()
        say = progress or _quiet
        n_docs = len(corpus)
        lengths = np.fromiter(map(len, corpus), dtype=np.int64, count=n_docs)
        n_tokens = int(lengths.sum())
        say(f"index: mapping {n_tokens:,} tokens of {n_docs:,} documents to term ids")
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
        self._vocab = dict(numbering)
        del numbering
        say(f"index: building postings for {len(self._vocab):,} terms")
        self._build(token_ids, lengths)
        say(f"index: {self._post.size:,} postings in {self._seg_ptr.size - 1:,} segments")

    # ------------------------------------------------------------------ build

    def _build(self, keys: IntArray, lengths: IntArray) -> None:
        """Build from each token's term id; ``keys`` is reused as scratch space.

        Fresh memory is slow to fault in, so big temporaries reuse buffers.
        """
        p = self.params
        n_docs = int(lengths.size)
        n_terms = len(self._vocab)
        self.n_docs = n_docs
        # rank-bm25 divides the token count by the corpus size as Python numbers.
        self._avgdl = int(lengths.sum()) / n_docs if n_docs else 0.0

        order = np.argsort(lengths, kind="stable")
        self._orig = order.astype(np.int32 if n_docs < 2**31 else np.int64)
        self._k = _length_norm(lengths[order], self._avgdl, p)
        internal_of = np.empty(n_docs, dtype=self._orig.dtype)
        internal_of[order] = np.arange(n_docs, dtype=self._orig.dtype)
        del order

        doc_bits = max(1, n_docs.bit_length())
        term_bits = max(1, n_terms.bit_length())
        if term_bits + doc_bits > 62:
            raise ValueError("corpus too large for one index")
        # One sort of (term, internal doc) keys puts equal tokens side by side;
        # the length of each run is the term frequency.
        keys <<= doc_bits
        keys |= np.repeat(internal_of, lengths)
        del internal_of
        keys.sort()
        first = np.empty(keys.size, dtype=bool)
        first[:1] = True
        np.not_equal(keys[1:], keys[:-1], out=first[1:])
        starts = np.flatnonzero(first)
        n_post = int(starts.size)
        tf = np.empty(n_post, dtype=np.int32)
        np.subtract(starts[1:], starts[:-1], out=tf[:-1], casting="unsafe")
        tf[-1:] = keys.size - starts[-1:]
        del starts
        pairs = keys[first]
        del first
        work = keys[:n_post]

        # Regroup each term's postings by tf bucket, doc order kept inside; tf
        # rides along in the low bits of the sort key.
        max_tf = int(tf.max(initial=0))
        bucket = _tf_bucket(tf, max_tf)
        bucket_bits = max(1, int(bucket.max(initial=0)).bit_length())
        tf_bits = max(1, max_tf.bit_length())
        if term_bits + bucket_bits + doc_bits + tf_bits > 63:
            raise ValueError("corpus too large for one index")
        doc_mask = (1 << doc_bits) - 1
        np.right_shift(pairs, doc_bits, out=work)
        work <<= bucket_bits
        work |= bucket
        del bucket
        work <<= doc_bits + tf_bits
        pairs &= doc_mask
        pairs <<= tf_bits
        pairs |= tf
        pairs |= work
        del tf
        pairs.sort()

        np.bitwise_and(pairs, (1 << tf_bits) - 1, out=work)
        self._tf = work.astype(np.min_scalar_type(max_tf))
        pairs >>= tf_bits
        np.bitwise_and(pairs, doc_mask, out=work)
        self._post = work.astype(self._orig.dtype)
        del work, keys
        pairs >>= doc_bits  # now (term, bucket) per posting
        if n_post:
            boundary = np.empty(n_post, dtype=bool)
            boundary[0] = True
            np.not_equal(pairs[1:], pairs[:-1], out=boundary[1:])
            seg_start = np.flatnonzero(boundary)
            del boundary
        else:
            seg_start = np.zeros(0, dtype=np.int64)
        seg_term = pairs[seg_start] >> bucket_bits
        del pairs
        self._seg_ptr = np.append(seg_start, n_post).astype(np.int64)
        self._term_seg = np.searchsorted(seg_term, np.arange(n_terms + 1)).astype(np.int64)
        if n_post:
            self._seg_maxtf = np.maximum.reduceat(self._tf, seg_start).astype(np.float64)
        else:
            self._seg_maxtf = np.zeros(0, dtype=np.float64)
        df = np.diff(self._seg_ptr[self._term_seg])
        self._df = df.astype(np.int32)
        self._idf, self._average_idf = _okapi_idf(df, n_docs, p.epsilon)

    # ------------------------------------------------------------- accessors

    @property
    def n_terms(self) -> int:
        return len(self._vocab)

    @property
    def n_postings(self) -> int:
        return int(self._post.size)

    @property
    def avgdl(self) -> float:
        return self._avgdl

    @property
    def nbytes(self) -> int:
        """Bytes held by the index arrays (the term dictionary not included)."""
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
        internal = np.zeros(self.n_docs, dtype=np.float64)
        for tid in self._query_ids(query):
            lo, hi = self._posting_range(tid)
            docs = self._post[lo:hi]
            # A document is in one posting per term, so the fancy add never repeats.
            internal[docs] += self._contribution(tid, self._tf[lo:hi], docs)
        out = np.zeros(self.n_docs, dtype=np.float64)
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
            # upper bounds the search relies on; score everything instead.
            return _best_of(self.scores(query), k)
        if not qids:
            return _zero_fill(set(), k)
        terms = set(qids)
        if sum(int(self._df[t]) for t in terms) <= _SCORE_ALL_BELOW:
            # Few postings: scoring every match costs less than pruning them.
            return self._rank(*self._score_matches(qids, terms), k)
        docs, scores = _TopK(self, qids, k).run()
        return self._rank(docs, scores, k)

    def _query_ids(self, query: Iterable[str]) -> list[int]:
        """Term ids of the query tokens, in order, repeats kept, zero-weight ones dropped."""
        out: list[int] = []
        for token in query:
            tid = self._vocab.get(token)
            if tid is not None and self._idf[tid] != 0.0:
                out.append(tid)
        return out

    def _contribution(self, tid: int, tf: AnyArray, docs: AnyArray) -> FloatArray:
        # Same float64 operations in the same order as BM25Okapi.get_scores.
        tf = tf.astype(np.float64)
        k1 = self.params.k1
        return np.asarray(self._idf[tid] * (tf * (k1 + 1) / (tf + self._k[docs])))

    def _exact(self, qids: list[int], docs: AnyArray) -> FloatArray:
        """Scores of ``docs`` (sorted internal ids), summed in query order like rank-bm25."""
        contrib: dict[int, FloatArray] = {}
        for t in dict.fromkeys(qids):
            tf = np.zeros(docs.size, dtype=self._tf.dtype)
            for g in self._segments(t):
                lo, hi = int(self._seg_ptr[g]), int(self._seg_ptr[g + 1])
                pos = np.searchsorted(self._post[lo:hi], docs)
                pos[pos == hi - lo] = 0
                hit = self._post[lo + pos] == docs
                tf[hit] = self._tf[lo + pos[hit]]
            contrib[t] = self._contribution(t, tf, docs)
        total = np.zeros(docs.size, dtype=np.float64)
        for t in qids:
            total += contrib[t]
        return total

    def _rank(self, docs: AnyArray, scores: FloatArray, k: int) -> list[tuple[int, float]]:
        keep = scores > 0
        if np.count_nonzero(keep) > k:
            # Everything tied with the k-th score stays, so ties still go by index.
            keep = scores >= np.partition(scores, scores.size - k)[scores.size - k]
        orig = self._orig[docs[keep]].astype(np.int64)
        scores = scores[keep]
        order = np.lexsort((orig, -scores))[:k]
        hits = [(int(orig[i]), float(scores[i])) for i in order]
        if len(hits) < k:
            hits.extend(_zero_fill(set(orig.tolist()), k - len(hits)))
        return hits

    def _score_matches(self, qids: list[int], terms: set[int]) -> tuple[AnyArray, FloatArray]:
        """Every document holding a query term, with its exact score."""
        acc = self._scratch()
        ranges = {t: self._posting_range(t) for t in terms}
        docs = np.unique(np.concatenate([self._post[lo:hi] for lo, hi in ranges.values()]))
        try:
            # Adding per query token, in query order, repeats the float additions of
            # get_scores; a document without the term just skips an addition of 0.0.
            for t in qids:
                lo, hi = ranges[t]
                acc[self._post[lo:hi]] += self._contribution(t, self._tf[lo:hi], self._post[lo:hi])
            scores = acc[docs]
        finally:
            acc[docs] = 0.0
        return docs, scores

    def _posting_range(self, tid: int) -> tuple[int, int]:
        """Where term ``tid``'s postings (all its segments) lie in ``_post``."""
        return int(self._seg_ptr[self._term_seg[tid]]), int(self._seg_ptr[self._term_seg[tid + 1]])

    def _segments(self, tid: int) -> range:
        return range(int(self._term_seg[tid]), int(self._term_seg[tid + 1]))

    def _scratch(self) -> FloatArray:
        """A zeroed per-thread accumulator over all documents; users re-zero it."""
        acc: FloatArray | None = getattr(self._local, "acc", None)
        if acc is None or acc.size != self.n_docs:
            acc = np.zeros(self.n_docs, dtype=np.float64)
            self._local.acc = acc
        return acc

    def _scratch_mask(self) -> npt.NDArray[np.bool_]:
        """An all-False per-thread flag per document; users reset what they set."""
        mark: npt.NDArray[np.bool_] | None = getattr(self._local, "mark", None)
        if mark is None or mark.size != self.n_docs:
            mark = np.zeros(self.n_docs, dtype=bool)
            self._local.mark = mark
        return mark

    # ----------------------------------------------------------- persistence

    def _arrays(self) -> dict[str, AnyArray]:
        return {
            "df": self._df,
            "idf": self._idf,
            "term_seg": self._term_seg,
            "seg_ptr": self._seg_ptr,
            "seg_maxtf": self._seg_maxtf,
            "post": self._post,
            "tf": self._tf,
            "k": self._k,
            "orig": self._orig,
        }

    def save(self, path: Path, *, meta: Mapping[str, Any] | None = None) -> None:
        """Write the index to ``path`` atomically (temp file, fsync, rename).

        ``meta`` (JSON-able) is stored in the header; see :func:`read_header`.
        """
        terms = list(self._vocab)
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
        arrays["terms"] = np.frombuffer("".join(terms).encode("utf-8"), dtype=np.uint8)
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
            with path.open("rb") as fh, np.load(fh, allow_pickle=False) as data:
                header = _parse_header(data["header"])
                arrays = {name: data[name] for name in data.files}
            self = cls.__new__(cls)
            self._local = threading.local()
            self.params = Bm25Params(**header["params"])
            self.n_docs = int(header["n_docs"])
            self._avgdl = float(header["avgdl"])
            self._average_idf = float(header["average_idf"])
            text = arrays["terms"].tobytes().decode("utf-8")
            ends = arrays["term_ends"].tolist()
            starts = [0, *ends[:-1]]
            self._vocab = {text[a:b]: i for i, (a, b) in enumerate(zip(starts, ends, strict=True))}
            for name in self._arrays_names():
                setattr(self, f"_{name}", arrays[name])
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
            raise IndexFileError(f"{path}: {exc}") from exc
        if (
            self._orig.size != self.n_docs
            or self._k.size != self.n_docs
            or self._term_seg.size != len(self._vocab) + 1
            or self._post.size != self._tf.size
        ):
            raise IndexFileError(f"{path}: arrays do not match the header")
        return self

    @staticmethod
    def _arrays_names() -> tuple[str, ...]:
        return ("df", "idf", "term_seg", "seg_ptr", "seg_maxtf", "post", "tf", "k", "orig")


class _TopK:
    """One exact top-k search.

    Invariant: ``acc`` holds, for each document listed in ``fresh``, the sum of
    its contributions from the postings read so far (the first ``read[g]`` of each
    segment ``g``); from the postings of term t not read yet, no document gets
    more than ``bound[t]``. So a document never read scores at most
    ``sum(bound)``, and a read one at most its ``acc`` plus that sum.
    """

    def __init__(self, index: Bm25Index, qids: list[int], k: int) -> None:
        self.ix = index
        self.qids = qids
        self.k = k
        counts = collections.Counter(qids)
        self.weight = {t: counts[t] * float(index._idf[t]) for t in counts}
        self.acc = index._scratch()
        self.fresh: list[AnyArray] = []
        self.read: dict[int, int] = {}
        self.bound: dict[int, float] = {}
        self.scanned: set[int] = set()
        self.theta = 0.0

    def run(self) -> tuple[AnyArray, FloatArray]:
        try:
            for t in self.weight:
                self._read_heads(t)
            self._lift()
            while self._read_next_term():
                self._lift()
            cand = self._prune()
        finally:
            for part in self.fresh:
                self.acc[part] = 0.0
        return cand, self.ix._exact(self.qids, cand)

    # -- reading postings

    def _read_heads(self, t: int) -> None:
        """Read whole short segments and the first postings of the long ones."""
        ix = self.ix
        lo, hi = int(ix._term_seg[t]), int(ix._term_seg[t + 1])
        starts = ix._seg_ptr[lo:hi]
        lengths = ix._seg_ptr[lo + 1 : hi + 1] - starts
        heads = np.where(lengths <= _HEAD_WHOLE, lengths, np.minimum(lengths, _HEAD + self.k))
        self._read(t, starts, heads)
        self.read.update(zip(range(lo, hi), heads.tolist(), strict=True))
        partly = heads < lengths
        if partly.any():
            next_doc = ix._post[starts[partly] + heads[partly]]
            maxtf = ix._seg_maxtf[lo:hi][partly]
            best = float(_ratio(maxtf, ix._k[next_doc], ix.params).max())
            self.bound[t] = self.weight[t] * best * (1 + _SLACK)

    def _read(self, t: int, starts: IntArray, counts: IntArray) -> None:
        """Add the contributions of ``counts[i]`` postings from ``starts[i]`` on."""
        total = int(counts.sum())
        if total == 0:
            return
        ix = self.ix
        ends = np.cumsum(counts)
        pos = np.arange(total, dtype=np.int64) + np.repeat(starts - (ends - counts), counts)
        docs = ix._post[pos]
        # A document is in one segment per term, so ``docs`` has no repeats here.
        self.fresh.append(docs[self.acc[docs] == 0.0])
        self.acc[docs] += self.weight[t] * _ratio(ix._tf[pos], ix._k[docs], ix.params)

    def _read_next_term(self) -> bool:
        """Read one more term as far as theta requires; False when none needs it."""
        total = sum(self.bound.values())
        if total < self.theta:
            return False
        # Terms whose bounds together stay below theta need not be read: a
        # document found only through them scores below it. Leaving out the
        # longest lists saves the most, so they are tried first.
        spare = self.theta
        essential: list[int] = []
        for t in sorted(self.bound, key=self._unread, reverse=True):
            if self.bound[t] < spare:
                spare -= self.bound[t]
            elif t not in self.scanned:
                essential.append(t)
        if not essential:
            return False
        t = min(essential, key=self._unread)
        # Through term t an unread document reaches theta only if its
        # contribution there is at least theta minus every other bound.
        floor = self.theta - (total - self.bound[t])
        self._read_down_to(t, floor / self.weight[t])
        self.scanned.add(t)
        self.bound[t] = max(floor, 0.0) * (1 + _SLACK)
        return True

    def _read_down_to(self, t: int, min_ratio: float) -> None:
        """Read every posting of t whose tf-part may reach ``min_ratio``."""
        ix = self.ix
        segs = ix._segments(t)
        starts = ix._seg_ptr[segs.start : segs.stop]
        begin = np.array([self.read[g] for g in segs], dtype=np.int64)
        if min_ratio <= 0:
            cut = ix._seg_ptr[segs.start + 1 : segs.stop + 1] - starts
        else:
            # tf(k1+1)/(tf+K) >= r  <=>  K <= tf(k1+1)/r - tf, with tf the segment's largest.
            maxtf = ix._seg_maxtf[segs.start : segs.stop]
            k_cut = (maxtf * (ix.params.k1 + 1) / min_ratio - maxtf) * (1 + _SLACK) + _SLACK
            doc_cut = np.searchsorted(ix._k, k_cut, side="right")
            cut = np.array(
                [
                    np.searchsorted(ix._post[ix._seg_ptr[g] : ix._seg_ptr[g + 1]], d)
                    for g, d in zip(segs, doc_cut.tolist(), strict=True)
                ],
                dtype=np.int64,
            )
        cut = np.maximum(cut, begin)
        self._read(t, starts + begin, cut - begin)
        self.read.update(zip(segs, cut.tolist(), strict=True))

    def _unread(self, t: int) -> int:
        ix = self.ix
        segs = ix._segments(t)
        size = int(ix._seg_ptr[segs.stop] - ix._seg_ptr[segs.start])
        return size - sum(self.read[g] for g in segs)

    # -- threshold and candidates

    def _seen(self) -> AnyArray:
        if len(self.fresh) > 1:
            self.fresh = [np.concatenate(self.fresh)]
        return self.fresh[0] if self.fresh else np.zeros(0, dtype=self.ix._post.dtype)

    def _lift(self) -> None:
        """Raise theta to the k-th best exact score among the best partial sums."""
        seen = self._seen()
        if seen.size < self.k:
            return
        m = min(seen.size, 8 * self.k + 24)
        best = np.sort(seen[np.argpartition(-self.acc[seen], m - 1)[:m]])
        kth = _kth_largest(self.ix._exact(self.qids, best), self.k)
        self.theta = max(self.theta, kth * (1 - _SLACK))

    def _prune(self) -> AnyArray:
        """Documents read so far that may still reach theta, sorted."""
        seen = self._seen()
        total = sum(self.bound.values())
        cand = np.sort(seen[self.acc[seen] + total * (1 + _SLACK) >= self.theta])
        # Unread postings, largest bound first: add what they give the candidates
        # left, dropping those the remaining bounds can no longer lift.
        for t in sorted(self.bound, key=self.bound.__getitem__, reverse=True):
            if cand.size <= _EXACT_DIRECTLY or self.bound[t] == 0:
                break
            self._probe(t, cand)
            total -= self.bound[t]
            cand = cand[self.acc[cand] + total * (1 + _SLACK) >= self.theta]
        return cand

    def _probe(self, t: int, docs: AnyArray) -> None:
        """Add term t's contribution at those ``docs`` found in its unread postings."""
        ix = self.ix
        mark: npt.NDArray[np.bool_] | None = None
        try:
            for g in ix._segments(t):
                lo, hi = int(ix._seg_ptr[g]) + self.read[g], int(ix._seg_ptr[g + 1])
                if lo == hi:
                    continue
                if docs.size * _PROBE_COST < hi - lo:
                    pos = np.searchsorted(ix._post[lo:hi], docs)
                    pos[pos == hi - lo] = 0
                    at = lo + pos[ix._post[lo + pos] == docs]
                else:
                    # Many candidates: one pass over the postings beats a binary
                    # search per candidate.
                    if mark is None:
                        mark = ix._scratch_mask()
                        mark[docs] = True
                    at = lo + np.flatnonzero(mark[ix._post[lo:hi]])
                if at.size:
                    found = ix._post[at]
                    self.acc[found] += self.weight[t] * _ratio(ix._tf[at], ix._k[found], ix.params)
        finally:
            if mark is not None:
                mark[docs] = False


def read_header(path: Path) -> dict[str, Any]:
    """The header of a saved index, without loading its arrays."""
    try:
        with path.open("rb") as fh, np.load(fh, allow_pickle=False) as data:
            return _parse_header(data["header"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise IndexFileError(f"{path}: {exc}") from exc


def _parse_header(raw: AnyArray) -> dict[str, Any]:
    header = json.loads(raw.tobytes().decode("utf-8"))
    if not isinstance(header, dict) or header.get("format") != FORMAT_VERSION:
        raise ValueError("unsupported index format")
    return header


# ---------------------------------------------------------------- helpers


def _quiet(_: str) -> None:
    return None


def _length_norm(lengths: IntArray, avgdl: float, p: Bm25Params) -> FloatArray:
    """K = k1 * (1 - b + b * dl / avgdl), evaluated exactly as rank-bm25 does."""
    if lengths.size == 0 or avgdl == 0:
        # Every document is empty: no term exists, so K is never used.
        return np.zeros(lengths.size, dtype=np.float64)
    return np.asarray(p.k1 * (1 - p.b + p.b * lengths / avgdl), dtype=np.float64)


def _ratio(tf: AnyArray, k: FloatArray, p: Bm25Params) -> FloatArray:
    tf = tf.astype(np.float64)
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


def _tf_bucket(tf: Int32Array, max_tf: int) -> npt.NDArray[np.int8]:
    """0 for tf 1, 1 for 2, 2 for 3-4, 3 for 5-8, ... (ceil(log2 tf))."""
    bucket = np.zeros(tf.size, dtype=np.int8)
    edge = 1
    while edge < max_tf:
        bucket += tf > edge
        edge *= 2
    return bucket


def _kth_largest(values: FloatArray, k: int) -> float:
    """The k-th largest positive value, or 0.0 when there are fewer than k."""
    positive = values[values > 0]
    if positive.size < k:
        return 0.0
    return float(np.partition(positive, positive.size - k)[positive.size - k])


def _best_of(scores: FloatArray, k: int) -> list[tuple[int, float]]:
    order = np.lexsort((np.arange(scores.size), -scores))[:k]
    return [(int(i), float(scores[i])) for i in order]


def _zero_fill(taken: set[int], count: int) -> list[tuple[int, float]]:
    """The ``count`` lowest indices not in ``taken``, with score 0.0."""
    out: list[tuple[int, float]] = []
    for i in itertools.count():
        if len(out) == count:
            break
        if i not in taken:
            out.append((i, 0.0))
    return out
