"""``licensebot audit verify | show | replay | export``: check, read, re-run and copy the
audit trail, a file or the PostgreSQL table (``LICENSEBOT_DATABASE_URL`` / ``--database-url``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from bot.audit.backend import TrailSource, source_for, write_export
from bot.audit.replay import ReplayError, replay_record
from bot.audit.show import parse_since, select, write_csv, write_json, write_text
from bot.audit.verify import VerifyResult
from bot.settings import Settings, load_settings
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
        help="audit file, or an export of the database (default: the database when"
        " LICENSEBOT_DATABASE_URL is set, else LICENSEBOT_AUDIT_PATH or DATA_DIR/audit.jsonl;"
        " its rotated segments are included)",
    )
    _add_database_option(verify)
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
    _add_database_option(show)
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
    _add_database_option(replay)
    replay.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where KB versions are kept (default LICENSEBOT_DATA_DIR)",
    )
    replay.add_argument("--json", action="store_true", help="print one JSON object")
    replay.set_defaults(func=run_replay)

    export = audit_sub.add_parser(
        "export",
        help="write the whole trail as JSON lines, byte for byte as the file trail stores them",
        description="Write every record, in chain order, as the file trail's JSON lines (a"
        " backup of the database that `licensebot audit verify FILE` checks). Reads the"
        " database when LICENSEBOT_DATABASE_URL or --database-url is set, else the audit file.",
    )
    export.add_argument(
        "--output",
        "-o",
        type=Path,
        default=None,
        metavar="FILE",
        help="write here (atomically, fsynced) instead of to standard output",
    )
    export.add_argument("--force", action="store_true", help="replace FILE if it exists")
    export.add_argument("--path", type=Path, default=None, help="audit file (default as verify)")
    _add_database_option(export)
    export.set_defaults(func=run_export)


def _add_database_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        default=None,
        metavar="URL",
        help="read the trail from this PostgreSQL database (default: LICENSEBOT_DATABASE_URL)",
    )


def _source(args: argparse.Namespace, settings: Settings | None = None) -> TrailSource | None:
    """The trail the command reads, or None after saying why not (a file and a database)."""
    path, url = getattr(args, "path", None), getattr(args, "database_url", None)
    if path is not None and url is not None:
        print("licensebot: give an audit file or --database-url, not both", file=sys.stderr)
        return None
    if url is not None and not url.strip():
        print("licensebot: --database-url is empty", file=sys.stderr)
        return None
    return source_for(settings or load_settings(), path=path, database_url=url)


def _existing_source(args: argparse.Namespace) -> tuple[TrailSource | None, int]:
    """``_source``, and for a file trail that it exists; else None and the exit code."""
    source = _source(args)
    if source is None:
        return None, 2
    if not source.exists():
        print(f"licensebot: no {source.describe()}", file=sys.stderr)
        return None, 1
    return source, 0


def _unreadable(source: TrailSource, exc: OSError) -> int:
    print(f"licensebot: cannot read the {source.describe()}: {exc}", file=sys.stderr)
    return 2


def _parse_anchor(text: str) -> tuple[int, str]:
    seq, sep, digest = text.partition(":")
    if not sep or not seq.isdigit() or len(digest) != 64:
        raise SystemExit(f"licensebot: --anchor must be SEQ:HASH (64 hex digits), got {text!r}")
    return int(seq), digest.lower()


def run_verify(args: argparse.Namespace) -> int:
    anchors = dict(_parse_anchor(a) for a in args.anchor)
    source = _source(args)
    if source is None:
        return 2
    try:
        result = source.verify(anchors=anchors)
    except OSError as exc:
        return _unreadable(source, exc)
    if result.bad is not None:
        print(f"chain broken at {result.bad}")
        print(f"{result.records} records intact before it")
        print(f"verified: {source.describe()}")
        return 1
    print(f"{result.records} records, chain intact")
    if result.records:
        where = (
            "database"
            if source.is_database
            else f"{len(result.files)} file{'s' if len(result.files) != 1 else ''}"
        )
        print(f"head: seq {result.head_seq} hash {result.head_hash} ({where})")
    print(f"verified: {source.describe()}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    source, code = _existing_source(args)
    if source is None:
        return code
    try:
        if args.output is None:
            result = source.export(sys.stdout.buffer)
            sys.stdout.buffer.flush()
        else:
            result = write_export(source, args.output, force=args.force)
    except FileExistsError as exc:
        print(f"licensebot: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        return _unreadable(source, exc)
    _report_export(result, source, args.output)
    return 0 if result.ok else 1


def _report_export(result: VerifyResult, source: TrailSource, output: Path | None) -> None:
    to = f" to {output}" if output is not None else ""
    print(f"exported {result.records} records from the {source.describe()}{to}", file=sys.stderr)
    if result.bad is not None:
        print(
            f"licensebot: the chain is broken at {result.bad}; every row was exported as stored",
            file=sys.stderr,
        )
    elif result.records:
        print(f"chain intact, head: seq {result.head_seq} hash {result.head_hash}", file=sys.stderr)


def run_show(args: argparse.Namespace) -> int:
    source, code = _existing_source(args)
    if source is None:
        return code
    try:
        since = parse_since(args.since) if args.since else None
    except ValueError as exc:
        print(f"licensebot: --since: {exc}", file=sys.stderr)
        return 2
    records = select(source.records(), since=since, users=set(args.user), events=set(args.event))
    writer = write_csv if args.csv else write_json if args.json else write_text
    try:
        writer(records, sys.stdout)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader (`| head`) has gone; stop quietly, and keep the interpreter's own
        # final flush from failing on the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except OSError as exc:
        return _unreadable(source, exc)
    return 0


def run_replay(args: argparse.Namespace) -> int:
    settings = load_settings()
    source = _source(args, settings)
    if source is None:
        return 2
    store = SavedVersions(args.data_dir if args.data_dir is not None else settings.data_dir)
    try:
        record = source.find(args.seq)
        if record is None:
            raise ReplayError(f"no record with seq {args.seq} in the {source.describe()}")
        result = replay_record(record, store, default_top=settings.top_k)
    except ReplayError as exc:
        print(f"licensebot: cannot replay: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        return _unreadable(source, exc)
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
