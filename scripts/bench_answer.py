"""Latency of ``KnowledgeBase.answer`` over a question set, on this machine.

Loads the knowledge base once, then asks every question of the set (answerable and
must-refuse alike) ``--rounds`` times, in order, timing each call on its own; reports
the median, p95 and max per call and the start-up costs (knowledge-base load, and the
first answer, which pays for anything loaded lazily).

    .venv/bin/python scripts/bench_answer.py [--questions tests/knowledge/questions.toml]
                                              [--rounds 20] [--kb DIR]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

from knowledge.evalset import load_question_set
from knowledge.service import KnowledgeBase


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {len(os.sched_getaffinity(0))} CPUs, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=Path, default=Path("tests/knowledge/questions.toml"))
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--kb", type=Path, default=None, help="knowledge-base directory")
    args = parser.parse_args()

    qset = load_question_set(args.questions)
    texts = [q.text for q in qset.questions] + [r.text for r in qset.refusals]
    started = time.perf_counter()
    kb = KnowledgeBase.load(args.kb)
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    kb.answer(texts[0])
    first_s = time.perf_counter() - started

    calls: list[float] = []
    for _ in range(args.rounds):
        for text in texts:
            t0 = time.perf_counter()
            kb.answer(text)
            calls.append(time.perf_counter() - t0)
    ms = [c * 1000 for c in calls]
    print(f"machine: {machine()}")
    print(f"knowledge base: {len(kb.snapshot.passages)} passages, load {load_s * 1000:.1f} ms")
    print(f"first answer: {first_s * 1000:.2f} ms")
    print(
        f"KnowledgeBase.answer over {len(texts)} questions x {args.rounds} rounds "
        f"(n={len(ms)}): median {statistics.median(ms):.3f} ms  p95 {pct(ms, 0.95):.3f} ms  "
        f"max {max(ms):.3f} ms"
    )


if __name__ == "__main__":
    main()
