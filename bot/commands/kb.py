"""``licensebot kb``: check a knowledge-base directory, list its sources, show its status,
and reload the running server (``SIGHUP`` through its pid file)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from bot.audit.history import DatabaseHistory, FileHistory
from bot.commands.common import add_kb_option, open_kb, settings_for
from bot.commands.progress import TerminalProgress
from bot.commands.render import gaps_lines
from bot.reloaders import (
    PID_FILE,
    ReloadRequestError,
    process_is,
    read_pid_file,
    read_result,
    request_reload,
)
from knowledge.evaluation.gaps import DEFAULT_DAYS, MAX_DAYS, gaps_digest
from knowledge.models import Problem
from knowledge.retrieval.tokenizer import default_analyzer
from knowledge.service import KBInvalid, bundled_kb_dir, check_kb_dir, load_snapshot
from knowledge.store.admin import directory_version


def register(sub: Any) -> None:
    kb = sub.add_parser("kb", help="knowledge-base administration")
    kb_sub = kb.add_subparsers(dest="kb_command", metavar="KB_COMMAND", required=True)
    check = kb_sub.add_parser("check", help="validate a knowledge-base directory")
    check.add_argument(
        "dir",
        nargs="?",
        type=Path,
        default=None,
        help="directory (default: LICENSEBOT_KB_DIR or the bundled one)",
    )
    check.set_defaults(func=run_check)
    sources = kb_sub.add_parser("sources", help="list the articles")
    add_kb_option(sources)
    sources.set_defaults(func=run_sources)
    status = kb_sub.add_parser(
        "status", help="the knowledge-base directory's version and the running server's reloads"
    )
    add_kb_option(status)
    status.set_defaults(func=run_status)
    reload = kb_sub.add_parser(
        "reload",
        help="make the running server reload its knowledge base (SIGHUP) and show the outcome",
        description=(
            "Signal the server whose pid file is in LICENSEBOT_DATA_DIR to re-read, validate "
            "and swap in its knowledge-base directory (only changed files are read again); "
            "prints the diff or every problem. Exit 0 when reloaded, 1 when refused or no "
            "server answered."
        ),
    )
    reload.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how long to wait for the server's report (default 60)",
    )
    reload.add_argument(
        "--skip-invalid",
        action="store_true",
        help="serve the valid articles when some are invalid (each skipped one is listed); "
        "without it any problem refuses the reload and the old version keeps serving",
    )
    reload.set_defaults(func=run_reload)
    gaps = kb_sub.add_parser(
        "gaps",
        help="what the knowledge base lacks: refused and not-helpful questions, grouped",
        description=(
            "Questions of the last DAYS days the knowledge base refused for lack of an article, "
            "and answers marked not helpful, grouped by the words nothing matched, most "
            "frequent first, each with a count and an example; read from the audit trail "
            "(the database when LICENSEBOT_DATABASE_URL or --database-url is set)."
        ),
    )
    gaps.add_argument(
        "--days",
        type=int,
        default=DEFAULT_DAYS,
        metavar="N",
        help=f"the period, in days up to now (default {DEFAULT_DAYS}, at most {MAX_DAYS})",
    )
    gaps.add_argument(
        "--limit", type=int, default=20, metavar="N", help="groups to show (default 20)"
    )
    gaps.add_argument("--path", type=Path, default=None, help="audit file (default as audit)")
    gaps.add_argument(
        "--database-url", default=None, metavar="URL", help="read the trail from this database"
    )
    gaps.add_argument("--json", action="store_true", help="print one JSON object")
    gaps.set_defaults(func=run_gaps)


def run_check(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    kb_dir = args.dir if args.dir is not None else settings.kb_dir or bundled_kb_dir()
    # The data directory's stored analyses make a check of an unchanged directory quick.
    problems = check_kb_dir(kb_dir, data_dir=settings.data_dir)
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print(f"{kb_dir}: OK")
    return 0


def run_sources(args: argparse.Namespace) -> int:
    kb = open_kb(settings_for(args))
    if kb is None:
        return 1
    snap = kb.snapshot
    counts = snap.passage_counts()
    print(f"kb_version {snap.kb_version}: {len(snap.articles)} articles")
    for doc_id, article in sorted(snap.articles.items()):
        m = article.meta
        derived = f" (derived: {', '.join(sorted(m.derived))})" if m.derived else ""
        print(
            f"{doc_id}  {m.title or 'untitled'} · {m.publisher or 'publisher unknown'} · "
            f"{m.published_label or 'undated'} · "
            f"{counts.get(doc_id, 0)} passages{derived}"
        )
    return 0


def _reported_problem(fields: dict[str, Any]) -> Problem:
    """A problem as the server wrote it to its report (read leniently: it is a file)."""
    line = fields.get("line")
    return Problem(
        file=str(fields.get("file")),
        reason=str(fields.get("reason")),
        line=line if isinstance(line, int) and not isinstance(line, bool) else None,
    )


def _print_report(report: dict[str, Any]) -> int:
    code = _print_outcome(report)
    # Under `serve --workers N` the supervisor reports each worker too.
    for worker in report.get("workers") or []:
        print(
            f"  worker {worker.get('pid')}: {worker.get('outcome')}, "
            f"serving kb_version {worker.get('serving')}"
        )
    return code


def _print_outcome(report: dict[str, Any]) -> int:
    outcome = report.get("outcome")
    if outcome == "reloaded":
        print(
            f"reloaded in {report.get('seconds')} s: kb_version {report.get('old_version')} "
            f"→ {report.get('new_version')}"
        )
        print(
            f"  articles {report.get('articles_before')} → {report.get('articles_after')}, "
            f"passages {report.get('passages_before')} → {report.get('passages_after')}"
        )
        for key in ("added", "removed", "changed"):
            ids = report.get(key) or []
            if ids:
                print(f"  {key}: {', '.join(str(i) for i in ids)}")
        skipped = report.get("skipped") or []
        if skipped:
            print(f"  skipped {len(skipped)} problem(s) (--skip-invalid):")
            for p in skipped:
                print(f"    {_reported_problem(p)}")
        return 0
    if outcome == "refused":
        problems = report.get("problems") or []
        print(
            f"reload refused, still serving kb_version {report.get('serving')}; "
            f"{len(problems)} problem(s):"
        )
        for p in problems:
            print(f"  {_reported_problem(p)}")
        return 1
    print(f"reload not done ({outcome}): still serving kb_version {report.get('serving')}")
    return 1


def run_reload(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    bar = TerminalProgress()
    try:
        report = request_reload(
            settings.data_dir,
            timeout=args.timeout,
            skip_invalid=args.skip_invalid,
            progress=bar,
        )
    except ReloadRequestError as exc:
        print(f"licensebot: {exc}", file=sys.stderr)
        return 1
    finally:
        bar.close()
    return _print_report(report)


def run_status(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    kb_dir = settings.kb_dir or bundled_kb_dir()
    bundled = settings.kb_dir is None
    print(f"directory: {kb_dir}{' (bundled, read-only)' if bundled else ''}")
    code = 0
    try:
        snap = load_snapshot(kb_dir, loaded_by="cli", data_dir=settings.data_dir)
    except KBInvalid as exc:
        print(
            f"directory kb_version {directory_version(kb_dir)}: INVALID, "
            f"{len(exc.problems)} problem(s) (a reload would be refused):"
        )
        for problem in exc.problems:
            print(f"  {problem}")
        code = 1
    else:
        print(
            f"directory kb_version {snap.kb_version}: {len(snap.articles)} articles, "
            f"{len(snap.passages)} passages"
        )
    info = read_pid_file(settings.data_dir)
    if info is None:
        print(f"server: none found (no {PID_FILE} in {settings.data_dir})")
    elif process_is(info):
        workers = f", {info.workers} workers" if info.workers > 1 else ""
        print(f"server: pid {info.pid}{workers}, knowledge base {info.kb_dir}")
    else:
        print(f"server: pid {info.pid} is not running (stale {PID_FILE})")
    report = read_result(settings.data_dir)
    if report is not None:
        print(
            f"last operator reload (pid {report.get('pid')}, {report.get('finished_at')}): "
            f"{report.get('outcome')}, serving kb_version {report.get('serving')}"
        )
    return code


def run_gaps(args: argparse.Namespace) -> int:
    if not 1 <= args.days <= MAX_DAYS:
        print(f"licensebot: --days must be 1 to {MAX_DAYS}", file=sys.stderr)
        return 2
    if args.limit < 1:
        print("licensebot: --limit must be at least 1", file=sys.stderr)
        return 2
    if args.path is not None and args.database_url is not None:
        print("licensebot: give an audit file or --database-url, not both", file=sys.stderr)
        return 2
    settings = settings_for(args)
    url = args.database_url or (
        settings.database_url.get_secret_value()
        if settings.database_url is not None and args.path is None
        else None
    )
    history = (
        DatabaseHistory(url) if url else FileHistory(args.path or settings.resolved_audit_path)
    )
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=args.days)
    try:
        items = history.gap_items(since)
    except OSError as exc:
        print(f"licensebot: cannot read the audit trail: {exc}", file=sys.stderr)
        return 2
    gaps = gaps_digest(items, default_analyzer(), limit=args.limit)
    if args.json:
        report = {
            "days": args.days,
            "since": since.isoformat(),
            "items": len(items),
            "gaps": [g.to_json_dict() for g in gaps],
        }
        print(json.dumps(report, ensure_ascii=False))
        return 0
    for line in gaps_lines(gaps, days=args.days, items=len(items)):
        print(line)
    return 0
