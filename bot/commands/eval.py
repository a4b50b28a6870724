"""``licensebot eval --beir DIR``: retrieval quality (nDCG@10, Recall@100) on a BEIR dataset."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from knowledge.evaluation.beir import (
    DEFAULT_CONFIG,
    PLAIN_CONFIG,
    TUNED_CONFIG,
    BeirFormatError,
    EvalReport,
    RetrievalConfig,
    evaluate,
    load_beir,
)

PRESETS = {"default": DEFAULT_CONFIG, "tuned": TUNED_CONFIG, "plain": PLAIN_CONFIG}


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "eval",
        help="retrieval quality on a BEIR-format dataset: nDCG@10 and Recall@100",
    )
    parser.add_argument(
        "--beir",
        required=True,
        metavar="DIR",
        type=_existing_dir,
        help="BEIR directory with corpus.jsonl, queries.jsonl and qrels/SPLIT.tsv",
    )
    parser.add_argument("--split", default="test", help="qrels split to score (default: test)")
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        action="append",
        help="engine configuration; repeat to compare several (default: default, chosen on "
        "SciFact's train split: word parts, title twice; 'tuned' is the same; 'plain' is the "
        "knowledge base's own analysis with the title once)",
    )
    knobs = parser.add_argument_group("engine knobs (override the preset)")
    knobs.add_argument("--k1", type=float)
    knobs.add_argument("--b", type=float)
    knobs.add_argument("--title-repeat", type=int, metavar="N", help="index the title N times")
    knobs.add_argument("--stopwords", choices=["project", "lucene", "none"])
    knobs.add_argument("--no-stem", dest="stem", action="store_false", default=None)
    knobs.add_argument(
        "--word-parts",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also index letter and digit runs of mixed terms (Tet1 -> tet, 1; BCL-2 -> bcl2)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object per preset")
    parser.set_defaults(func=run_eval)


def run_eval(args: argparse.Namespace) -> int:
    try:
        configs = [(name, _config(PRESETS[name], args)) for name in args.preset or ["default"]]
    except ValueError as exc:
        print(f"licensebot: {exc}", file=sys.stderr)
        return 2
    try:
        dataset = load_beir(args.beir, args.split)
    except BeirFormatError as exc:
        print(f"licensebot: {exc}", file=sys.stderr)
        return 1
    reports = []
    for name, config in configs:
        report = evaluate(
            dataset,
            config,
            name=args.beir.name,
            split=args.split,
            progress=lambda line: print(line, file=sys.stderr, flush=True),
        )
        reports.append((name, report))
    for name, report in reports:
        if args.json:
            print(json.dumps({"preset": name, **report.to_json_dict()}))
        else:
            print(_format(name, report))
    return 0


def _config(base: RetrievalConfig, args: argparse.Namespace) -> RetrievalConfig:
    overrides = {
        "k1": args.k1,
        "b": args.b,
        "title_repeat": args.title_repeat,
        "stopwords": args.stopwords,
        "stem": args.stem,
        "word_parts": args.word_parts,
    }
    changes = {k: v for k, v in overrides.items() if v is not None}
    # Validation errors name the knob; pydantic's ValidationError is a ValueError.
    return RetrievalConfig(**{**base.model_dump(), **changes})


def _format(name: str, report: EvalReport) -> str:
    knobs = ", ".join(f"{k}={v}" for k, v in report.config.model_dump().items())
    return (
        f"{report.dataset} ({report.split}, {report.queries} queries, "
        f"{report.documents:,} documents) preset {name}: {knobs}\n"
        f"  nDCG@10    {report.ndcg_at_10:.4f}\n"
        f"  Recall@100 {report.recall_at_100:.4f}\n"
        f"  index {report.index_seconds:.1f} s, search {report.search_seconds:.1f} s"
    )


def _existing_dir(text: str) -> Path:
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"not a directory: {text}")
    return path
