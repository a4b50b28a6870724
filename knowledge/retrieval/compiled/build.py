"""The build of a large index: numbering tokens and laying out postings, compiled.

Used by :class:`knowledge.retrieval.index.Bm25Index` from ``COMPILED_BUILD_FROM`` tokens;
it gives the same arrays as the sorting build there (tests compare them). Where
the time goes and why it is split this way is in :mod:`knowledge.retrieval.compiled.build_kernels`.
"""

from __future__ import annotations

import collections
import concurrent.futures
import itertools
import os
from collections.abc import Iterator, Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from knowledge.retrieval.compiled import build_kernels

AnyArray = npt.NDArray[Any]
IntArray = npt.NDArray[np.int64]
Int32Array = npt.NDArray[np.int32]
Postings = tuple[AnyArray, AnyArray, IntArray]

# Distinct string objects the numbering keeps track of before it gives up (a
# corpus whose equal tokens are not shared objects) and numbers through a dict.
MAX_OBJECTS: Final = 1 << 22
# Tokens handed from the Python loop to the compiled numbering at a time.
_CHUNK_TOKENS: Final = 1 << 20
_AHEAD: Final = 4


def number_tokens(
    corpus: Sequence[Sequence[str]], lengths: IntArray
) -> tuple[dict[str, int], AnyArray, Int32Array] | None:
    """Term ids in order of first appearance, and ``tok``, ``term_of``: token ``i``
    is term ``term_of[tok[i]]``. None when the corpus has too many distinct objects.

    Python collects the token objects chunk by chunk while a second thread numbers
    the chunks already collected by object address. Addresses stand for objects
    only while the objects live: a chunk is kept until it is numbered, and the first
    object of every number (``reps``) until the end, so no address in the table can
    be freed and reused by another string meanwhile.
    """
    n_tokens = int(lengths.sum())
    tok = np.empty(n_tokens, dtype=np.int32)
    first = np.empty(min(n_tokens, MAX_OBJECTS), dtype=np.int64)
    reps: list[str] = []
    state: list[Any] = [build_kernels.new_table(), 0]

    def number(chunk: AnyArray, offset: int) -> None:
        before = state[1]
        if before < 0:
            return
        addr = np.asarray(_AddressView(chunk), dtype=np.int64)
        end = offset + chunk.size
        state[0], state[1] = build_kernels.number_objects(
            addr, offset, tok[offset:end], state[0], first, before
        )
        if state[1] > before:
            reps.extend(chunk[first[before : state[1]] - offset].tolist())

    with concurrent.futures.ThreadPoolExecutor(1) as worker:
        pending: collections.deque[concurrent.futures.Future[None]] = collections.deque()
        offset = 0
        for chunk in _object_chunks(corpus, lengths):
            pending.append(worker.submit(number, chunk, offset))
            offset += chunk.size
            # A few chunks ahead keeps both threads busy without holding every token.
            while pending and (pending[0].done() or len(pending) > _AHEAD):
                pending.popleft().result()
            if state[1] < 0:
                break
        for future in pending:
            future.result()
    count = int(state[1])
    if count < 0:
        return None
    numbering: collections.defaultdict[str, int] = collections.defaultdict(
        itertools.count().__next__
    )
    term_of = np.fromiter(map(numbering.__getitem__, reps), dtype=np.int32, count=count)
    return dict(numbering), tok, term_of


def _object_chunks(corpus: Sequence[Sequence[str]], lengths: IntArray) -> Iterator[AnyArray]:
    """The tokens as object arrays of about ``_CHUNK_TOKENS`` each, whole documents."""
    ends = np.cumsum(lengths)
    docs = iter(corpus)
    start_doc, start_tok = 0, 0
    while start_doc < lengths.size:
        stop_doc = int(np.searchsorted(ends, start_tok + _CHUNK_TOKENS, side="right"))
        stop_doc = max(stop_doc, start_doc + 1)
        stop_tok = int(ends[stop_doc - 1])
        # Taken whole: fromiter stops at its count and would leave empty documents
        # at the end of the chunk unread.
        batch = list(itertools.islice(docs, stop_doc - start_doc))
        yield np.fromiter(
            itertools.chain.from_iterable(batch), dtype=object, count=stop_tok - start_tok
        )
        start_doc, start_tok = stop_doc, stop_tok


class _AddressView:
    """The pointers an object array stores, as integers (numpy will not view them so)."""

    def __init__(self, objects: AnyArray) -> None:
        self.objects = objects  # the view's base: keeps the pointers' objects alive
        self.__array_interface__ = {
            "data": (objects.__array_interface__["data"][0], True),
            "shape": objects.shape,
            "typestr": np.dtype(np.intp).str,
            "version": 3,
        }


def postings(tok: AnyArray, term_of: Int32Array, lengths: IntArray, order: AnyArray) -> Postings:
    """Postings by term then internal id (``order``: internal -> original document).

    Compiled passes over the tokens, one thread per core, each over its own range
    of internal ids: a count, then a fill where each range writes after the
    postings of the ranges before it.
    """
    doc_start = np.zeros(lengths.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=doc_start[1:])
    n_terms = int(term_of.max(initial=-1)) + 1
    bounds = np.linspace(0, order.size, _workers() + 1).astype(np.int64).tolist()
    parts = list(itertools.pairwise(bounds))

    def count(part: tuple[int, int]) -> tuple[IntArray, int]:
        return build_kernels.count_postings(tok, term_of, doc_start, order, *part, n_terms)

    with concurrent.futures.ThreadPoolExecutor(len(parts)) as pool:
        counts = list(pool.map(count, parts))
        df = np.sum([c[0] for c in counts], axis=0, dtype=np.int64)
        term_ptr = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(df, out=term_ptr[1:])
        post = np.empty(int(term_ptr[-1]), dtype=order.dtype)
        max_tf = max(c[1] for c in counts)
        tf = np.empty(post.size, dtype=np.min_scalar_type(max(max_tf, 1)))
        starts = np.cumsum([term_ptr[:-1], *(c[0] for c in counts[:-1])], axis=0)

        def fill(p: int) -> None:
            build_kernels.fill_postings(
                tok, term_of, doc_start, order, *parts[p], starts[p], post, tf
            )

        list(pool.map(fill, range(len(parts))))
    return post, tf, term_ptr


def _workers() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(8, cores))
