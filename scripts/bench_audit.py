"""Per-answer overhead of the audit trail on this machine.

Writes realistic ``answer.served`` / ``answer.delivered`` pairs (real answers from the
bundled knowledge base) to a fresh trail and reports the latency of the write that
sits on the answer path (``answer.served``: scrub, chain, render, write, fsync),
single-threaded and with Bolt's default 5 listener threads, next to the time the
knowledge base takes to compose the answer itself.

With ``--database-url`` the same runs go to the PostgreSQL trail as well (in a schema of
their own, created for the run and dropped after it), reported next to the file's:

    .venv/bin/python scripts/bench_audit.py [--n 2000] [--dir DIR] [--database-url URL]
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
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

from bot.audit.backend import Trail
from bot.audit.postgres import PostgresTrail, verify_database
from bot.audit.records import audit_answer
from bot.audit.trail import AuditTrail
from bot.audit.verify import VerifyResult, verify_trail
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
        f"{label:<50} n={len(ms):>5}  median {statistics.median(ms):7.3f} ms  "
        f"p95 {pct(ms, 0.95):7.3f} ms  p99 {pct(ms, 0.99):7.3f} ms  max {max(ms):7.3f} ms"
    )


def one_answer(
    trail: Trail, answer: Answer, i: int, served: list[float], pair: list[float]
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


def run_single(
    open_trail: Callable[[], Trail], answers: list[Answer], n: int
) -> tuple[list[float], list[float]]:
    served: list[float] = []
    pair: list[float] = []
    with open_trail() as trail:
        for i in range(n):
            one_answer(trail, answers[i % len(answers)], i, served, pair)
    return served, pair


def run_threads(
    open_trail: Callable[[], Trail], answers: list[Answer], n: int, threads: int
) -> tuple[list[float], float]:
    served: list[float] = []
    pair: list[float] = []
    lock = threading.Lock()
    with open_trail() as trail:

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


@contextmanager
def bench_schema(url: str) -> Iterator[str]:
    """``url`` on a schema of the run's own, dropped afterwards (the real trail is untouched)."""
    schema = f"licensebot_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, f"options=-csearch_path%3D{schema}") if q)
    try:
        yield urlunsplit(parts._replace(query=query))
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def report(
    name: str,
    runs: Mapping[str, Callable[[], Trail]],
    verify: Mapping[str, Callable[[], VerifyResult]],
    answers: list[Answer],
    n: int,
) -> bool:
    served, pair = run_single(runs["single"], answers, n)
    threaded, elapsed = run_threads(runs["threads"], answers, n, 5)
    for label, check in verify.items():
        result = check()
        if not result.ok or result.records != 2 * n:
            print(f"{name} {label}: verification failed: {result.bad}", file=sys.stderr)
            return False
    print(fmt(f"{name}: answer.served write, 1 thread (on the path)", served))
    print(fmt(f"{name}: served + delivered, 1 thread", pair))
    print(fmt(f"{name}: answer.served write, 5 threads (incl. wait)", threaded))
    print(f"{name}: 5 threads {2 * n / elapsed:,.0f} records/s; both trails verified intact")
    return True


def server_version(url: str) -> str:
    with psycopg.connect(url) as conn:
        row: Any = conn.execute("SHOW server_version").fetchone()
        sync: Any = conn.execute("SHOW synchronous_commit").fetchone()
    return f"PostgreSQL {row[0]} (server default synchronous_commit={sync[0]}; the trail sets on)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="answers per run")
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="where to write the trails (default: a temporary directory)",
    )
    parser.add_argument(
        "--database-url",
        default=None,
        metavar="URL",
        help="also measure the PostgreSQL trail in this database (a schema made for the run)",
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
            f"machine: {platform.node()}: {platform.machine()} {platform.system()} "
            f"{platform.release()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
        )
        print(f"audit dir: {directory} ({filesystem(directory)})")
        print(fmt("kb.answer() (for scale, not audit)", answer_times))
        paths = {name: directory / f"{name}.jsonl" for name in ("single", "threads")}
        file_runs: dict[str, Callable[[], Trail]] = {
            name: partial(AuditTrail, p) for name, p in paths.items()
        }
        file_checks = {name: partial(verify_trail, p) for name, p in paths.items()}
        if not report("file", file_runs, file_checks, answers, args.n):
            return 1
        size = (directory / "single.jsonl").stat().st_size
        print(f"file: record size ≈ {size / (2 * args.n):,.0f} bytes")
    if args.database_url:
        print(f"database: {server_version(args.database_url)}")
        with bench_schema(args.database_url) as single, bench_schema(args.database_url) as threads:
            db_urls = {"single": single, "threads": threads}
            db_runs: dict[str, Callable[[], Trail]] = {
                name: partial(PostgresTrail, u) for name, u in db_urls.items()
            }
            db_checks = {name: partial(verify_database, u) for name, u in db_urls.items()}
            if not report("postgres", db_runs, db_checks, answers, args.n):
                return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
