"""Start-up cost and lookup latency of the shipped WordNet lexicon on this machine.

Cold load: a fresh interpreter per run times the import and ``load_lexicon()``; memory is
that process's resident-set growth across the load and its Python allocations (tracemalloc
peak). Lookups: ``related`` and ``expand`` on question words, warm.

    .venv/bin/python scripts/bench_lexicon.py [--runs 20]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

from knowledge.retrieval.lexicon import load_lexicon

COLD = """
import json, time, tracemalloc
def rss_kb():
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) for l in status if l.startswith("VmRSS:"))
before = rss_kb()
tracemalloc.start()
t = time.perf_counter()
from knowledge.retrieval.lexicon import load_lexicon
load_lexicon()
elapsed = time.perf_counter() - t
peak = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
print(json.dumps({"s": elapsed, "rss_kb": rss_kb() - before, "peak": peak}))
"""
# The same load without tracemalloc, which slows allocation-heavy code.
PLAIN = (
    "import time; t=time.perf_counter(); from knowledge.retrieval.lexicon import load_lexicon; "
    "load_lexicon(); print(time.perf_counter()-t)"
)
WORDS = (
    "bought acquired companies licensee inventor handset pact vendor supplier manufacturer "
    "firm western criminal agreement talks technology license Huawei 5G wire service"
).split()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def line(label: str, values: list[float], unit: str, scale: float) -> str:
    scaled = [v * scale for v in values]
    return (
        f"{label:<34} n={len(scaled):>5}  median {statistics.median(scaled):8.3f} {unit}  "
        f"p95 {pct(scaled, 0.95):8.3f} {unit}  max {max(scaled):8.3f} {unit}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}"
    )
    plain = [
        float(subprocess.run([sys.executable, "-c", PLAIN], capture_output=True, check=True).stdout)
        for _ in range(args.runs)
    ]
    traced = [
        json.loads(
            subprocess.run([sys.executable, "-c", COLD], capture_output=True, check=True).stdout
        )
        for _ in range(max(3, args.runs // 4))
    ]
    print(line("cold import + load_lexicon()", plain, "s", 1))
    print(line("resident set growth", [r["rss_kb"] for r in traced], "MB", 1 / 1024))
    print(line("python allocations (peak)", [r["peak"] for r in traced], "MB", 1 / 2**20))

    lexicon = load_lexicon()
    related: list[float] = []
    expand: list[float] = []
    for _ in range(200):
        for word in WORDS:
            t = time.perf_counter()
            lexicon.related(word)
            related.append(time.perf_counter() - t)
        t = time.perf_counter()
        lexicon.expand(WORDS[:8])
        expand.append(time.perf_counter() - t)
    print(line("related(word)", related, "ms", 1000))
    print(line("expand(8 question words)", expand, "ms", 1000))
    return 0


if __name__ == "__main__":
    sys.exit(main())
