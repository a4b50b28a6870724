"""One benchmark measurement in a fresh process (``python -m knowledge.evaluation.bench_worker``).

Reads a JSON task on stdin, prints progress on stderr and one JSON result line
on stdout. A fresh process per measurement keeps memory figures honest: peak
and resident memory are read from /proc/self/status (VmHWM reset through
/proc/self/clear_refs) as deltas over the process before the measured step.

Tasks:
* ``build``: build the index, save it, time top-5 queries.
* ``load``: load that saved index the way a start does, time the same queries.
* ``baseline``: build rank-bm25's BM25Okapi, time ``get_scores`` + top-5 on the
  first queries, and check its rankings against the saved index.
"""

from __future__ import annotations

import gc
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rank_bm25 import BM25Okapi

from knowledge.evaluation.bench_corpus import BenchCorpus, beir_corpus, synthetic_corpus
from knowledge.retrieval.index import Bm25Index, Bm25Params

TOP = 5


def main() -> int:
    task = json.loads(sys.stdin.read())
    kind = task["task"]
    if kind == "load":
        result = _load(task)
    else:
        corpus = _corpus(task)
        result = _build(task, corpus) if kind == "build" else _baseline(task, corpus)
    print(json.dumps(result), flush=True)
    return 0


def _say(line: str) -> None:
    print(f"  {line}", file=sys.stderr, flush=True)


def _corpus(task: dict[str, Any]) -> BenchCorpus:
    size, n_queries = int(task["size"]), int(task["queries"])
    _say(f"generating {size:,} passages ({task['source']})")
    if task["source"] == "beir":
        corpus = beir_corpus(Path(task["beir_dir"]), size, n_queries)
        if corpus is not None:
            return corpus
        _say(f"{task['beir_dir']} has fewer than {size:,} passages: synthetic text instead")
    return synthetic_corpus(size, n_queries, seed=int(task.get("seed", 0)))


def _build(task: dict[str, Any], corpus: BenchCorpus) -> dict[str, Any]:
    mem = _Memory()
    started = time.perf_counter()
    index = Bm25Index(corpus.passages, Bm25Params(), progress=_say)
    build_s = time.perf_counter() - started
    peak, resident = mem.peak(), mem.now()
    path = Path(task["index_path"])
    started = time.perf_counter()
    index.save(path)
    save_s = time.perf_counter() - started
    Path(task["queries_path"]).write_text(json.dumps(corpus.queries), encoding="utf-8")
    compile_s = _prepare(index)
    _say(f"timing {len(corpus.queries):,} queries")
    lat, times = _latencies(lambda q: index.top_k(q, TOP), corpus.queries)
    common = [sum(index.doc_freq(t) > index.n_docs / 10 for t in q) for q in corpus.queries]
    return {
        "source": corpus.source,
        "docs": index.n_docs,
        "terms": index.n_terms,
        "postings": index.n_postings,
        "build_s": build_s,
        "peak_mb": peak,
        "resident_mb": resident,
        "array_mb": index.nbytes / 2**20,
        "save_s": save_s,
        "file_mb": path.stat().st_size / 2**20,
        "compile_s": compile_s,
        **lat,
        # Latency by how many query terms are in over 10% of the passages.
        "by_common_terms": _by_group(common, times),
    }


def _load(task: dict[str, Any]) -> dict[str, Any]:
    queries = json.loads(Path(task["queries_path"]).read_text(encoding="utf-8"))
    # numba and its compiler take ~150 MB however small the index: counted on their
    # own ("runtime MB"), not as the index's memory.
    runtime = _Memory()
    Bm25Index([["warm", "up"], ["up"]]).prepare(wait=True)
    runtime_mb = runtime.now()
    mem = _Memory()
    started = time.perf_counter()
    index = Bm25Index.load(Path(task["index_path"]))
    load_s = time.perf_counter() - started
    compile_s = _prepare(index)
    lat, _ = _latencies(lambda q: index.top_k(q, TOP), queries)
    # After the queries: the per-thread scratch arrays (and the compiled search)
    # count as resident too.
    return {
        "load_s": load_s,
        "compile_s": compile_s,
        "runtime_mb": runtime_mb,
        "resident_mb": mem.now(),
        "peak_mb": mem.peak(),
        **lat,
    }


def _prepare(index: Bm25Index) -> float:
    """Compile the search before timing it (a cached compile loads in a fraction of a second)."""
    started = time.perf_counter()
    index.prepare(wait=True)
    return time.perf_counter() - started


def _baseline(task: dict[str, Any], corpus: BenchCorpus) -> dict[str, Any]:
    queries = corpus.queries[: int(task["baseline_queries"])]
    result, full_scores = _time_rank_bm25(corpus.passages, queries)
    _say("checking rankings against the saved index")
    index = Bm25Index.load(Path(task["index_path"]))
    index.prepare(wait=True)
    # The scores are bit-for-bit rank-bm25's, so with ties broken by index the
    # top-5 lists must be identical.
    mismatches = sum(
        1
        for q, scores in zip(queries, full_scores, strict=True)
        if index.top_k(q, TOP) != _reference_top(scores)
    )
    return {**result, "queries_checked": len(queries), "mismatches": mismatches}


def _time_rank_bm25(
    passages: list[list[str]], queries: list[list[str]]
) -> tuple[dict[str, Any], list[np.ndarray]]:
    """Build BM25Okapi and time its searches; also every score, for the ranking check."""
    mem = _Memory()
    started = time.perf_counter()
    p = Bm25Params()
    bm25 = BM25Okapi(passages, k1=p.k1, b=p.b, epsilon=p.epsilon)
    build_s = time.perf_counter() - started
    peak, resident = mem.peak(), mem.now()
    _say(f"timing {len(queries):,} rank-bm25 queries")
    full_scores: list[np.ndarray] = []

    def search(query: Sequence[str]) -> np.ndarray:
        # What a caller of rank-bm25 does: every score, then the best five.
        scores = np.asarray(bm25.get_scores(list(query)))
        full_scores.append(scores)
        top = np.argpartition(-scores, TOP)[:TOP] if scores.size > TOP else np.arange(scores.size)
        return top[np.argsort(-scores[top], kind="stable")]

    lat, _ = _latencies(search, queries, warmup=0)
    return {"build_s": build_s, "peak_mb": peak, "resident_mb": resident, **lat}, full_scores


def _reference_top(scores: np.ndarray) -> list[tuple[int, float]]:
    order = np.lexsort((np.arange(scores.size), -scores))[:TOP]
    return [(int(i), float(scores[i])) for i in order]


def _latencies(
    search: Callable[[Sequence[str]], object], queries: list[list[str]], warmup: int = 20
) -> tuple[dict[str, Any], list[float]]:
    """Summary of one timed run of every query, and each query's milliseconds."""
    for q in queries[:warmup]:
        search(q)
    times = []
    for q in queries:
        started = time.perf_counter()
        search(q)
        times.append(time.perf_counter() - started)
    ms = np.array(times) * 1000
    summary = {
        "queries": len(queries),
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "p99_ms": float(np.percentile(ms, 99)),
        "mean_ms": float(ms.mean()),
    }
    return summary, ms.tolist()


def _by_group(groups: list[int], times_ms: list[float]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for group in sorted(set(groups)):
        ms = np.array([t for g, t in zip(groups, times_ms, strict=True) if g == group])
        out[str(group)] = {
            "queries": int(ms.size),
            "p50_ms": float(np.percentile(ms, 50)),
            "p95_ms": float(np.percentile(ms, 95)),
        }
    return out


class _Memory:
    """RSS and peak RSS (MiB) of this process since construction."""

    def __init__(self) -> None:
        gc.collect()
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self.resettable = True
        except OSError:
            self.resettable = False
        self.base = proc_status("VmRSS")

    def now(self) -> float:
        gc.collect()
        return (proc_status("VmRSS") - self.base) / 1024

    def peak(self) -> float | None:
        return (proc_status("VmHWM") - self.base) / 1024 if self.resettable else None


def proc_status(field: str) -> int:
    """A /proc/self/status field in KiB (0 where /proc is missing)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
