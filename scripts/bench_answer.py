"""Latency of ``KnowledgeBase.answer`` over question sets, on this machine.

Loads the knowledge base once, then asks every question of the sets (answerable and
must-refuse alike, every split) ``--rounds`` times, in order, timing each call on its own;
reports the median, p95 and max per call and the start-up costs: the knowledge-base load
and the first answer (which pays for anything built lazily). The question files are read
here (TOML ``[[question]]``/``[[refuse]]`` texts, following ``include``; JSON lines with a
``question`` key), so the script also runs against an older checkout of the engine.

    .venv/bin/python scripts/bench_answer.py [--questions tests/knowledge/questions.toml]
        [--field ../shared/eval/field-sample.jsonl] [--rounds 20] [--kb DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import tomllib
from pathlib import Path

from bot.bench import machine_info
from knowledge.service import KnowledgeBase


def toml_texts(path: Path) -> list[str]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    texts = [str(q["text"]) for q in data.get("question", [])]
    texts += [str(r["text"]) for r in data.get("refuse", [])]
    for name in data.get("include", []):
        texts += toml_texts(path.parent / name)
    return texts


def jsonl_texts(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [str(json.loads(line)["question"]) for line in lines if line.strip()]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def machine() -> str:
    info = machine_info()
    return f"{info['cpu']}, {info['cores']} CPUs, Python {info['python']}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--questions", type=Path, default=Path("tests/knowledge/questions.toml"))
    parser.add_argument("--field", type=Path, default=None, help="a field-sample JSON-lines file")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--kb", type=Path, default=None, help="knowledge-base directory")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    texts = list(dict.fromkeys(toml_texts(args.questions)))
    if args.field is not None:
        texts += [t for t in jsonl_texts(args.field) if t not in texts]
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
    # The first round meets every question (and passage) for the first time: what a
    # question nobody asked before costs, before anything derived from it is reused.
    cold = ms[: len(texts)]
    result = {
        "machine": machine(),
        "passages": len(kb.snapshot.passages),
        "questions": len(texts),
        "rounds": args.rounds,
        "load_ms": round(load_s * 1000, 1),
        "first_answer_ms": round(first_s * 1000, 2),
        "median_ms": round(statistics.median(ms), 3),
        "p95_ms": round(pct(ms, 0.95), 3),
        "max_ms": round(max(ms), 3),
        "first_round_median_ms": round(statistics.median(cold), 3),
        "first_round_p95_ms": round(pct(cold, 0.95), 3),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"machine: {result['machine']}")
    print(f"knowledge base: {result['passages']} passages, load {result['load_ms']} ms")
    print(f"first answer: {result['first_answer_ms']} ms")
    print(
        f"KnowledgeBase.answer over {len(texts)} questions x {args.rounds} rounds "
        f"(n={len(ms)}): median {result['median_ms']} ms  p95 {result['p95_ms']} ms  "
        f"max {result['max_ms']} ms"
    )
    print(
        f"first round only (n={len(cold)}): median {result['first_round_median_ms']} ms  "
        f"p95 {result['first_round_p95_ms']} ms"
    )


if __name__ == "__main__":
    main()
