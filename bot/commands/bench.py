"""``licensebot bench``: retrieval speed and memory against plain rank-bm25 (one table)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bot.bench import DEFAULT_SIZES, QUICK_SIZES, BenchError, BenchPlan, format_table, run_bench
from bot.bench_kb import KB_QUICK_SIZES, KB_SIZES, KbBenchPlan, format_kb_table, run_kb_bench


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "bench",
        help="build/query time and memory of the index against rank-bm25, 1k..1M passages",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"sizes {', '.join(f'{s:,}' for s in QUICK_SIZES)} and 100 queries (under a minute)",
    )
    parser.add_argument(
        "--sizes",
        type=_size,
        nargs="+",
        metavar="N",
        help=f"passage counts (default: {' '.join(str(s) for s in DEFAULT_SIZES)}; 10k = 10000)",
    )
    parser.add_argument("--queries", type=int, metavar="N", help="queries per size (default 500)")
    parser.add_argument(
        "--baseline-queries",
        type=int,
        metavar="N",
        help="rank-bm25 queries per size (default: fewer as sizes grow, 20 at 1M)",
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip rank-bm25")
    parser.add_argument(
        "--corpus",
        type=Path,
        metavar="BEIR_DIR",
        help="real passages from a BEIR corpus for the sizes it can fill (synthetic otherwise)",
    )
    parser.add_argument(
        "--kb",
        action="store_true",
        help="the whole knowledge base instead: articles written from --corpus (sizes: "
        f"{' '.join(f'{s:,}' for s in KB_SIZES)} articles; --quick: "
        f"{', '.join(f'{s:,}' for s in KB_QUICK_SIZES)}), first build, warm start, reloads, "
        "memory, answers, ask --json end to end; tantivy beside it when installed",
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        metavar="DIR",
        help="with --kb: where to write the knowledge bases (default: the temp directory)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.kb:
        return run_kb(args)
    sizes = args.sizes or (QUICK_SIZES if args.quick else DEFAULT_SIZES)
    queries = args.queries or (100 if args.quick else 500)
    if args.corpus is not None and not (args.corpus / "corpus.jsonl").is_file():
        print(f"licensebot: {args.corpus}: no corpus.jsonl", file=sys.stderr)
        return 2
    plan = BenchPlan(
        sizes=sizes,
        queries=queries,
        baseline_queries=args.baseline_queries,
        beir_dir=args.corpus,
        baseline=not args.no_baseline,
    )
    try:
        report = run_bench(plan, lambda line: print(line, file=sys.stderr, flush=True))
    except BenchError as exc:
        print(f"licensebot: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report.to_json_dict()) if args.json else format_table(report))
    return 0


def run_kb(args: argparse.Namespace) -> int:
    if args.corpus is None or not (args.corpus / "corpus.jsonl").is_file():
        print("licensebot: bench --kb needs --corpus BEIR_DIR (with corpus.jsonl)", file=sys.stderr)
        return 2
    plan = KbBenchPlan(
        beir_dir=args.corpus,
        sizes=args.sizes or (KB_QUICK_SIZES if args.quick else KB_SIZES),
        questions=args.queries or (50 if args.quick else 300),
        work_dir=args.work_dir,
    )
    try:
        report = run_kb_bench(plan, lambda line: print(line, file=sys.stderr, flush=True))
    except BenchError as exc:
        print(f"licensebot: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report.to_json_dict()) if args.json else format_kb_table(report))
    return 0


def _size(text: str) -> int:
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:].lower(), 1)
    try:
        value = int(float(text[:-1] if scale > 1 else text) * scale)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a passage count: {text}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"not a passage count: {text}")
    return value
