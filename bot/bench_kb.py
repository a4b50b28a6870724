"""The knowledge-base benchmark (``licensebot bench --kb``): the whole product at 1k to
100k articles, first build to answers.

Per size, in fresh processes (``knowledge/evaluation/kb_bench.py``): write the
knowledge base from a BEIR corpus; first build; a warm start with answers and reloads
after an edit, an addition and a removal; ``licensebot ask --json`` end to end and
``licensebot kb check`` against the stored data; tantivy beside it when installed.
docs/benchmarks.md records a full run.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.bench import BenchError, Progress, machine_info, run_worker
from knowledge.evaluation.kb_bench import questions, write_kb

KB_SIZES = (1_000, 5_000, 20_000, 100_000)
KB_QUICK_SIZES = (300,)
ASK_RUNS = 3


@dataclass(frozen=True)
class KbBenchPlan:
    beir_dir: Path
    sizes: Sequence[int] = KB_SIZES
    questions: int = 300
    work_dir: Path | None = None  # where the knowledge bases are written (default: a temp dir)
    tantivy: bool = True


@dataclass
class KbBenchReport:
    machine: dict[str, Any]
    results: list[dict[str, Any]] = field(default_factory=list)

    def to_json_dict(self) -> dict[str, Any]:
        return {"machine": self.machine, "results": self.results}


def run_kb_bench(plan: KbBenchPlan, progress: Progress) -> KbBenchReport:
    report = KbBenchReport(machine=machine_info())
    if not questions(plan.beir_dir, 1):
        raise BenchError(f"{plan.beir_dir}: no queries")
    with tempfile.TemporaryDirectory(prefix="licensebot-kb-bench-", dir=plan.work_dir) as tmp:
        for size in plan.sizes:
            root = Path(tmp) / f"kb-{size}"
            kb_dir, data_dir = root / "kb", root / "data"
            progress(f"bench --kb: {size:,} articles: writing the knowledge base")
            corpus_docs = write_kb(plan.beir_dir, kb_dir, size)
            task = {"kb_dir": str(kb_dir), "data_dir": str(data_dir)}
            result: dict[str, Any] = {"size": size, "corpus_docs": corpus_docs}
            progress(f"bench --kb: {size:,} articles: first build")
            result["build"] = _worker({**task, "task": "build"}, progress)
            progress(f"bench --kb: {size:,} articles: warm start, answers, reloads")
            result["warm"] = _worker(
                {
                    **task,
                    "task": "warm",
                    "beir_dir": str(plan.beir_dir),
                    "questions": plan.questions,
                },
                progress,
            )
            # After the warm start, as a user runs them: its process waited for the compiled
            # search, which a first build's process (done before it was ready) had not cached.
            progress(f"bench --kb: {size:,} articles: ask --json and kb check, end to end")
            question = questions(plan.beir_dir, 1)[0]
            result["ask_json_s"] = _cli_seconds(
                ["ask", "--json", question], kb_dir, data_dir, runs=ASK_RUNS
            )
            result["check_cli_s"] = _cli_seconds(["kb", "check", str(kb_dir)], kb_dir, data_dir)
            if plan.tantivy:
                result["tantivy"] = _worker(
                    {**task, "task": "tantivy", "index_dir": str(root / "tantivy")}, progress
                )
            report.results.append(result)
            # A 100k knowledge base and its stored versions take gigabytes: one at a time.
            _remove(root)
    return report


def _worker(task: dict[str, Any], progress: Progress) -> dict[str, Any]:
    return run_worker(
        "knowledge.evaluation.kb_bench", task, progress, failed=f"{task['task']} failed"
    )


def _cli_seconds(args: list[str], kb_dir: Path, data_dir: Path, *, runs: int = 1) -> float:
    """Median wall time of ``licensebot ARGS`` as a user runs it (a fresh process)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LICENSEBOT_", "SLACK_"))}
    env.update({"LICENSEBOT_KB_DIR": str(kb_dir), "LICENSEBOT_DATA_DIR": str(data_dir)})
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        proc = subprocess.run(  # noqa: S603 (this interpreter, our own command line)
            [sys.executable, "-m", "bot", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
            check=False,
        )
        times.append(time.perf_counter() - started)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:]
            raise BenchError(f"licensebot {' '.join(args[:2])} failed: {tail}")
    return statistics.median(times)


def _remove(root: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)


def format_kb_table(report: KbBenchReport) -> str:
    m = report.machine
    head = (
        f"{'articles':>9} {'passages':>9} {'build s':>8} {'peak MB':>8} {'warm s':>7} "
        f"{'ask s':>6} {'edit s':>7} {'add s':>6} {'rm s':>6} {'check s':>8} {'RSS MB':>7} "
        f"{'p50 ms':>7} {'p95 ms':>7}"
    )
    lines = [
        f"machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, "
        f"Python {m['python']}, numpy {m['numpy']}",
        "",
        head,
    ]
    for r in report.results:
        b, w = r["build"], r["warm"]
        lines.append(
            f"{r['size']:>9,} {b['passages']:>9,} {b['first_build_s']:>8.2f} "
            f"{_num(b['peak_mb'], 8)} {w['warm_start_s']:>7.2f} {r['ask_json_s']:>6.2f} "
            f"{w['reload_edit_s']:>7.2f} {w['reload_add_s']:>6.2f} {w['reload_remove_s']:>6.2f} "
            f"{r['check_cli_s']:>8.2f} {w['resident_mb']:>7.0f} {w['answer_p50_ms']:>7.2f} "
            f"{w['answer_p95_ms']:>7.2f}"
        )
        t = r.get("tantivy") or {}
        if t.get("available"):
            lines.append(
                f"{'':>9} {'tantivy':>9} {t['build_s']:>8.2f} {'':>8} {t['open_query_s']:>7.3f} "
                f"{'':>6} {'':>7} {t['add_one_s']:>6.3f}"
            )
    if len(report.results) >= 2:
        a, z = report.results[-2], report.results[-1]
        factor = z["size"] / a["size"]
        lines += ["", f"growth {a['size']:,} -> {z['size']:,} articles (x{factor:g}):"]
        for label, part, key in (
            ("first build", "build", "first_build_s"),
            ("warm start", "warm", "warm_start_s"),
            ("reload after an edit", "warm", "reload_edit_s"),
            ("resident memory", "warm", "resident_mb"),
            ("answer p95", "warm", "answer_p95_ms"),
        ):
            lines.append(f"  {label}: x{z[part][key] / a[part][key]:.1f}")
    lines += [
        "",
        "build s: first load with an empty data directory (read, clean, analyse, index, "
        "store), peak MB its process (analysis workers: worker_peak_mb in --json); warm s: a "
        "start finding it stored; ask s: `licensebot ask --json` end to end (median of "
        f"{ASK_RUNS}); edit/add/rm s: reload after one article changed, was added, removed; "
        "check s: `licensebot kb check` end to end; RSS MB: resident after the answers; "
        "p50/p95: KnowledgeBase.answer over the corpus queries. tantivy row: build, open + "
        "first query, add one document + commit + reopen.",
    ]
    return "\n".join(lines)


def _num(value: float | None, width: int) -> str:
    return f"{'n/a':>{width}}" if value is None else f"{value:>{width}.0f}"
