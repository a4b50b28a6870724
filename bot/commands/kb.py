"""``licensebot kb``: check a knowledge-base directory, list its sources."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bot.commands.common import add_kb_option, open_kb, settings_for
from bot.render import format_date
from knowledge.service import bundled_kb_dir, check_kb_dir


def register(sub: Any) -> None:
    kb = sub.add_parser("kb", help="knowledge-base administration")
    kb_sub = kb.add_subparsers(dest="kb_command", metavar="KB_COMMAND", required=True)
    check = kb_sub.add_parser("check", help="validate a knowledge-base directory")
    check.add_argument("dir", nargs="?", type=Path, default=None,
                       help="directory (default: LICENSEBOT_KB_DIR or the bundled one)")
    check.set_defaults(func=run_check)
    sources = kb_sub.add_parser("sources", help="list the articles")
    add_kb_option(sources)
    sources.set_defaults(func=run_sources)


def run_check(args: argparse.Namespace) -> int:
    kb_dir = args.dir
    if kb_dir is None:
        kb_dir = settings_for(args).kb_dir or bundled_kb_dir()
    problems = check_kb_dir(kb_dir)
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
    counts: dict[str, int] = {}
    for p in snap.passages:
        counts[p.doc_id] = counts.get(p.doc_id, 0) + 1
    print(f"kb_version {snap.kb_version}: {len(snap.articles)} articles")
    for doc_id, article in sorted(snap.articles.items()):
        m = article.meta
        derived = f" (derived: {', '.join(sorted(m.derived))})" if m.derived else ""
        print(f"{doc_id}  {m.title or 'untitled'} · {m.publisher or 'publisher unknown'} · "
              f"{format_date(m.published, m.date_estimated) or 'undated'} · "
              f"{counts.get(doc_id, 0)} passages{derived}")
    return 0
