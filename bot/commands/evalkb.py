"""``licensebot eval-kb``: score the knowledge base against an evaluation question set."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bot.commands.common import add_kb_option, open_kb, settings_for
from knowledge.evaluation.evalset import (
    DEFAULT_K,
    EvalSetError,
    check_question_set,
    evaluate,
    format_report,
    load_question_set,
)


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "eval-kb",
        help="score answers against a question set: hit@1, hit@3, must-refuse questions answered",
    )
    # Required: the question set is test data written for one knowledge base, not part
    # of the package; the bundled KB's set is tests/knowledge/questions.toml.
    parser.add_argument(
        "--questions",
        type=Path,
        required=True,
        metavar="FILE",
        help="question set (TOML with [[question]], [[refuse]], [[furniture]] tables), "
        "e.g. tests/knowledge/questions.toml",
    )
    add_kb_option(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run_eval_kb)


def run_eval_kb(args: argparse.Namespace) -> int:
    try:
        qset = load_question_set(args.questions)
    except EvalSetError as exc:
        print(f"licensebot: {exc}", file=sys.stderr)
        return 2
    kb = open_kb(settings_for(args))
    if kb is None:
        return 1
    snap = kb.snapshot
    problems = check_question_set(qset, {d: a.text for d, a in snap.articles.items()})
    # Evaluation questions are not user questions: they are not written to the audit trail.
    report = evaluate(qset, lambda q: kb.answer(q, DEFAULT_K), k=DEFAULT_K, problems=problems)
    if args.json:
        out = {
            "kb_dir": str(snap.kb_dir),
            "kb_version": snap.kb_version,
            "question_file": str(args.questions),
            **report.to_json_dict(),
        }
        json.dump(out, sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        header = [
            f"knowledge base: {snap.kb_dir} (kb_version {snap.kb_version}, "
            f"{len(snap.articles)} articles)",
            f"questions: {args.questions} ({len(qset.questions)} answerable, "
            f"{len(qset.refusals)} must-refuse)",
        ]
        print(format_report(report, header=header))
    return 0
