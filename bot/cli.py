"""The ``licensebot`` command line. Each feature lives in its own module under
``bot.commands`` exposing ``register(subparsers)``; a subcommand's handler takes the
parsed arguments and returns the exit code.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from bot import __version__
from bot.settings import SettingsError

# One line per feature module; keep this list the only place that knows them.
COMMAND_MODULES: tuple[str, ...] = (
    "bot.commands.ask",
    "bot.commands.kb",
    "bot.commands.evalkb",
    "bot.commands.audit",
    "bot.commands.timeline",
    "bot.commands.serve",
    "bot.commands.eval",
    "bot.commands.bench",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="licensebot",
        description="Answers questions about technology-licensing news with verbatim quotes.",
    )
    parser.add_argument("--version", action="version", version=f"licensebot {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    _quiet_logging()
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args))
    except SettingsError as exc:
        print(f"licensebot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader (``| head``) went away; say nothing more on a closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _quiet_logging() -> None:
    """Keep stdout for results: library logs go to stderr, warnings and above."""
    import logging  # noqa: PLC0415

    import structlog  # noqa: PLC0415

    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        # Resolved per logger: a stream bound once outlives redirections (and tests).
        logger_factory=lambda *_: structlog.PrintLogger(sys.stderr),
    )


if __name__ == "__main__":
    raise SystemExit(main())
