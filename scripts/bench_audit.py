"""Per-answer overhead of the audit trail on this machine.

Writes realistic ``answer.served`` / ``answer.delivered`` pairs (real answers from the
bundled knowledge base) to a fresh trail and reports the latency of the write that
sits on the answer path (``answer.served``: scrub, chain, render, write, fsync),
single-threaded and with Bolt's default 5 listener threads, next to the time the
knowledge base takes to compose the answer itself.

    .venv/bin/python scripts/bench_audit.py [--n 2000] [--dir DIR]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bot.audit.records import audit_answer
from bot.audit.trail import AuditTrail
from bot.audit.verify import verify_trail
from knowledge.models import Answer
from knowledge.service import KnowledgeBase

QUESTIONS = (
    "Which US companies is Huawei talking to about licensing its 5G technology?",
    "What did Vincent Pang say about the talks?",
    "When was Huawei added to the Entity List?",
    "How much would the 5G licence cost?",
    "Who would control the licensed technology?",
)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def fmt(label: str, values_s: list[float]) -> str:
    ms = [v * 1000 for v in values_s]
    return (
        f"{label:<44} n={len(ms):>5}  median {statistics.median(ms):7.3f} ms  "
        f"p99 {pct(ms, 0.99):7.3f} ms  max {max(ms):7.3f} ms"
    )


def one_answer(
    trail: AuditTrail, answer: Answer, i: int, served: list[float], pair: list[float]
) -> None:
    ctx = {
        "team": "T0123ABCD",
        "channel": "C0456EFGH",
        "user": f"U{i % 50:08d}",
        "thread_ts": f"1700000000.{i:06d}",
    }
    t0 = time.perf_counter()
    audit_answer(
        trail, answer, surface="mention", request_id=f"req-{i}", top=3, latency_ms=4.2, **ctx
    )
    t1 = time.perf_counter()
    trail.delivered(
        surface="mention",
        request_id=f"req-{i}",
        latency_ms=90.0,
        message_ts=f"1700000001.{i:06d}",
        **ctx,
    )
    t2 = time.perf_counter()
    served.append(t1 - t0)
    pair.append(t2 - t0)


def run_single(directory: Path, answers: list[Answer], n: int) -> tuple[list[float], list[float]]:
    served: list[float] = []
    pair: list[float] = []
    with AuditTrail(directory / "single.jsonl") as trail:
        for i in range(n):
            one_answer(trail, answers[i % len(answers)], i, served, pair)
    return served, pair


def run_threads(
    directory: Path, answers: list[Answer], n: int, threads: int
) -> tuple[list[float], float]:
    served: list[float] = []
    pair: list[float] = []
    lock = threading.Lock()
    with AuditTrail(directory / "threads.jsonl") as trail:

        def work(worker: int) -> None:
            mine_s: list[float] = []
            mine_p: list[float] = []
            for i in range(worker, n, threads):
                one_answer(trail, answers[i % len(answers)], i, mine_s, mine_p)
            with lock:
                served.extend(mine_s)
                pair.extend(mine_p)

        started = time.perf_counter()
        pool = [threading.Thread(target=work, args=(w,)) for w in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        elapsed = time.perf_counter() - started
    return served, elapsed


def filesystem(directory: Path) -> str:
    try:
        out = (
            subprocess.run(["df", "-T", str(directory)], capture_output=True, text=True, check=True)
            .stdout.splitlines()[-1]
            .split()
        )
        return f"{out[1]} on {out[0]}"
    except (OSError, subprocess.CalledProcessError, IndexError):
        return "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="answers per run")
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="where to write the trails (default: a temporary directory)",
    )
    args = parser.parse_args()

    kb = KnowledgeBase.load()
    answer_times: list[float] = []
    answers: list[Answer] = []
    for i in range(200):
        t0 = time.perf_counter()
        answer = kb.answer(QUESTIONS[i % len(QUESTIONS)], 3)
        answer_times.append(time.perf_counter() - t0)
        if i < len(QUESTIONS):
            answers.append(answer)

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        directory = Path(tmp)
        print(
            f"machine: {platform.machine()} {platform.system()} {platform.release()}, "
            f"{os.cpu_count()} CPUs, Python {platform.python_version()}"
        )
        print(f"audit dir: {directory} ({filesystem(directory)})")
        served, pair = run_single(directory, answers, args.n)
        threaded, elapsed = run_threads(directory, answers, args.n, 5)
        size = (directory / "single.jsonl").stat().st_size
        for name in ("single.jsonl", "threads.jsonl"):
            result = verify_trail(directory / name)
            if not result.ok or result.records != 2 * args.n:
                print(f"{name}: verification failed: {result.bad}", file=sys.stderr)
                return 1
        print(fmt("kb.answer() (for scale, not audit)", answer_times))
        print(fmt("answer.served write, 1 thread (on the path)", served))
        print(fmt("served + delivered, 1 thread", pair))
        print(fmt("answer.served write, 5 threads (incl. wait)", threaded))
        print(
            f"5 threads: {2 * args.n / elapsed:,.0f} records/s; "
            f"record size ≈ {size / (2 * args.n):,.0f} bytes; both trails verified intact"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
