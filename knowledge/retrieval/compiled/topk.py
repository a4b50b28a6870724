"""The compiled top-k searches behind :meth:`knowledge.retrieval.index.Bm25Index.top_k`.

Both walk documents in internal order (documents are numbered by increasing
length, so the length normaliser ``K`` never falls along a list) and bound what
each term can still add by the block maxima of its list: every block of a list
stores its largest ``tf(k1 + 1)/(tf + K)``, and a term's bound is the largest of
them from its cursor on, so bounds fall as the search moves to longer documents.

* Bitmap search (queries of up to ``BITMAP_TERMS`` distinct terms): every term has
  a bitmap of its documents (stored for common terms, made per query for the
  others). Chunk by chunk, the candidates are the documents that hold some set of
  query terms whose bounds together reach the k-th best score so far (theta):
  a few bitwise ANDs and ORs per 64 documents. Only candidates are scored. On
  the Zipf benchmark, queries of common terms leave a few thousand candidates
  where MaxScore visits tens of thousands of documents.
* MaxScore (Turtle & Flood, 1995), for longer queries: terms are kept ordered by
  the most they can still add; the cheapest ones, whose bounds together stay
  below theta, cannot bring a document into the top k on their own. Documents
  are taken only from the other lists; the cheap ones are probed by galloping
  search, stopping once a document can no longer reach theta. (Checking the
  blocks before every document, as block-max WAND does, was measured slower on
  the Zipf benchmark: blocks of a common term are rarely much below its maximum.)

K itself is read from runs of equal K (ids follow length, so there are as many
runs as distinct lengths) rather than from one entry per document: at a million
documents, that scattered load was the search's largest single cost.

Scores of the documents that survive are exact, as rank-bm25 computes them:
each term's ``idf * (tf * (k1 + 1) / (tf + K))``, added in query order, once per
query token. Pruning compares sums taken in another order, so its comparisons
leave a relative slack far above any rounding error: it may keep a few extra
candidates, never lose one.

Compiled with numba because the search visits postings one at a time; in numpy the
same search spends most of its time in per-call overhead.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import numpy.typing as npt

from knowledge.retrieval.compiled.jit import jit as _jit

SLACK = 1e-9
# Term bounds only fall as cursors move; they are refreshed this often (documents).
_REFRESH_EVERY = 1024
# Up to this many distinct terms, every split into essential and non-essential is tried.
_EXHAUSTIVE_TERMS = 8


@_jit
def _seek(post: Any, lo: int, hi: int, doc: int) -> int:
    """First position in ``post[lo:hi]`` holding a document >= ``doc`` (galloping)."""
    if lo >= hi or post[lo] >= doc:
        return lo
    prev = lo
    step = 1
    probe = lo + 1
    while probe < hi and post[probe] < doc:
        prev = probe
        step *= 2
        probe = lo + step
    right = min(probe, hi)
    left = prev + 1
    while left < right:
        mid = (left + right) // 2
        if post[mid] < doc:
            left = mid + 1
        else:
            right = mid
    return left


@_jit
def _heap_push(heap: Any, size: int, value: float) -> int:
    """Keep the ``heap.size`` largest values in a min-heap; returns the new size."""
    cap = heap.size
    if size < cap:
        i = size
        heap[i] = value
        while i > 0:
            parent = (i - 1) // 2
            if heap[parent] <= heap[i]:
                break
            heap[parent], heap[i] = heap[i], heap[parent]
            i = parent
        return size + 1
    if value <= heap[0]:
        return size
    heap[0] = value
    i = 0
    while True:
        child = 2 * i + 1
        if child >= cap:
            break
        if child + 1 < cap and heap[child + 1] < heap[child]:
            child += 1
        if heap[i] <= heap[child]:
            break
        heap[i], heap[child] = heap[child], heap[i]
        i = child
    return size


@_jit
def _suffix_bounds(
    lo: Any, hi: Any, blk: Any, block_max: Any, idf: Any, count: Any, block: int
) -> tuple[Any, Any, Any]:
    """Per term its weight (query count x idf) and, from each of its blocks on, the
    largest block maximum to the end of its list (term ``i``'s at ``s_off[i]``)."""
    n = lo.size
    weight = np.empty(n, dtype=np.float64)
    n_blocks = np.empty(n, dtype=np.int64)
    s_off = np.zeros(n + 1, dtype=np.int64)
    for i in range(n):
        weight[i] = count[i] * idf[i]
        n_blocks[i] = (hi[i] - lo[i] + block - 1) // block
        s_off[i + 1] = s_off[i] + n_blocks[i]
    suffix = np.empty(s_off[n], dtype=np.float64)
    for i in range(n):
        best = 0.0
        for j in range(n_blocks[i] - 1, -1, -1):
            best = max(best, block_max[blk[i] + j])
            suffix[s_off[i] + j] = best
    return weight, s_off, suffix


@_jit
def _query_score(contrib: Any, query_slots: Any) -> float:
    """rank-bm25's sum: one addition per query token, in query order."""
    score = 0.0
    for q in range(query_slots.size):
        score += contrib[query_slots[q]]
    return score


@_jit
def _keep(out_docs: Any, out_scores: Any, n_out: int, doc: int, score: float) -> tuple[Any, Any]:
    """Store candidate ``n_out``, doubling the arrays when full."""
    if n_out == out_docs.size:
        out_docs = np.concatenate((out_docs, np.empty(n_out, dtype=np.int64)))
        out_scores = np.concatenate((out_scores, np.empty(n_out, dtype=np.float64)))
    out_docs[n_out] = doc
    out_scores[n_out] = score
    return out_docs, out_scores


@_jit
def _bounds(
    ub: Any, cur: Any, lo: Any, hi: Any, suffix: Any, s_off: Any, weight: Any, block: int
) -> None:
    """The most each term can still add, from its cursor on (it only falls)."""
    for i in range(ub.size):
        if cur[i] < hi[i]:
            ub[i] = weight[i] * suffix[s_off[i] + (cur[i] - lo[i]) // block]
        else:
            ub[i] = 0.0


@_jit
def _partition(
    order: Any,
    ub: Any,
    prefix: Any,
    cur: Any,
    hi: Any,
    theta: float,
    scratch: tuple[Any, Any, Any, Any, Any],
) -> int:
    """Choose the non-essential terms; returns how many, placed first in ``order``.

    Any set of terms whose bounds add up to less than theta will do. For a few
    terms every set is tried and the one leaving the fewest postings to walk is
    taken: a long list of a common term is often better probed than walked. With
    more terms, the classic choice: the cheapest terms by bound. Called often, so
    it allocates nothing and sums each set from a smaller one.
    """
    sums, walked, lowbit, skip, copy = scratch
    n = order.size
    # Insertion sort by bound: ``order`` is nearly sorted from the last call.
    for j in range(1, n):
        i = order[j]
        m = j - 1
        while m >= 0 and ub[order[m]] > ub[i]:
            order[m + 1] = order[m]
            m -= 1
        order[m + 1] = i
    for i in range(n):
        skip[i] = False
    if n <= _EXHAUSTIVE_TERMS:
        total = 0
        for i in range(n):
            total += hi[i] - cur[i]
        best = 0
        best_cost = total
        sums[0] = 0.0
        walked[0] = 0
        for mask in range(1, 1 << n):
            # A set's sums are those of the set without its lowest member, plus it.
            i = lowbit[mask]
            rest = mask & (mask - 1)
            sums[mask] = sums[rest] + ub[i]
            walked[mask] = walked[rest] + (hi[i] - cur[i])
            if sums[mask] * (1.0 + SLACK) < theta and total - walked[mask] < best_cost:
                best = mask
                best_cost = total - walked[mask]
        for i in range(n):
            skip[i] = (best >> i) & 1
    else:
        total_ub = 0.0
        for j in range(n):
            total_ub += ub[order[j]]
            if total_ub * (1.0 + SLACK) >= theta:
                break
            skip[order[j]] = True
    # Non-essential terms first, ascending by bound, so probing meets the largest
    # bounds first and can stop early; then the essential ones. Stable, so the
    # order stays nearly sorted for the next call.
    first = 0
    for j in range(n):
        if skip[order[j]]:
            first += 1
    a = 0
    b = first
    copy[:] = order
    for j in range(n):
        i = copy[j]
        if skip[i]:
            order[a] = i
            a += 1
        else:
            order[b] = i
            b += 1
    acc = 0.0
    for j in range(first):
        acc += ub[order[j]]
        prefix[j] = acc
    return first


@_jit
def _level(order: Any, first: int, cur: Any, hi: Any, post: Any, done: int) -> None:
    """Move essential cursors past ``done``: a list that was only probed may lag behind."""
    for j in range(first, order.size):
        i = order[j]
        cur[i] = _seek(post, cur[i], hi[i], done + 1)


@_jit
def block_max_search(
    post: Any,
    tf: Any,
    run_start: Any,
    run_k: Any,
    lo: Any,
    hi: Any,
    blk: Any,
    block_max: Any,
    idf: Any,
    count: Any,
    query_slots: Any,
    k1: float,
    k: int,
    block: int,
) -> tuple[Any, Any]:
    """Internal ids and exact scores of every document that may be in the top ``k``.

    Term ``i`` (a distinct query term) has postings ``post[lo[i]:hi[i]]`` in
    blocks starting at ``blk[i]``, weight ``idf[i]`` and ``count[i]`` query tokens;
    ``query_slots`` lists the term of each query token in order. The result holds
    the true top k, ties with the k-th score included; the caller ranks it.
    """
    n = lo.size
    weight, s_off, suffix = _suffix_bounds(lo, hi, blk, block_max, idf, count, block)

    cur = lo.copy()
    order = np.arange(n)
    ub = np.zeros(n, dtype=np.float64)
    prefix = np.zeros(n, dtype=np.float64)
    _bounds(ub, cur, lo, hi, suffix, s_off, weight, block)

    size = 1 << min(n, _EXHAUSTIVE_TERMS)
    lowbit = np.zeros(size, dtype=np.int64)  # mask -> index of its lowest set bit
    for mask in range(2, size):
        lowbit[mask] = 0 if mask & 1 else lowbit[mask >> 1] + 1
    scratch = (
        np.zeros(size, dtype=np.float64),
        np.zeros(size, dtype=np.int64),
        lowbit,
        np.zeros(n, dtype=np.bool_),
        np.zeros(n, dtype=np.int64),
    )
    contrib = np.zeros(n, dtype=np.float64)
    heap = np.empty(k, dtype=np.float64)
    heap_size = 0
    theta = 0.0
    first: Any = 0  # order[:first] are the non-essential terms
    out_docs = np.empty(64, dtype=np.int64)
    out_scores = np.empty(64, dtype=np.float64)
    n_out = 0
    steps = 0
    no_doc = np.iinfo(np.int64).max

    # K of a document from its run of equal K (documents come in increasing order):
    # reading a million-entry array at scattered documents stalled on cache misses.
    run = 0
    done: Any = np.int64(-1)  # every document up to this one has been dealt with
    while True:
        steps += 1
        if steps % _REFRESH_EVERY == 0:
            _bounds(ub, cur, lo, hi, suffix, s_off, weight, block)
            first = _partition(order, ub, prefix, cur, hi, theta, scratch)
            _level(order, first, cur, hi, post, done)
        doc: Any = no_doc
        for j in range(first, n):
            i = order[j]
            if cur[i] < hi[i] and post[cur[i]] < doc:
                doc = np.int64(post[cur[i]])
        if doc == no_doc:
            break

        done = doc

        while run_start[run + 1] <= doc:
            run += 1
        k_doc = run_k[run]
        for i in range(n):
            contrib[i] = 0.0
        partial = 0.0
        for j in range(first, n):
            i = order[j]
            c = cur[i]
            if c < hi[i] and post[c] == doc:
                f = np.float64(tf[c])
                contrib[i] = idf[i] * (f * (k1 + 1.0) / (f + k_doc))
                partial += count[i] * contrib[i]
                cur[i] = c + 1
        alive = True
        for j in range(first - 1, -1, -1):
            if (partial + prefix[j]) * (1.0 + SLACK) < theta:
                alive = False
                break
            i = order[j]
            c = _seek(post, cur[i], hi[i], doc)
            cur[i] = c
            if c < hi[i] and post[c] == doc:
                f = np.float64(tf[c])
                contrib[i] = idf[i] * (f * (k1 + 1.0) / (f + k_doc))
                partial += count[i] * contrib[i]
                cur[i] = c + 1
        if not alive:
            continue
        score = _query_score(contrib, query_slots)
        if score <= 0.0 or score < theta:
            continue
        out_docs, out_scores = _keep(out_docs, out_scores, n_out, doc, score)
        n_out += 1
        heap_size = _heap_push(heap, heap_size, score)
        if heap_size == k and heap[0] * (1.0 - SLACK) > theta:
            theta = heap[0] * (1.0 - SLACK)
            first = _partition(order, ub, prefix, cur, hi, theta, scratch)
            _level(order, first, cur, hi, post, done)

    keep = out_scores[:n_out] >= theta
    return out_docs[:n_out][keep], out_scores[:n_out][keep]


@_jit
def term_at_a_time(
    post: Any,
    tf: Any,
    run_start: Any,
    run_k: Any,
    lo: Any,
    hi: Any,
    idf: Any,
    query_slots: Any,
    k1: float,
    k: int,
    acc: Any,
) -> tuple[Any, Any]:
    """Internal ids and exact scores of the documents that may be in the top ``k``,
    from scoring every posting of the query, one query token at a time.

    For long queries (a passage's terms, when looking for other articles carrying
    its statements) this beats MaxScore: with dozens of terms it keeps many lists
    essential and pays per document for all of them, where adding up the postings
    term by term costs a few nanoseconds each. Adding each token's part in query
    order is rank-bm25's sum exactly (a document without the term skips adding 0.0).
    K is read from its runs as a list is walked (ids ascend along it); ``acc`` is
    zeroed scratch, left zeroed; every weight must be positive (a query term with
    negative idf is scored elsewhere).
    """
    total = 0
    for i in range(lo.size):
        total += hi[i] - lo[i]
    touched = np.empty(min(total, acc.size), dtype=np.int64)
    n_touched = 0
    for q in range(query_slots.size):
        i = query_slots[q]
        w = idf[i]
        run = 0
        for p in range(lo[i], hi[i]):
            d = post[p]
            while run_start[run + 1] <= d:
                run += 1
            if acc[d] == 0.0:
                touched[n_touched] = d
                n_touched += 1
            f = np.float64(tf[p])
            acc[d] += w * (f * (k1 + 1.0) / (f + run_k[run]))
    heap = np.empty(max(k, 1), dtype=np.float64)
    size = 0
    for j in range(n_touched):
        size = _heap_push(heap, size, acc[touched[j]])
    theta = heap[0] if size == heap.size else 0.0
    n_out = 0
    for j in range(n_touched):
        if acc[touched[j]] >= theta:
            n_out += 1
    out_docs = np.empty(n_out, dtype=np.int64)
    out_scores = np.empty(n_out, dtype=np.float64)
    n_out = 0
    for j in range(n_touched):
        d = touched[j]
        if acc[d] >= theta:
            out_docs[n_out] = d
            out_scores[n_out] = acc[d]
            n_out += 1
        acc[d] = 0.0
    return out_docs, out_scores


# Bitmap search: documents per word of a bitmap, words per chunk the bounds are refreshed for.
_WORD = 64
_CHUNK_WORDS = 128
# Up to this many distinct terms the bitmap search is used (it walks sets of terms).
BITMAP_TERMS = 8


@_jit
def fill_bitmaps(post: Any, lo: Any, hi: Any, bits: Any, before: Any) -> None:
    """Row ``r`` of ``bits``: bit ``d`` set for each document of ``post[lo[r]:hi[r]]``;
    ``before[r, w]``: how many of them come before word ``w``."""
    for r in range(lo.size):
        for c in range(lo[r], hi[r]):
            d = np.int64(post[c])
            bits[r, d >> 6] |= np.int64(1) << (d & 63)
        total = 0
        for w in range(bits.shape[1]):
            before[r, w] = total
            total += _popcount(bits[r, w])


@_jit
def _popcount(x: Any) -> int:
    v = np.uint64(x)
    v = v - ((v >> np.uint64(1)) & np.uint64(0x5555555555555555))
    v = (v & np.uint64(0x3333333333333333)) + ((v >> np.uint64(2)) & np.uint64(0x3333333333333333))
    v = (v + (v >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return int((v * np.uint64(0x0101010101010101)) >> np.uint64(56))


@_jit
def _lowest_bit(x: Any) -> int:
    b = 0
    while (x & np.int64(0xFFFF)) == 0:
        x = x >> 16
        b += 16
    while (x & 1) == 0:
        x = x >> 1
        b += 1
    return b


@_jit
def _term_sets(
    cand: Any,
    acc: Any,
    words: Any,
    nw: int,
    order: Any,
    ub: Any,
    rest: Any,
    theta: float,
    stack: Any,
) -> None:
    """The documents (``nw`` words of them) that hold some set of terms whose bounds
    reach theta, OR-ed into ``cand``; ``words[i]`` are term ``i``'s.

    Depth first over the terms, largest bound first: a set that reaches theta adds
    the documents holding all of it; a branch ends once its bounds and all the
    smaller ones together fall short, or no document holds all of it.
    """
    n = order.size
    for w in range(nw):
        acc[0, w] = -1
    stack_j, stack_level, stack_sum = stack
    stack_j[0] = 0
    stack_level[0] = 0
    stack_sum[0] = 0.0
    sp = 1
    while sp:
        sp -= 1
        j = stack_j[sp]
        level = stack_level[sp]
        total = stack_sum[sp]
        while True:
            if total > 0.0 and total * (1.0 + SLACK) >= theta:
                for w in range(nw):
                    cand[w] |= acc[level, w]
                break
            if j == n or (total + rest[j]) * (1.0 + SLACK) < theta:
                break
            # Later: the same set without term order[j].
            stack_j[sp] = j + 1
            stack_level[sp] = level
            stack_sum[sp] = total
            sp += 1
            t = order[j]
            left = np.int64(0)
            for w in range(nw):
                v = acc[level, w] & words[t, w]
                acc[level + 1, w] = v
                left |= v
            if left == 0:
                break
            level += 1
            total += ub[order[j]]
            j += 1


@_jit
def bitmap_search(
    post: Any,
    tf: Any,
    run_start: Any,
    run_k: Any,
    lo: Any,
    hi: Any,
    blk: Any,
    block_max: Any,
    idf: Any,
    count: Any,
    query_slots: Any,
    k1: float,
    k: int,
    block: int,
    bits: Any,
    before: Any,
    brow: Any,
    scratch: Any,
) -> tuple[Any, Any]:
    """As :func:`block_max_search`, choosing candidates from term bitmaps.

    Term ``i``'s documents are row ``brow[i]`` of ``bits`` (``before``: see
    :func:`fill_bitmaps`; a posting's place is counted, not searched), or (``brow[i] < 0``) are
    set in a row of ``scratch`` for this query and cleared after. Chunk by chunk of
    documents, the candidates are the documents holding a set of terms whose
    bounds reach theta; only they are scored, exactly. MaxScore instead visits
    every document of the lists it cannot rule out as a whole, most of which turn
    out to hold too few of the terms.
    """
    n = lo.size
    n_docs = run_start[run_start.size - 1]
    n_words = (n_docs + _WORD - 1) // _WORD
    weight, s_off, suffix = _suffix_bounds(lo, hi, blk, block_max, idf, count, block)
    srow = np.full(n, -1, dtype=np.int64)
    used = 0
    for i in range(n):
        if brow[i] < 0:
            srow[i] = used
            used += 1
            for c in range(lo[i], hi[i]):
                d = np.int64(post[c])
                scratch[srow[i], d >> 6] |= np.int64(1) << (d & 63)

    words = np.empty((n, _CHUNK_WORDS), dtype=np.int64)  # this chunk's, per term
    stack = (
        np.empty(n + 1, dtype=np.int64),
        np.empty(n + 1, dtype=np.int64),
        np.empty(n + 1, dtype=np.float64),
    )
    acc = np.empty((n + 1, _CHUNK_WORDS), dtype=np.int64)
    cand = np.empty(_CHUNK_WORDS, dtype=np.int64)
    order = np.arange(n)
    rest = np.zeros(n + 1, dtype=np.float64)
    cur = lo.copy()
    ub = np.zeros(n, dtype=np.float64)
    contrib = np.zeros(n, dtype=np.float64)
    heap = np.empty(k, dtype=np.float64)
    heap_size = 0
    theta = 0.0
    out_docs = np.empty(64, dtype=np.int64)
    out_scores = np.empty(64, dtype=np.float64)
    n_out = 0
    run = 0
    chunk = 1  # words; doubled up to _CHUNK_WORDS while theta is still low
    w0 = 0
    while w0 < n_words:
        nw = min(chunk, n_words - w0)
        chunk = min(2 * chunk, _CHUNK_WORDS)
        # Bounds from each cursor (the last document scored for the term, so it may
        # lag behind: its bound is then looser, never too low).
        _bounds(ub, cur, lo, hi, suffix, s_off, weight, block)
        for j in range(1, n):
            t = order[j]
            m = j - 1
            while m >= 0 and ub[order[m]] < ub[t]:
                order[m + 1] = order[m]
                m -= 1
            order[m + 1] = t
        rest[n] = 0.0
        for j in range(n - 1, -1, -1):
            rest[j] = rest[j + 1] + ub[order[j]]
        if rest[0] <= 0.0 or rest[0] * (1.0 + SLACK) < theta:
            break  # bounds only fall and theta only rises: no later document can enter
        for i in range(n):
            if brow[i] >= 0:
                for w in range(nw):
                    words[i, w] = bits[brow[i], w0 + w]
            else:
                for w in range(nw):
                    words[i, w] = scratch[srow[i], w0 + w]
        for w in range(nw):
            cand[w] = 0
        _term_sets(cand, acc, words, nw, order, ub, rest, theta, stack)
        for w in range(nw):
            word = cand[w]
            while word:
                b = _lowest_bit(word)
                word &= word - 1
                doc = (w0 + w) * _WORD + b
                while run_start[run + 1] <= doc:
                    run += 1
                k_doc = run_k[run]
                below = (np.int64(1) << b) - 1
                for i in range(n):
                    contrib[i] = 0.0
                    if (words[i, w] >> b) & 1:
                        if brow[i] >= 0:
                            r = brow[i]
                            c = lo[i] + before[r, w0 + w] + _popcount(words[i, w] & below)
                        else:
                            c = _seek(post, cur[i], hi[i], doc)
                        cur[i] = c + 1
                        f = np.float64(tf[c])
                        contrib[i] = idf[i] * (f * (k1 + 1.0) / (f + k_doc))
                score = _query_score(contrib, query_slots)
                if score <= 0.0 or score < theta:
                    continue
                out_docs, out_scores = _keep(out_docs, out_scores, n_out, doc, score)
                n_out += 1
                heap_size = _heap_push(heap, heap_size, score)
                if heap_size == k and heap[0] * (1.0 - SLACK) > theta:
                    theta = heap[0] * (1.0 - SLACK)
        w0 += nw
    for i in range(n):
        if brow[i] < 0:
            for c in range(lo[i], hi[i]):
                scratch[srow[i], np.int64(post[c]) >> 6] = 0
    keep = out_scores[:n_out] >= theta
    return out_docs[:n_out][keep], out_scores[:n_out][keep]


def search(
    post: npt.NDArray[Any],
    tf: npt.NDArray[Any],
    run_start: npt.NDArray[np.int64],
    run_k: npt.NDArray[np.float64],
    lo: npt.NDArray[np.int64],
    hi: npt.NDArray[np.int64],
    blk: npt.NDArray[np.int64],
    block_max: npt.NDArray[np.float64],
    idf: npt.NDArray[np.float64],
    count: npt.NDArray[np.float64],
    query_slots: npt.NDArray[np.int64],
    k1: float,
    k: int,
    block: int,
    bitmaps: tuple[Any, Any, npt.NDArray[np.int64], npt.NDArray[np.int64]] | None = None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Typed entry point; see :func:`block_max_search` and :func:`bitmap_search`.

    ``bitmaps``: the stored bitmaps and their counts (see :func:`fill_bitmaps`),
    each query term's row in them (-1: none) and scratch rows (zeroed, at least one
    per other term) for the others. Given, the bitmap search runs (callers give
    them for queries of up to ``BITMAP_TERMS`` distinct terms); else MaxScore.
    """
    args = (
        post,
        tf,
        run_start,
        run_k,
        lo,
        hi,
        blk,
        block_max,
        idf,
        count,
        query_slots,
        float(k1),
        int(k),
        int(block),
    )
    if bitmaps is not None:
        bits, before, brow, scratch = bitmaps
        if scratch.shape[0] < np.count_nonzero(brow < 0):
            raise ValueError("fewer scratch rows than query terms without a bitmap")
        docs, scores = bitmap_search(*args, bits, before, brow, scratch)
    else:
        docs, scores = block_max_search(*args)
    return docs, scores


_compiled: set[tuple[str, str]] = set()
_compiling: dict[tuple[str, str], threading.Thread] = {}
_lock = threading.Lock()


def _key(post: npt.NDArray[Any], tf: npt.NDArray[Any]) -> tuple[str, str]:
    return (post.dtype.str, tf.dtype.str)


def ready(post: npt.NDArray[Any], tf: npt.NDArray[Any]) -> bool:
    """Whether the search is compiled for these postings' types."""
    return _key(post, tf) in _compiled


def prepare(post: npt.NDArray[Any], tf: npt.NDArray[Any], *, wait: bool) -> None:
    """Compile the search for these types: now, or in a background thread."""
    key = _key(post, tf)
    with _lock:
        if key in _compiled:
            return
        thread = _compiling.get(key)
        if thread is None:
            thread = threading.Thread(
                target=_compile, args=(post.dtype, tf.dtype), name="topk-compile", daemon=True
            )
            _compiling[key] = thread
            thread.start()
    if wait:
        thread.join()


def _compile(post_dtype: np.dtype[Any], tf_dtype: np.dtype[Any]) -> None:
    # One search over a one-posting list compiles every function it calls.
    one = np.zeros(1, dtype=np.int64)
    post = np.zeros(1, dtype=post_dtype)
    bits = np.zeros((1, 1), dtype=np.int64)
    before = np.zeros((1, 1), dtype=np.int32)
    fill_bitmaps(post, one * 0, one + 1, bits, before)
    for bitmaps in (None, (bits, before, one * 0, bits), (bits, before, one - 1, bits)):
        search(
            post,
            np.ones(1, dtype=tf_dtype),
            np.array([0, 1], dtype=np.int64),
            np.ones(1, dtype=np.float64),
            one * 0,
            one + 0 + 1,
            one * 0,
            np.ones(1, dtype=np.float64),
            np.ones(1, dtype=np.float64),
            np.ones(1, dtype=np.float64),
            one * 0,
            1.2,
            1,
            64,
            bitmaps,
        )
    term_at_a_time(
        post,
        np.ones(1, dtype=tf_dtype),
        np.array([0, 1], dtype=np.int64),
        np.ones(1, dtype=np.float64),
        one * 0,
        one + 1,
        np.ones(1, dtype=np.float64),
        one * 0,
        1.2,
        1,
        np.zeros(1, dtype=np.float64),
    )
    with _lock:
        _compiled.add((np.dtype(post_dtype).str, np.dtype(tf_dtype).str))
        _compiling.pop((np.dtype(post_dtype).str, np.dtype(tf_dtype).str), None)
