"""Compiled steps of building a large index (see :class:`knowledge.retrieval.index.Bm25Index`).

Numbering a million passages' tokens through a Python dict costs ~300 ns a token on
these machines: the dictionary outgrows the caches and each lookup waits on memory
in turn. Two steps here replace most of that:

* :func:`number_objects` numbers the distinct string *objects* of the corpus by
  their addresses, in a compiled hash table whose lookups overlap. The tokenizer
  hands out one object per distinct term (it caches its stems), so Python then
  numbers a vocabulary's worth of strings, not every token.
* :func:`count_postings` and :func:`fill_postings` lay the postings out by term
  and by internal document in two linear passes, where sorting every
  (term, document) key took seconds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from knowledge.retrieval.compiled.jit import jit

_GOLDEN: Any = np.uint64(0x9E3779B97F4A7C15)
_EMPTY: Any = np.int64(-1)


@jit
def _slot(addr: Any, bits: int) -> int:
    # Objects are 16-byte aligned; a multiplicative hash spreads the rest.
    mixed = np.uint64(addr >> 4) * _GOLDEN
    return int(np.int64(mixed >> np.uint64(64 - bits)))


@jit
def number_objects(
    addr: Any, offset: int, number: Any, table: Any, first: Any, count: int
) -> tuple[Any, int]:
    """Number the distinct values of ``addr`` in order of first appearance.

    Continues a numbering: ``table`` (pairs of value and number, -1 where empty)
    and ``count`` come from the previous call, ``addr`` holds entries
    ``offset:offset + addr.size`` of the whole sequence. Writes each entry's number
    to ``number`` and each new number's first entry to ``first``. Returns the table
    (grown when half full) and the new count, or -1 once ``first`` is full, so the
    caller can take another way.
    """
    bits = 0
    while (2 << bits) < table.size:
        bits += 1
    mask = (1 << bits) - 1
    for i in range(addr.size):
        a = addr[i]
        s = _slot(a, bits)
        while True:
            key = table[2 * s]
            if key == a:
                number[i] = table[2 * s + 1]
                break
            if key == _EMPTY:
                if count == first.size:
                    return table, -1
                table[2 * s] = a
                table[2 * s + 1] = count
                number[i] = count
                first[count] = offset + i
                count += 1
                if 2 * count > mask + 1:
                    # Grow at half full: linear probing stays short.
                    table = _rehash(table, bits + 1)
                    bits += 1
                    mask = (1 << bits) - 1
                break
            s = (s + 1) & mask
    return table, count


@jit
def _rehash(table: Any, bits: int) -> Any:
    grown = np.full(2 << bits, _EMPTY, dtype=np.int64)
    mask = (1 << bits) - 1
    for j in range(0, table.size, 2):
        if table[j] != _EMPTY:
            t = _slot(table[j], bits)
            while grown[2 * t] != _EMPTY:
                t = (t + 1) & mask
            grown[2 * t] = table[j]
            grown[2 * t + 1] = table[j + 1]
    return grown


def new_table() -> Any:
    """An empty table for :func:`number_objects`."""
    return np.full(2 << 12, _EMPTY, dtype=np.int64)


@jit
def count_postings(
    tok: Any, term_of: Any, doc_start: Any, order: Any, lo: int, hi: int, n_terms: int
) -> tuple[Any, int]:
    """Documents holding each term (df) and the largest term frequency, over
    internal documents ``lo:hi``.

    Token ``i`` is term ``term_of[tok[i]]``; original document ``d`` holds tokens
    ``doc_start[d]:doc_start[d + 1]``; internal document ``j`` is ``order[j]``.
    """
    df = np.zeros(n_terms, dtype=np.int64)
    seen = np.full(n_terms, -1, dtype=np.int64)
    run = np.zeros(n_terms, dtype=np.int64)
    max_tf = 0
    for j in range(lo, hi):
        d = order[j]
        for i in range(doc_start[d], doc_start[d + 1]):
            t = term_of[tok[i]]
            if seen[t] != j:
                seen[t] = j
                run[t] = 1
                df[t] += 1
            else:
                run[t] += 1
            max_tf = max(max_tf, run[t])
    return df, max_tf


@jit
def fill_postings(
    tok: Any,
    term_of: Any,
    doc_start: Any,
    order: Any,
    lo: int,
    hi: int,
    start: Any,
    post: Any,
    tf: Any,
) -> None:
    """Write the postings of internal documents ``lo:hi`` (ids ascending per term),
    term ``t``'s first at ``start[t]``."""
    fill = start.copy()
    seen = np.full(start.size, -1, dtype=np.int64)
    for j in range(lo, hi):
        d = order[j]
        for i in range(doc_start[d], doc_start[d + 1]):
            t = term_of[tok[i]]
            if seen[t] != j:
                seen[t] = j
                post[fill[t]] = j
                tf[fill[t]] = 1
                fill[t] += 1
            else:
                tf[fill[t] - 1] += 1


@jit
def first_seen(tokens: Any, n_ids: int) -> Any:
    """The distinct values of ``tokens`` (ids below ``n_ids``) in order of first appearance."""
    seen = np.zeros(n_ids, dtype=np.bool_)
    out = np.empty(n_ids, dtype=np.int64)
    count = 0
    for i in range(tokens.size):
        t = tokens[i]
        if not seen[t]:
            seen[t] = True
            out[count] = t
            count += 1
    return out[:count]
