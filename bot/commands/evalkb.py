"""``licensebot eval-kb``: score the knowledge base against an evaluation question set."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bot.commands.common import add_kb_option, open_kb, settings_for
from knowledge.evaluation.evalformat import format_report
from knowledge.evaluation.evalset import (
    DEFAULT_K,
    SPLITS,
    EvalSetError,
    QuestionSet,
    check_question_set,
    evaluate,
    load_question_set,
)
from knowledge.models import Answer


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "eval-kb",
        help="score answers against a question set: hit@1, hit@3, refusals, per split and kind",
    )
    # Required: the question set is test data written for one knowledge base, not part
    # of the package; the bundled KB's set is tests/knowledge/questions.toml.
    parser.add_argument(
        "--questions",
        type=Path,
        required=True,
        metavar="FILE",
        help="question set: TOML with [[question]], [[refuse]], [[furniture]] tables and "
        "include = [...] (e.g. tests/knowledge/questions.toml, which includes the test "
        "split), or a field-sample JSON-lines file",
    )
    parser.add_argument(
        "--field",
        type=Path,
        metavar="FILE",
        help="also score a field sample (JSON lines: question, answered, docs, "
        "quote_contains_any), reported on its own line",
    )
    parser.add_argument(
        "--split",
        choices=SPLITS,
        help="score only this split of --questions (default: every split, each reported)",
    )
    add_kb_option(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run_eval_kb)


def _load(args: argparse.Namespace) -> tuple[QuestionSet, QuestionSet | None]:
    qset = load_question_set(args.questions)
    if args.split is not None and args.split not in qset.splits():
        present = ", ".join(qset.splits())
        raise EvalSetError(f"{args.questions}: no {args.split!r} questions (splits: {present})")
    field = load_question_set(args.field) if args.field is not None else None
    return qset, field


def _counts(qset: QuestionSet) -> str:
    return f"{len(qset.questions)} answerable, {len(qset.refusals)} must-refuse"


def run_eval_kb(args: argparse.Namespace) -> int:
    try:
        full, field = _load(args)
    except EvalSetError as exc:
        print(f"licensebot: {exc}", file=sys.stderr)
        return 2
    kb = open_kb(settings_for(args))
    if kb is None:
        return 1
    snap = kb.snapshot
    texts = {d: a.text for d, a in snap.articles.items()}
    # The whole file is checked even under --split: a question in both splits is a leak.
    problems = check_question_set(full, texts)
    qset = full.select(args.split) if args.split is not None else full

    # Evaluation questions are not user questions: they are not written to the audit trail.
    def ask(question: str) -> Answer:
        return kb.answer(question, DEFAULT_K)

    report = evaluate(qset, ask, k=DEFAULT_K, problems=problems)
    field_report = (
        evaluate(field, ask, k=DEFAULT_K, problems=check_question_set(field, texts))
        if field is not None
        else None
    )
    if args.json:
        out = {
            "kb_dir": str(snap.kb_dir),
            "kb_version": snap.kb_version,
            "question_file": str(args.questions),
            **report.to_json_dict(),
            "question_files": list(full.files),
            "split_filter": args.split,
            "splits": {s: report.select(s).to_json_dict() for s in report.splits()},
            "field_file": str(args.field) if args.field is not None else None,
            "field": field_report.to_json_dict() if field_report is not None else None,
        }
        json.dump(out, sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        splits = "; ".join(f"{s}: {_counts(qset.select(s))}" for s in qset.splits())
        header = [
            f"knowledge base: {snap.kb_dir} (kb_version {snap.kb_version}, "
            f"{len(snap.articles)} articles)",
            f"questions: {', '.join(full.files)} ({_counts(qset)}; {splits})",
        ]
        if field is not None:
            header.append(f"field sample: {args.field} ({_counts(field)}; dev data)")
        print(format_report(report, header=header, field=field_report))
    return 0
