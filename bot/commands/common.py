"""Helpers shared by CLI subcommands: settings, knowledge-base loading, error lines."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.settings import Settings, load_settings
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
    """The knowledge base, or None after printing every problem (one line each)."""
    try:
        return KnowledgeBase.load(settings.kb_dir, data_dir=settings.data_dir)
    except KBInvalid as exc:
        print("licensebot: the knowledge base cannot be loaded:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return None
