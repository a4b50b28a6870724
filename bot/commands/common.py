"""Helpers shared by CLI subcommands: settings, knowledge-base loading, error lines."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.commands.progress import TerminalProgress
from bot.settings import Settings, load_settings
from knowledge.models import Problem
from knowledge.service import KBInvalid, KnowledgeBase


def add_kb_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kb",
        metavar="DIR",
        type=Path,
        default=None,
        help="knowledge-base directory (default: LICENSEBOT_KB_DIR or the bundled one)",
    )


def settings_for(args: argparse.Namespace) -> Settings:
    kb = getattr(args, "kb", None)
    return load_settings(kb_dir=kb) if kb is not None else load_settings()


def open_kb(settings: Settings) -> KnowledgeBase | None:
    """The knowledge base, or None after printing every problem (one line each).

    A first build of a large knowledge base shows its stages on the terminal; with
    ``LICENSEBOT_KB_SKIP_INVALID`` the valid articles are served and the skipped ones
    listed.
    """
    try:
        return load_kb(settings)
    except KBInvalid as exc:
        print_problems("the knowledge base cannot be loaded:", exc.problems)
        return None


def load_kb(settings: Settings) -> KnowledgeBase:
    """``KnowledgeBase.load`` with the settings' directories, the terminal progress bar
    and ``LICENSEBOT_KB_SKIP_INVALID``; raises ``KBInvalid``."""
    bar = TerminalProgress()
    try:
        kb = KnowledgeBase.load(
            settings.kb_dir,
            data_dir=settings.data_dir,
            skip_invalid=settings.kb_skip_invalid,
            progress=bar,
        )
    finally:
        bar.close()
    if kb.snapshot.skipped:
        served = len(kb.snapshot.articles)
        print_problems(
            f"serving {served} valid articles; skipped (LICENSEBOT_KB_SKIP_INVALID):",
            kb.snapshot.skipped,
        )
    return kb


def print_problems(title: str, problems: Sequence[Problem]) -> None:
    print(f"licensebot: {title}", file=sys.stderr)
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
