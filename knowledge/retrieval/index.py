"""BM25 ranking over passages, exact to rank-bm25 and fast at a million passages.

rank-bm25's ``BM25Okapi`` (0.2.2) is the definition of the scores: the same idf
(``ln(N - df + 0.5) - ln(df + 0.5)``, negative values replaced by
``epsilon * mean idf`` where the mean is taken over every term before the
replacement), the same per-document weight and the same float64 operations in the
same order, so every score here is bit-for-bit the score rank-bm25 gives. How the
scores are served is different (docs/retrieval.md has the details):

* Documents get internal ids in order of increasing length, so the length
  normaliser ``K`` never decreases with the id.
* Each term's postings are one list sorted by internal id, cut into blocks of
  ``BLOCK``; each block records its largest ``tf(k1 + 1)/(tf + K)``, which
  bounds what any of its postings can add.
* K is also kept as runs of equal value over internal ids (one per distinct
  length), which is how the compiled search reads it.
* Terms in at least 1/64 of the documents also keep a bitmap of them (built by
  :meth:`Bm25Index.prepare`, not saved).
* Top-k is a compiled search of :mod:`knowledge.retrieval.compiled.topk` (bitmap search,
  or MaxScore for long queries); queries with few postings score every match
  directly.
"""

from __future__ import annotations

import collections
import functools
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

FORMAT_VERSION: Final = 3

IntArray = npt.NDArray[np.int64]
Int32Array = npt.NDArray[np.int32]
FloatArray = npt.NDArray[np.float64]
AnyArray = npt.NDArray[Any]

# Queries whose terms have at most this many postings in all are scored whole.
_SCORE_ALL_BELOW: Final = 4096
# Postings per block of a term's list: the unit the search skips by. Smaller
# blocks bound scores more tightly and cost more to step through.
BLOCK: Final = 64
# Terms in at least 1/DENSE_SHARE of the documents keep a bitmap of them (see prepare),
# the commonest first, in at most this many bytes per posting of the index.
DENSE_SHARE: Final = 64
BITMAP_BYTES_PER_POSTING: Final = 2
Progress = Callable[[str], None]
# From this many tokens the build runs compiled (knowledge.retrieval.compiled.build): below
# it, loading numba would cost more than it saves.
COMPILED_BUILD_FROM: Final = 1_000_000


class Bm25Params(BaseModel):
    model_config = ConfigDict(frozen=True)

    k1: float = 1.2
    b: float = 0.75
    epsilon: float = 0.25


class IndexFileError(Exception):
    """A saved index that cannot be read, or was written by a different format."""


class Bm25Index:
    """Scores a fixed corpus of pre-tokenised documents."""

    # Queries of more than BITMAP_TERMS distinct terms: every posting scored term by
    # term (True), or MaxScore (docs/retrieval.md has the measurement).
    long_queries_term_at_a_time: bool = True

    _vocab: dict[str, int]
    _df: Int32Array  # per term id: documents containing it
    _idf: FloatArray  # per term id: BM25Okapi idf after the epsilon floor
    _term_ptr: IntArray  # term id -> its postings [_term_ptr[t], _term_ptr[t + 1])
    _term_block: IntArray  # term id -> its blocks [_term_block[t], _term_block[t + 1])
    _block_max: FloatArray  # block -> largest tf(k1 + 1)/(tf + K) in it
    _post: Int32Array  # postings: internal document ids
    _tf: AnyArray  # postings: term frequency (smallest unsigned dtype that fits)
    _k: FloatArray  # internal id -> k1 * (1 - b + b * dl / avgdl), non-decreasing
    # Runs of equal K (one per distinct length): first internal id of each run,
    # then n_docs; and the K of each run. The compiled search reads K here: a few
    # hundred values stay in cache, a million scattered ones do not.
    _run_start: IntArray
    _run_k: FloatArray
    _orig: AnyArray  # internal id -> original document index

    def __init__(
        self,
        corpus: Sequence[Sequence[str]],
        params: Bm25Params | None = None,
        *,
        progress: Progress | None = None,
    ) -> None:
        self.params = params or Bm25Params()
        self._init_serving()
        say = progress or _quiet
        n_docs = len(corpus)
        lengths = np.fromiter(map(len, corpus), dtype=np.int64, count=n_docs)
        n_tokens = int(lengths.sum())
        say(f"index: mapping {n_tokens:,} tokens of {n_docs:,} documents to term ids")
        if n_tokens >= COMPILED_BUILD_FROM:
            # Imported here: numba costs a small corpus more than it saves.
            from knowledge.retrieval.compiled import build  # noqa: PLC0415

            numbered = build.number_tokens(corpus, lengths)
            if numbered is None:  # equal tokens are not shared objects
                vocab, token_ids = _number(corpus, n_tokens)
                numbered = vocab, token_ids, np.arange(len(vocab), dtype=np.int32)
            self._vocab, tok, term_of = numbered
            say(f"index: building postings for {len(self._vocab):,} terms")
            self._build(lengths, functools.partial(build.postings, tok, term_of, lengths))
        else:
            vocab, token_ids = _number(corpus, n_tokens)
            self._vocab = vocab
            say(f"index: building postings for {len(self._vocab):,} terms")
            sort = functools.partial(_postings_sorted, token_ids, lengths, n_terms=len(vocab))
            self._build(lengths, sort)
        say(f"index: {self._post.size:,} postings in {self._block_max.size:,} blocks")

    @classmethod
    def from_token_ids(
        cls,
        tokens: AnyArray,
        lengths: IntArray,
        terms: Sequence[str],
        params: Bm25Params | None = None,
        *,
        progress: Progress | None = None,
    ) -> tuple[Bm25Index, Int32Array]:
        """Build from numbered tokens: document ``d`` is the next ``lengths[d]`` entries of
        ``tokens``, and id ``i`` stands for the term ``terms[i]`` (each term once).

        The same index as ``Bm25Index`` of the documents' term lists (term ids are
        renumbered in order of first appearance, rank-bm25's vocabulary order), without
        going through a string per token. Also returns each id's term id in the index
        (-1 for ids no document uses).
        """
        self = cls.__new__(cls)
        self.params = params or Bm25Params()
        self._init_serving()
        say = progress or _quiet
        lengths = np.asarray(lengths, dtype=np.int64)
        tokens = np.ascontiguousarray(tokens, dtype=np.int32)
        if int(lengths.sum()) != tokens.size:
            raise ValueError("document lengths do not add up to the tokens given")
        n_ids = len(terms)
        say(f"index: {tokens.size:,} numbered tokens of {lengths.size:,} documents")
        compiled = tokens.size >= COMPILED_BUILD_FROM
        if compiled:
            from knowledge.retrieval.compiled import build, build_kernels  # noqa: PLC0415

            order = build_kernels.first_seen(tokens, n_ids)
        else:
            distinct, first = np.unique(tokens, return_index=True)
            order = distinct[np.argsort(first, kind="stable")]
        term_of = np.full(n_ids, -1, dtype=np.int32)
        term_of[order] = np.arange(order.size, dtype=np.int32)
        self._vocab = {terms[i]: t for t, i in enumerate(order.tolist())}
        if len(self._vocab) != order.size:
            raise ValueError("two ids stand for the same term")
        say(f"index: building postings for {len(self._vocab):,} terms")
        if compiled:
            self._build(lengths, functools.partial(build.postings, tokens, term_of, lengths))
        else:
            ids = term_of[tokens].astype(np.int64)
            n_terms = len(self._vocab)
            self._build(lengths, functools.partial(_postings_sorted, ids, lengths, n_terms=n_terms))
        say(f"index: {self._post.size:,} postings in {self._block_max.size:,} blocks")
        return self, term_of

    def _init_serving(self) -> None:
        """State a built or loaded index needs to answer: per-thread scratch, bitmaps."""
        self._local = threading.local()
        self._bitmap_lock = threading.Lock()
        self._bitmaps: tuple[IntArray, AnyArray, IntArray] | None = None

    # ------------------------------------------------------------------ build

    def _build(self, lengths: IntArray, postings: Callable[[AnyArray], _Postings]) -> None:
        """Build from the documents' lengths and ``postings`` (given internal order)."""
        p = self.params
        n_docs = int(lengths.size)
        self.n_docs = n_docs
        # rank-bm25 divides the token count by the corpus size as Python numbers.
        self._avgdl = int(lengths.sum()) / n_docs if n_docs else 0.0

        order = np.argsort(lengths, kind="stable")
        self._orig = order.astype(np.int32 if n_docs < 2**31 else np.int64)
        self._k = _length_norm(lengths[order], self._avgdl, p)
        self._run_start, self._run_k = _k_runs(self._k)
        del order
        self._post, self._tf, self._term_ptr = postings(self._orig)
        df = np.diff(self._term_ptr)
        self._df = df.astype(np.int32)
        self._idf, self._average_idf = _okapi_idf(df, n_docs, p.epsilon)
        self._build_blocks(df)

    def _build_blocks(self, df: IntArray) -> None:
        """Per block of BLOCK postings: its largest tf-part."""
        n_blocks = (df + BLOCK - 1) // BLOCK
        self._term_block = np.zeros(df.size + 1, dtype=np.int64)
        np.cumsum(n_blocks, out=self._term_block[1:])
        total = int(self._term_block[-1])
        first_of_term = np.repeat(self._term_block[:-1], n_blocks)
        start = np.repeat(self._term_ptr[:-1], n_blocks)
        start += (np.arange(total, dtype=np.int64) - first_of_term) * BLOCK
        del first_of_term
        end = np.minimum(start + BLOCK, np.repeat(self._term_ptr[1:], n_blocks))
        self._block_max = np.empty(total, dtype=np.float64)
        # In slices of about a million postings: the tf-parts of all postings at
        # once would need 8 bytes per posting.
        b = 0
        while b < total:
            stop = int(np.searchsorted(start, start[b] + (1 << 20), side="right"))
            stop = max(stop, b + 1)
            lo, hi = int(start[b]), int(end[stop - 1])
            part = _tf_part(self._tf[lo:hi], self._k[self._post[lo:hi]], self.params.k1)
            self._block_max[b:stop] = np.maximum.reduceat(part, start[b:stop] - lo)
            b = stop

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
        arrays = list(self._arrays().values())
        if self._bitmaps is not None:
            arrays.extend(self._bitmaps)
        return sum(a.nbytes for a in arrays)

    def term_id(self, term: str) -> int | None:
        """The index's number for ``term``, or None when no document holds it."""
        return self._vocab.get(term)

    @functools.cached_property
    def terms(self) -> tuple[str, ...]:
        """Every term, by its number (``terms[term_id(t)] == t``)."""
        return tuple(self._vocab)

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
        return self._rank(*self._search(qids, k), k)

    def prepare(self, *, wait: bool = True) -> None:
        """Compile the fast search for this index (seconds, once per process; cached on disk).

        With ``wait``, also build the bitmaps of common terms (well under a second
        at a million documents); without, the first search after the compile
        builds them in the background. Until the compile is ready, queries are
        answered by exact scoring of every match, and until the bitmaps are, by
        MaxScore: a fresh process is slower for a moment but never stalls.
        """
        from knowledge.retrieval.compiled import topk  # noqa: PLC0415 (numba: see _search)

        topk.prepare(self._post, self._tf, wait=wait)
        if wait:
            self._build_bitmaps()

    def _build_bitmaps(self) -> None:
        """One bit per document for each term in at least 1/DENSE_SHARE of them.

        The search reads them to find documents holding several query terms; a
        rarer term's bitmap is made per query from its postings. Not saved: built
        in well under a second at a million documents.
        """
        from knowledge.retrieval.compiled import topk  # noqa: PLC0415

        with self._bitmap_lock:
            if self._bitmaps is not None:
                return
            count_type = np.int32 if self._post.size < 2**31 else np.int64
            dense = np.flatnonzero(self._df >= max(1, self.n_docs // DENSE_SHARE))
            # Commonest first, within BITMAP_BYTES_PER_POSTING: long documents make many
            # terms common, and each row costs the same whatever the term.
            row_bytes = _words(self.n_docs) * (8 + np.dtype(count_type).itemsize)
            keep = int(BITMAP_BYTES_PER_POSTING * self._post.size // max(row_bytes, 1))
            if dense.size > keep:
                by_df = np.argsort(-self._df[dense], kind="stable")[:keep]
                dense = np.sort(dense[by_df])
            shape = (dense.size, _words(self.n_docs))
            bits = np.zeros(shape, dtype=np.int64)
            before = np.empty(shape, dtype=count_type)
            topk.fill_bitmaps(
                self._post, self._term_ptr[dense], self._term_ptr[dense + 1], bits, before
            )
            row = np.full(self.n_terms, -1, dtype=np.int64)
            row[dense] = np.arange(dense.size)
            self._bitmaps = (bits, before, row)

    def _search(self, qids: list[int], k: int) -> tuple[AnyArray, FloatArray]:
        """Candidates for the top ``k`` with exact scores, from the compiled search."""
        # Imported here: numba costs a short CLI run 0.2 s it would not use.
        from knowledge.retrieval.compiled import topk  # noqa: PLC0415

        if not topk.ready(self._post, self._tf):
            self.prepare(wait=False)
            return self._score_matches(qids, set(qids))
        if self._bitmaps is None and not self._bitmap_lock.locked():
            # Until they are built (in the background, once), MaxScore serves.
            threading.Thread(target=self._build_bitmaps, name="index-bitmaps", daemon=True).start()
        terms = np.fromiter(dict.fromkeys(qids), dtype=np.int64)
        slots = {int(t): i for i, t in enumerate(terms)}
        query_slots = np.fromiter((slots[t] for t in qids), dtype=np.int64, count=len(qids))
        lo, hi, idf = self._term_ptr[terms], self._term_ptr[terms + 1], self._idf[terms]
        if terms.size > topk.BITMAP_TERMS and self.long_queries_term_at_a_time:
            acc = self._per_thread("acc", (self.n_docs,), np.float64)
            return topk.term_at_a_time(
                self._post, self._tf, self._run_start, self._run_k, lo, hi, idf, query_slots,
                self.params.k1, k, acc,
            )  # fmt: skip
        bitmaps = None
        if self._bitmaps is not None and terms.size <= topk.BITMAP_TERMS:
            bits, before, row = self._bitmaps
            # One scratch row per query term is enough whichever have none stored.
            shape = (topk.BITMAP_TERMS, _words(self.n_docs))
            bitmaps = (bits, before, row[terms], self._per_thread("bits", shape, np.int64))
        counts = collections.Counter(qids)
        return topk.search(
            self._post,
            self._tf,
            self._run_start,
            self._run_k,
            lo,
            hi,
            self._term_block[terms],
            self._block_max,
            idf,
            np.fromiter((counts[int(t)] for t in terms), dtype=np.float64, count=terms.size),
            query_slots,
            self.params.k1,
            k,
            BLOCK,
            bitmaps,
        )

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
        acc = self._per_thread("acc", (self.n_docs,), np.float64)
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

    def passages_with(self, term: str) -> IntArray:
        """The documents (original indexes) containing ``term``, in order."""
        tid = self.term_id(term)
        if tid is None:
            return np.zeros(0, dtype=np.int64)
        lo, hi = self._posting_range(tid)
        return np.sort(np.asarray(self._orig[self._post[lo:hi]], dtype=np.int64))

    def _posting_range(self, tid: int) -> tuple[int, int]:
        """Where term ``tid``'s postings (all its segments) lie in ``_post``."""
        return int(self._term_ptr[tid]), int(self._term_ptr[tid + 1])

    def _per_thread(self, name: str, shape: tuple[int, ...], dtype: type[Any]) -> AnyArray:
        """A zeroed scratch array of this thread; its users leave it zeroed."""
        array: AnyArray | None = getattr(self._local, name, None)
        if array is None or array.shape != shape:
            array = np.zeros(shape, dtype=dtype)
            setattr(self._local, name, array)
        return array

    # ----------------------------------------------------------- persistence

    def _arrays(self) -> dict[str, AnyArray]:
        return {
            "df": self._df,
            "idf": self._idf,
            "term_ptr": self._term_ptr,
            "term_block": self._term_block,
            "block_max": self._block_max,
            "post": self._post,
            "tf": self._tf,
            "k": self._k,
            "orig": self._orig,
        }

    def save(self, path: Path, *, meta: Mapping[str, Any] | None = None) -> None:
        """Write the index to ``path`` atomically (temp file, fsync, rename).

        ``meta`` (JSON-able) is stored in the header; see :func:`read_header`.
        """
        header, arrays = self._saved()
        header["meta"] = dict(meta or {})
        arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
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
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
            raise IndexFileError(f"{path}: {exc}") from exc
        return cls._adopt(header, arrays, path)

    def save_arrays(self, directory: Path) -> None:
        """Write the index as ``.npy`` files into ``directory``, for :meth:`open_arrays`.

        Not atomic by itself: the caller writes into a directory it renames into place.
        """
        directory.mkdir(parents=True, exist_ok=True)
        header, arrays = self._saved()
        for name, array in arrays.items():
            np.save(directory / f"{name}.npy", array, allow_pickle=False)
        (directory / "index.json").write_text(json.dumps(header), encoding="utf-8")

    def _saved(self) -> tuple[dict[str, Any], dict[str, AnyArray]]:
        """What a saved index holds: its header, and its arrays with the terms."""
        terms = list(self._vocab)
        header = {
            "format": FORMAT_VERSION,
            "params": self.params.model_dump(),
            "n_docs": self.n_docs,
            "avgdl": self._avgdl,
            "average_idf": self._average_idf,
        }
        arrays = self._arrays()
        arrays["terms"] = np.frombuffer("".join(terms).encode("utf-8"), dtype=np.uint8)
        arrays["term_ends"] = np.cumsum(np.fromiter(map(len, terms), np.int64, len(terms)))
        return header, arrays

    @classmethod
    def open_arrays(cls, directory: Path) -> Bm25Index:
        """Map an index written by :meth:`save_arrays` into memory (pages are read as
        searches touch them, and shared between processes); raises :class:`IndexFileError`.
        """
        path = directory / "index.json"
        try:
            header = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(header, dict) or header.get("format") != FORMAT_VERSION:
                raise ValueError("unsupported index format")
            names = (*cls._arrays_names(), "terms", "term_ends")
            # Copy-on-write: the arrays are never written, and writable arrays are what
            # the compiled search was compiled (and cached) for.
            arrays = {
                n: np.load(directory / f"{n}.npy", mmap_mode="c", allow_pickle=False) for n in names
            }
        except (OSError, ValueError, TypeError) as exc:
            raise IndexFileError(f"{directory}: {exc}") from exc
        return cls._adopt(header, arrays, directory)

    @classmethod
    def _adopt(
        cls, header: Mapping[str, Any], arrays: Mapping[str, AnyArray], source: Path
    ) -> Bm25Index:
        """An index from its saved header and arrays, checked for consistency."""
        try:
            self = cls.__new__(cls)
            self._init_serving()
            self.params = Bm25Params(**header["params"])
            self.n_docs = int(header["n_docs"])
            self._avgdl = float(header["avgdl"])
            self._average_idf = float(header["average_idf"])
            text = np.asarray(arrays["terms"]).tobytes().decode("utf-8")
            ends = np.asarray(arrays["term_ends"]).tolist()
            starts = [0, *ends[:-1]]
            self._vocab = {text[a:b]: i for i, (a, b) in enumerate(zip(starts, ends, strict=True))}
            for name in self._arrays_names():
                setattr(self, f"_{name}", np.asarray(arrays[name]))
        except (ValueError, KeyError, TypeError) as exc:
            raise IndexFileError(f"{source}: {exc}") from exc
        if (
            self._orig.size != self.n_docs
            or self._k.size != self.n_docs
            or self._term_ptr.size != len(self._vocab) + 1
            or self._term_block.size != len(self._vocab) + 1
            or (self._term_block.size and self._term_block[-1] != self._block_max.size)
            or (self._term_ptr.size and self._term_ptr[-1] != self._post.size)
            or self._post.size != self._tf.size
        ):
            raise IndexFileError(f"{source}: arrays do not match the header")
        if np.any(np.diff(self._k) < 0):
            raise IndexFileError(f"{source}: length normalisers out of order")
        self._run_start, self._run_k = _k_runs(self._k)
        return self

    @staticmethod
    def _arrays_names() -> tuple[str, ...]:
        return (
            "df",
            "idf",
            "term_ptr",
            "term_block",
            "block_max",
            "post",
            "tf",
            "k",
            "orig",
        )


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


_Postings = tuple[AnyArray, AnyArray, IntArray]


def _number(corpus: Sequence[Sequence[str]], n_tokens: int) -> tuple[dict[str, int], IntArray]:
    """Term ids in order of first appearance, and each token's id."""
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
    return dict(numbering), token_ids


def _postings_sorted(
    keys: IntArray, lengths: IntArray, order: AnyArray, *, n_terms: int
) -> _Postings:
    """Postings by term then internal id, by sorting (term, document) keys.

    ``keys`` holds each token's term id and is reused as scratch space: fresh memory
    is slow to fault in, so big temporaries reuse buffers.
    """
    n_docs = int(lengths.size)
    internal_of = np.empty(n_docs, dtype=order.dtype)
    internal_of[order] = np.arange(n_docs, dtype=order.dtype)
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
    del first, keys
    tf_small = tf.astype(np.min_scalar_type(int(tf.max(initial=0))))
    del tf
    # Masked straight into the narrower array: numpy casts in buffered chunks,
    # where ``(pairs & mask).astype(...)`` would first fault in a full int64 copy.
    post = np.empty(pairs.size, dtype=order.dtype)
    np.bitwise_and(pairs, (1 << doc_bits) - 1, out=post, casting="unsafe")
    pairs >>= doc_bits  # now the term id of each posting
    term_ptr = np.searchsorted(pairs, np.arange(n_terms + 1)).astype(np.int64)
    return post, tf_small, term_ptr


def _k_runs(k: FloatArray) -> tuple[IntArray, FloatArray]:
    """Where each run of equal values in non-decreasing ``k`` starts (then k.size); its value."""
    starts = np.flatnonzero(np.diff(k, prepend=np.nan) != 0)
    return np.append(starts, k.size).astype(np.int64), k[starts].astype(np.float64)


def _words(n_docs: int) -> int:
    return (n_docs + 63) // 64


def _quiet(_: str) -> None:
    return None


def _length_norm(lengths: IntArray, avgdl: float, p: Bm25Params) -> FloatArray:
    """K = k1 * (1 - b + b * dl / avgdl), evaluated exactly as rank-bm25 does."""
    if lengths.size == 0 or avgdl == 0:
        # Every document is empty: no term exists, so K is never used.
        return np.zeros(lengths.size, dtype=np.float64)
    return np.asarray(p.k1 * (1 - p.b + p.b * lengths / avgdl), dtype=np.float64)


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


def _tf_part(tf: AnyArray, k: FloatArray, k1: float) -> FloatArray:
    """tf(k1 + 1)/(tf + K), with the float64 operations of rank-bm25 and the search."""
    f = tf.astype(np.float64)
    return np.asarray(f * (k1 + 1) / (f + k), dtype=np.float64)


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
