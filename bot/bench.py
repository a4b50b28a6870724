"""The retrieval benchmark: this engine against plain rank-bm25, corpus sizes 1k..1M.

For each size, three fresh processes (knowledge/evaluation/bench_worker.py): build + query this
engine and save its index; load the saved index as a start would and query it
again; build rank-bm25 and time ``get_scores`` + top-5 on the first queries (fewer
at large sizes: each one scores every passage), checking its rankings against
ours. The result is one table; docs/benchmarks.md records a full run.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy

DEFAULT_SIZES = (1_000, 10_000, 100_000, 1_000_000)
QUICK_SIZES = (1_000, 10_000)
# rank-bm25 scores every passage per query; cap the passages it scores in total.
BASELINE_BUDGET = 20_000_000

Progress = Callable[[str], None]


class BenchError(Exception):
    """A measurement process failed; the message has its last error line."""


@dataclass(frozen=True)
class BenchPlan:
    sizes: Sequence[int] = DEFAULT_SIZES
    queries: int = 500
    baseline_queries: int | None = None  # None: as many as BASELINE_BUDGET allows
    beir_dir: Path | None = None  # real passages for the sizes it can fill
    baseline: bool = True
    seed: int = 0

    def baseline_count(self, size: int) -> int:
        if self.baseline_queries is not None:
            return min(self.baseline_queries, self.queries)
        return max(10, min(self.queries, BASELINE_BUDGET // size))


@dataclass
class SizeResult:
    size: int
    source: str
    engine: dict[str, Any]
    loaded: dict[str, Any]
    baseline: dict[str, Any] | None = None

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "source": self.source,
            "engine": self.engine,
            "loaded": self.loaded,
            "rank_bm25": self.baseline,
        }


@dataclass
class BenchReport:
    machine: dict[str, Any]
    results: list[SizeResult] = field(default_factory=list)

    def to_json_dict(self) -> dict[str, Any]:
        return {"machine": self.machine, "results": [r.to_json_dict() for r in self.results]}


def run_bench(plan: BenchPlan, progress: Progress) -> BenchReport:
    report = BenchReport(machine=machine_info())
    with tempfile.TemporaryDirectory(prefix="licensebot-bench-") as tmp:
        for size in plan.sizes:
            # The build process falls back to synthetic text when the real corpus is
            # too small; the other processes then use what it used.
            source = "beir" if plan.beir_dir is not None else "synthetic"
            task: dict[str, Any] = {
                "size": size,
                "source": source,
                "beir_dir": str(plan.beir_dir) if plan.beir_dir else None,
                "queries": plan.queries,
                "seed": plan.seed,
                "index_path": str(Path(tmp) / f"index-{size}.npz"),
                "queries_path": str(Path(tmp) / f"queries-{size}.json"),
            }
            progress(f"bench: {size:,} passages: this engine")
            engine = _worker({**task, "task": "build"}, progress)
            task["source"] = engine["source"]
            progress(f"bench: {size:,} passages: loading the saved index")
            loaded = _worker({**task, "task": "load"}, progress)
            baseline = None
            if plan.baseline:
                n = plan.baseline_count(size)
                progress(f"bench: {size:,} passages: rank-bm25 ({n} queries)")
                baseline = _worker({**task, "task": "baseline", "baseline_queries": n}, progress)
            report.results.append(SizeResult(size, engine["source"], engine, loaded, baseline))
    return report


def _worker(task: dict[str, Any], progress: Progress) -> dict[str, Any]:
    return run_worker(
        "knowledge.evaluation.bench_worker",
        task,
        progress,
        failed=f"{task['task']} at {task['size']:,} passages failed",
    )


def run_worker(
    module: str, task: dict[str, Any], progress: Progress, *, failed: str
) -> dict[str, Any]:
    """Run ``python -m module`` on ``task`` (JSON on stdin): its one JSON result line.

    Progress on its stderr streams through; ``BenchError(failed: last error line)`` when
    the process fails.
    """
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(  # noqa: S603 (this interpreter, one of our own modules)
        [sys.executable, "-m", module],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        proc.stdin.write(json.dumps(task))
        proc.stdin.close()
        last = ""
        # Progress streams through; the result is the one line on stdout.
        for line in proc.stderr:
            last = line.rstrip() or last
            progress(line.rstrip())
        out = proc.stdout.read()
        code = proc.wait()
    if code != 0 or not out.strip():
        raise BenchError(f"{failed}: {last}")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": mem_gib,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "platform": platform.platform(),
    }


def format_table(report: BenchReport) -> str:
    m = report.machine
    lines = [
        f"machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, "
        f"Python {m['python']}, numpy {m['numpy']}",
        "",
        f"{'passages':>10} {'corpus':<9} {'engine':<10} {'build s':>8} {'peak MB':>8} "
        f"{'index MB':>8} {'load s':>7} {'p50 ms':>9} {'p95 ms':>9} {'queries':>7}",
    ]
    for r in report.results:
        e, ld, b = r.engine, r.loaded, r.baseline
        lines.append(
            f"{r.size:>10,} {r.source:<9} {'licensebot':<10} {e['build_s']:>8.2f} "
            f"{_mb(e['peak_mb'])} {_mb(ld['resident_mb'])} {ld['load_s']:>7.2f} "
            f"{e['p50_ms']:>9.3f} {e['p95_ms']:>9.3f} {e['queries']:>7}"
        )
        groups = e.get("by_common_terms") or {}
        if len(groups) > 1:
            lines.append(
                f"{'':>10} {'':<9} {'by terms':<10} in >10% of passages: "
                + ", ".join(
                    f"{n}: p50 {g['p50_ms']:.2f} / p95 {g['p95_ms']:.2f} ms ({g['queries']})"
                    for n, g in groups.items()
                )
            )
        if b is None:
            continue
        lines.append(
            f"{'':>10} {'':<9} {'rank-bm25':<10} {b['build_s']:>8.2f} {_mb(b['peak_mb'])} "
            f"{_mb(b['resident_mb'])} {'-':>7} {b['p50_ms']:>9.3f} {b['p95_ms']:>9.3f} "
            f"{b['queries']:>7}"
        )
        lines.append(
            f"{'':>10} {'':<9} {'ratio':<10} {_ratio(b['build_s'], e['build_s'])} "
            f"{_ratio(b['peak_mb'], e['peak_mb'])} {_ratio(b['resident_mb'], ld['resident_mb'])} "
            f"{'':>7} {_ratio(b['p50_ms'], e['p50_ms'], 9)} {_ratio(b['p95_ms'], e['p95_ms'], 9)} "
            f"{'':>7}"
        )
        lines.append(
            f"{'':>10} {'':<9} {'rankings':<10} "
            f"{b['queries_checked'] - b['mismatches']}/{b['queries_checked']} top-5 lists "
            "identical to rank-bm25's"
        )
    runtime = [r.loaded["runtime_mb"] for r in report.results if "runtime_mb" in r.loaded]
    compiled = [r.loaded["compile_s"] for r in report.results if "compile_s" in r.loaded]
    if runtime and compiled:
        lines += [
            "",
            f"compiled search (numba): {max(runtime):.0f} MB per process, not counted in "
            f"index MB; ready in {max(compiled):.2f} s after a load (compiled once, then "
            "cached on disk)",
        ]
    lines += [
        "",
        "index MB: resident growth after loading the saved index and querying it "
        "(rank-bm25: after building); peak MB: peak growth while building; "
        "ratio: rank-bm25 / licensebot (higher is better for licensebot); "
        "p50/p95: one top-5 search (rank-bm25: get_scores + top-5), each query once.",
    ]
    return "\n".join(lines)


def _mb(value: float | None) -> str:
    return f"{'n/a':>8}" if value is None else f"{value:>8.0f}"


def _ratio(theirs: float | None, ours: float | None, width: int = 8) -> str:
    if theirs is None or ours is None or ours <= 0:
        return f"{'-':>{width}}"
    return f"{theirs / ours:>{width - 1}.1f}x"
