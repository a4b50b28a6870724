"""``licensebot audit verify | show | replay``: check, read and re-run the audit trail."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from bot.audit.replay import ReplayError, find_record, replay_record
from bot.audit.show import parse_since, select, write_csv, write_json, write_text
from bot.audit.verify import read_records, trail_files, verify_trail
from bot.settings import load_settings
from knowledge.store.saved import SavedVersions


def register(sub: Any) -> None:
    audit = sub.add_parser("audit", help="verify, show or replay the audit trail")
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)

    verify = audit_sub.add_parser(
        "verify", help="check that no record was edited, removed, inserted or reordered"
    )
    verify.add_argument(
        "path",
        nargs="?",
        type=Path,
        default=None,
        help="audit file (default: LICENSEBOT_AUDIT_PATH or DATA_DIR/audit.jsonl;"
        " its rotated segments are included)",
    )
    verify.add_argument(
        "--anchor",
        action="append",
        default=[],
        metavar="SEQ:HASH",
        help="a head noted earlier; fails if that record is gone or changed",
    )
    verify.set_defaults(func=run_verify)

    show = audit_sub.add_parser("show", help="list records, or export them")
    show.add_argument("--path", type=Path, default=None, help="audit file (default as verify)")
    show.add_argument("--since", metavar="ISO", help="only records at or after this UTC time")
    show.add_argument(
        "--user",
        action="append",
        default=[],
        metavar="U",
        help="only this user (Slack user id or OS user); repeatable",
    )
    show.add_argument(
        "--event",
        action="append",
        default=[],
        metavar="E",
        help="only this event (e.g. answer.served); repeatable",
    )
    fmt = show.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="one JSON record per line")
    fmt.add_argument("--csv", action="store_true", help="CSV with a header row")
    show.set_defaults(func=run_show)

    replay = audit_sub.add_parser(
        "replay", help="re-run a recorded answer against its knowledge-base version"
    )
    replay.add_argument("seq", type=int, help="seq of an answer.served record")
    replay.add_argument("--path", type=Path, default=None, help="audit file (default as verify)")
    replay.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where KB versions are kept (default LICENSEBOT_DATA_DIR)",
    )
    replay.add_argument("--json", action="store_true", help="print one JSON object")
    replay.set_defaults(func=run_replay)


def _audit_path(explicit: Path | None) -> Path:
    return explicit if explicit is not None else load_settings().resolved_audit_path


def _parse_anchor(text: str) -> tuple[int, str]:
    seq, sep, digest = text.partition(":")
    if not sep or not seq.isdigit() or len(digest) != 64:
        raise SystemExit(f"licensebot: --anchor must be SEQ:HASH (64 hex digits), got {text!r}")
    return int(seq), digest.lower()


def run_verify(args: argparse.Namespace) -> int:
    path = _audit_path(args.path)
    anchors = dict(_parse_anchor(a) for a in args.anchor)
    result = verify_trail(path, anchors=anchors)
    if result.bad is not None:
        print(f"chain broken at {result.bad}")
        print(f"{result.records} records intact before it")
        return 1
    print(f"{result.records} records, chain intact")
    if result.records:
        print(
            f"head: seq {result.head_seq} hash {result.head_hash} "
            f"({len(result.files)} file{'s' if len(result.files) != 1 else ''})"
        )
    return 0


def run_show(args: argparse.Namespace) -> int:
    path = _audit_path(args.path)
    if not trail_files(path)[0]:
        print(f"licensebot: no audit file at {path}", file=sys.stderr)
        return 1
    try:
        since = parse_since(args.since) if args.since else None
    except ValueError as exc:
        print(f"licensebot: --since: {exc}", file=sys.stderr)
        return 2
    records = select(read_records(path), since=since, users=set(args.user), events=set(args.event))
    writer = write_csv if args.csv else write_json if args.json else write_text
    try:
        writer(records, sys.stdout)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader (`| head`) has gone; stop quietly, and keep the interpreter's own
        # final flush from failing on the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def run_replay(args: argparse.Namespace) -> int:
    settings = load_settings()
    path = args.path if args.path is not None else settings.resolved_audit_path
    store = SavedVersions(args.data_dir if args.data_dir is not None else settings.data_dir)
    try:
        result = replay_record(find_record(path, args.seq), store, default_top=settings.top_k)
    except ReplayError as exc:
        print(f"licensebot: cannot replay: {exc}", file=sys.stderr)
        return 2
    if args.json:
        json.dump(
            {
                "seq": result.seq,
                "kb_version": result.kb_version,
                "same": result.same,
                "differences": list(result.differences),
                "notes": list(result.notes),
            },
            sys.stdout,
        )
        sys.stdout.write("\n")
    else:
        verdict = "same quotes" if result.same else "DIFFERENT quotes"
        print(
            f"seq {result.seq}: {verdict} from knowledge base {result.kb_version} "
            f"(top {result.top}, recorded by bot {result.recorded_bot_version})"
        )
        for line in (*result.differences, *result.notes):
            print(f"  {line}")
    return 0 if result.same else 1
