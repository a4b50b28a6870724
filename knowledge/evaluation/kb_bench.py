"""The knowledge-base benchmark's measurements, each in a fresh process
(``python -m knowledge.evaluation.kb_bench TASK`` reads a JSON task on stdin and
prints one JSON result line; progress goes to stderr).

A knowledge base of N articles is written from a BEIR corpus: document ``i % len``
as ``<id>-<i // len>.txt`` (title, blank line, text), so a corpus repeats with
distinct ids, as a large knowledge base of similar articles would. Tasks:

* ``build``: the first load with an empty data directory (read, clean, analyse,
  index, store): seconds, peak and resident memory of the process, and of the
  largest analysis worker.
* ``warm``: a start that finds everything stored; then ``KnowledgeBase.answer`` over
  the corpus's queries (refusal rules and corroboration included), a warm
  ``check_kb_dir``, and reloads after editing, adding and removing one article.
* ``tantivy``: the anchor, when the optional ``tantivy`` package is installed: its
  index of the same articles built, opened and queried, one document added.
"""

from __future__ import annotations

import gc
import json
import resource
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.evaluation.bench_worker import proc_status
from knowledge.service import KnowledgeBase, check_kb_dir

EDIT_TEXT = "\nThe authors add that vitamin D levels were measured twice in every participant.\n"
ADDED_NAME = "bench-added-article.txt"
ADDED_TEXT = (
    "Vitamin D supplements and bone density\n\n"
    "Vitamin D supplements taken for two years raised bone density in older adults, a "
    "randomised trial of 900 participants found. The effect was largest in those with the "
    "lowest levels at the start.\n"
)


def write_kb(beir_dir: Path, kb_dir: Path, n_articles: int) -> int:
    """Write ``n_articles`` article files from the corpus; returns how many it holds."""
    docs = []
    with (beir_dir / "corpus.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)
            docs.append((str(doc["_id"]), str(doc.get("title") or ""), str(doc.get("text") or "")))
    if not docs:
        raise ValueError(f"{beir_dir}: empty corpus")
    if kb_dir.exists():
        shutil.rmtree(kb_dir)
    kb_dir.mkdir(parents=True)
    for i in range(n_articles):
        doc_id, title, text = docs[i % len(docs)]
        name = f"{_safe(doc_id)}-{i // len(docs)}.txt"
        (kb_dir / name).write_text(f"{title}\n\n{text}\n", encoding="utf-8")
    return len(docs)


def questions(beir_dir: Path, n: int) -> list[str]:
    out = []
    with (beir_dir / "queries.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            text = str(json.loads(line).get("text") or "").strip()
            if text:
                out.append(text)
            if len(out) >= n:
                break
    return out


def _safe(doc_id: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in doc_id) or "doc"


def main() -> int:
    task = json.loads(sys.stdin.read())
    result = TASKS[task["task"]](task)
    print(json.dumps(result), flush=True)
    return 0


def _build(task: dict[str, Any]) -> dict[str, Any]:
    kb_dir, data_dir = Path(task["kb_dir"]), Path(task["data_dir"])
    mem = _Memory()
    _say("first build")
    started = time.perf_counter()
    kb = KnowledgeBase.load(kb_dir, data_dir=data_dir, loaded_by="bench")
    seconds = time.perf_counter() - started
    snap = kb.snapshot
    return {
        "articles": len(snap.contents.doc_ids),
        "passages": snap.contents.n_passages,
        "tokens": int(snap.contents.tokens.size),
        "postings": snap.index.n_postings,
        "skipped": len(snap.skipped),
        "first_build_s": seconds,
        "peak_mb": mem.peak(),
        "resident_mb": mem.now(),
        "worker_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "stored_mb": _size_mb(data_dir),
    }


def _warm(task: dict[str, Any]) -> dict[str, Any]:
    kb_dir, data_dir = Path(task["kb_dir"]), Path(task["data_dir"])
    asked = questions(Path(task["beir_dir"]), int(task["questions"]))
    mem = _Memory()
    _say("warm start")
    started = time.perf_counter()
    kb = KnowledgeBase.load(kb_dir, data_dir=data_dir, loaded_by="bench")
    warm_s = time.perf_counter() - started
    resident_start = mem.now()
    # The compiled search loads from numba's cache in the background; wait for it, as
    # a server does long before its first questions.
    kb.snapshot.index.prepare(wait=True)
    _say(f"answering {len(asked)} questions")
    for q in asked[:20]:
        kb.answer(q)
    times, answered = [], 0
    for q in asked:
        t = time.perf_counter()
        answer = kb.answer(q)
        times.append((time.perf_counter() - t) * 1000)
        answered += answer.answered
    resident_answers = mem.now()
    _say("kb check (warm)")
    t = time.perf_counter()
    problems = check_kb_dir(kb_dir, data_dir=data_dir)
    check_s = time.perf_counter() - t
    reloads = _reloads(kb, kb_dir)
    ms = np.array(times)
    return {
        "warm_start_s": warm_s,
        "resident_start_mb": resident_start,
        "resident_mb": resident_answers,
        "resident_after_reloads_mb": mem.now(),
        "answer_p50_ms": float(np.percentile(ms, 50)),
        "answer_p95_ms": float(np.percentile(ms, 95)),
        "answer_p99_ms": float(np.percentile(ms, 99)),
        "questions": len(asked),
        "answered": answered,
        "check_s": check_s,
        "check_problems": len(problems),
        **reloads,
    }


def _reloads(kb: KnowledgeBase, kb_dir: Path) -> dict[str, Any]:
    """Reload after editing one article, adding one and removing it again."""
    target = sorted(p for p in kb_dir.iterdir() if p.suffix == ".txt")[
        len(kb.snapshot.articles) // 2
    ]
    out: dict[str, Any] = {}

    def timed(name: str, change: Callable[[], object], expect: str) -> None:
        change()
        _say(f"reload after {name}")
        t = time.perf_counter()
        result = kb.reload(by="bench")
        out[f"reload_{name}_s"] = time.perf_counter() - t
        if len(getattr(result, expect)) != 1:
            raise RuntimeError(f"reload after {name}: {result}")

    timed("edit", lambda: _append(target, EDIT_TEXT), "changed")
    timed("add", lambda: (kb_dir / ADDED_NAME).write_text(ADDED_TEXT, encoding="utf-8"), "added")
    timed("remove", (kb_dir / ADDED_NAME).unlink, "removed")
    return out


def _append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(text)


def _tantivy(task: dict[str, Any]) -> dict[str, Any]:
    try:
        import tantivy  # noqa: PLC0415  (the optional anchor)
    except ImportError:
        return {"available": False}
    kb_dir, index_dir = Path(task["kb_dir"]), Path(task["index_dir"])
    if index_dir.exists():
        shutil.rmtree(index_dir)
    index_dir.mkdir(parents=True)
    schema_builder = tantivy.SchemaBuilder()
    schema_builder.add_text_field("doc_id", stored=True)
    schema_builder.add_text_field("title", stored=True)
    schema_builder.add_text_field("body", stored=True)
    schema = schema_builder.build()
    files = sorted(kb_dir.glob("*.txt"))
    started = time.perf_counter()
    index = tantivy.Index(schema, path=str(index_dir))
    writer = index.writer()
    for path in files:
        title, _, body = path.read_text(encoding="utf-8").partition("\n\n")
        writer.add_document(tantivy.Document(doc_id=path.stem, title=title, body=body))
    writer.commit()
    writer.wait_merging_threads()  # releases the index lock
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    opened = tantivy.Index.open(str(index_dir))
    opened.reload()
    searcher = opened.searcher()
    query = opened.parse_query("vitamin D bone density", ["title", "body"])
    searcher.search(query, 5)
    open_s = time.perf_counter() - started
    started = time.perf_counter()
    writer = opened.writer()
    title, _, body = ADDED_TEXT.partition("\n\n")
    writer.add_document(tantivy.Document(doc_id="added", title=title, body=body))
    writer.commit()
    writer.wait_merging_threads()
    opened.reload()
    opened.searcher().search(query, 5)
    add_s = time.perf_counter() - started
    return {"available": True, "build_s": build_s, "open_query_s": open_s, "add_one_s": add_s}


TASKS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "build": _build,
    "warm": _warm,
    "tantivy": _tantivy,
}


def _say(line: str) -> None:
    print(f"  {line}", file=sys.stderr, flush=True)


def _size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


class _Memory:
    """RSS and peak RSS (MiB) of this process, absolute (what the process holds)."""

    def __init__(self) -> None:
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self.resettable = True
        except OSError:
            self.resettable = False

    def now(self) -> float:
        gc.collect()
        return proc_status("VmRSS") / 1024

    def peak(self) -> float | None:
        return proc_status("VmHWM") / 1024 if self.resettable else None


if __name__ == "__main__":
    raise SystemExit(main())
