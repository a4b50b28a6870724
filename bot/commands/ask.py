"""``licensebot ask`` and ``licensebot start`` (the credential-free terminal session)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from bot.audit.backend import Trail, open_audit_trail
from bot.audit.records import UNAVAILABLE_MESSAGE, cli_context, deliver_audited
from bot.commands.common import add_kb_option, open_kb, settings_for
from bot.commands.render import render_answer
from handlers.deps import AuditUnavailable
from knowledge.service import KnowledgeBase

SAMPLE_QUESTIONS = (
    "Which US companies is Huawei talking to about licensing its 5G technology?",
    "What did Vincent Pang say about the talks?",
    "When was Huawei added to the Entity List?",
)

CONNECT_SLACK = """\
Slack is not configured, so licensebot is answering here in the terminal.
To connect Slack: create an app from manifest.yml (api.slack.com/apps → From a manifest),
install it, then set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (HTTP mode, `licensebot serve`)
or SLACK_BOT_TOKEN and SLACK_APP_TOKEN (`licensebot serve --socket-mode`). See README.md."""


def register(sub: Any) -> None:
    ask = sub.add_parser("ask", help="answer one question from the knowledge base")
    ask.add_argument("question", help="the question, in quotes")
    ask.add_argument(
        "--top",
        type=_top_arg,
        default=None,
        metavar="N",
        help="at most N quotes (default 3, from 1 to 10)",
    )
    ask.add_argument("--json", action="store_true", help="print one JSON object")
    add_kb_option(ask)
    ask.set_defaults(func=run_ask)

    start = sub.add_parser(
        "start",
        help="serve Slack when credentials are set, otherwise an interactive terminal session",
    )
    add_kb_option(start)
    start.set_defaults(func=run_start)


def _top_arg(value: str) -> int:
    try:
        top = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if not 1 <= top <= 10:
        raise argparse.ArgumentTypeError("must be between 1 and 10")
    return top


def _top(args: argparse.Namespace, default: int) -> int:
    return int(args.top if args.top is not None else default)


def run_ask(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    top = _top(args, settings.top_k)
    kb = open_kb(settings)
    if kb is None:
        return 1
    with open_audit_trail(settings) as trail:
        return _answer(kb, trail, args.question, top, as_json=args.json)


def _answer(kb: KnowledgeBase, trail: Trail, question: str, top: int, *, as_json: bool) -> int:
    """Answer, audit (durably, before printing), print; exit 1 if it cannot be audited."""
    started = time.perf_counter()
    answer = kb.answer(question, top)

    def deliver() -> None:
        if as_json:
            json.dump(answer.to_json_dict(), sys.stdout, ensure_ascii=False)
            sys.stdout.write("\n")
        else:
            print(render_answer(answer, ansi=sys.stdout.isatty()))
        sys.stdout.flush()

    try:
        who = cli_context()
        deliver_audited(
            trail,
            answer,
            deliver,
            surface="cli_ask",
            top=top,
            started=started,
            user=who["user"],
            host=who["host"],
        )
    except AuditUnavailable:
        print(f"licensebot: {UNAVAILABLE_MESSAGE} ({trail.last_error})", file=sys.stderr)
        return 1
    return 0


def run_start(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    if settings.slack_bot_token is not None and (
        settings.slack_signing_secret is not None or settings.slack_app_token is not None
    ):
        from bot.commands import serve  # noqa: PLC0415  (only needed with Slack credentials)

        return int(
            serve.run_from_settings(settings, socket_mode=settings.slack_signing_secret is None)
        )
    kb = open_kb(settings)
    if kb is None:
        return 1
    print(CONNECT_SLACK, file=sys.stderr)
    snap = kb.snapshot
    print(
        f"\nKnowledge base {snap.kb_version}: {len(snap.articles)} articles, "
        f"{len(snap.passages)} passages.",
        file=sys.stderr,
    )
    interactive = sys.stdin.isatty()
    with open_audit_trail(settings) as trail:
        for question in _questions(interactive):
            if interactive and question.strip() in {"quit", "exit"}:
                break
            if not interactive:
                print(f"\n? {question}")
            if _answer(kb, trail, question, settings.top_k, as_json=False):
                return 1
    return 0


def _questions(interactive: bool) -> Any:
    if interactive:
        print("Ask a question (empty line or Ctrl-D to quit).", file=sys.stderr)
        while True:
            try:
                line = input("\n? ")
            except EOFError:
                return
            if not line.strip():
                return
            yield line
    else:
        piped = [line.strip() for line in sys.stdin if line.strip()] if not sys.stdin.closed else []
        # With nothing piped in (a first run, a CI job) show what the bot does.
        yield from piped or SAMPLE_QUESTIONS
