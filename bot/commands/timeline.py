"""``licensebot timeline [TOPIC] [--json] [--kb DIR]``: the reported events, oldest first."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from bot.audit.backend import open_audit_trail
from bot.audit.records import UNAVAILABLE_MESSAGE, cli_context
from bot.commands.common import add_kb_option, open_kb, settings_for
from bot.commands.render import attribution
from handlers.deps import AuditUnavailable
from handlers.requests import new_request_id
from knowledge.answering.timeline import Timeline, TimelineEvent, TimelineSource

SURFACE = "cli_timeline"


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "timeline",
        help="the events the articles report, oldest first, with every article reporting each",
    )
    parser.add_argument(
        "topic",
        nargs="*",
        metavar="TOPIC",
        help="only events about this topic (e.g. entity list); none: every event",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_kb_option(parser)
    parser.set_defaults(func=run_timeline)


def run_timeline(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    settings = settings_for(args)
    kb = open_kb(settings)
    if kb is None:
        return 1
    topic = " ".join(args.topic).strip() or None
    timeline = kb.timeline(topic)
    request_id = new_request_id()
    try:
        with open_audit_trail(settings) as trail:
            trail.served(
                timeline.audit_fields(),
                surface=SURFACE,
                request_id=request_id,
                latency_ms=(time.perf_counter() - started) * 1000,
                **cli_context(),
            )
            if args.json:
                json.dump(timeline.to_json_dict(), sys.stdout, ensure_ascii=False)
                sys.stdout.write("\n")
            else:
                print(render_timeline(timeline))
            sys.stdout.flush()
            trail.delivered(
                surface=SURFACE,
                request_id=request_id,
                latency_ms=(time.perf_counter() - started) * 1000,
                **cli_context(),
            )
    except AuditUnavailable as exc:
        # An answer that cannot be audited is not given.
        print(f"licensebot: {UNAVAILABLE_MESSAGE} ({exc})", file=sys.stderr)
        return 1
    return 0


def _source_line(s: TimelineSource) -> str:
    return f"{attribution(s)}  [{s.passage_id}]"


def _date_line(e: TimelineEvent) -> str:
    if e.date is None:
        return f"undated (“{e.date_text}”: the article has no publication date)"
    if e.basis == "lead":
        return f"{e.date_label}  (the article's lead: news in the week up to its publication)"
    return f"{e.date_label}  (“{e.date_text}”)"


def render_event(e: TimelineEvent) -> str:
    lines = [_date_line(e), f"  “{e.text}”", f"  — {_source_line(e.sources[0])}"]
    for alt in e.alternatives:
        lines.append(
            f"  ⚠ the dates disagree: {alt.date.label} (“{alt.date_text}”) in "
            + ", ".join(alt.doc_ids)
        )
    if len(e.sources) > 1:
        lines.append("  also reported by:")
        for s in e.sources[1:]:
            said = f"“{s.date_text}”" if s.date_text else "its lead"
            lines.append(
                f"    • {_source_line(s)}: {s.date.label if s.date else 'undated'} ({said})"
            )
    return "\n".join(lines)


def render_timeline(timeline: Timeline) -> str:
    about = f" about “{timeline.topic}”" if timeline.topic else ""
    head = f"Timeline{about} — knowledge base {timeline.kb_version}"
    if not timeline.events:
        out = [head, "", timeline.reason or "No events."]
        if timeline.hint:
            out.append(timeline.hint.replace("/timeline", "licensebot timeline"))
        return "\n".join(out)
    n = len(timeline.events)
    blocks = [f"{head}: {n} event{'s' if n != 1 else ''}, oldest first (≈ estimated date)"]
    blocks.extend(render_event(e) for e in timeline.events)
    return "\n\n".join(blocks)
