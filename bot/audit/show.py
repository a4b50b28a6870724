"""Selecting and presenting audit records: a readable listing, JSON lines, CSV export."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import Any, TextIO

CSV_COLUMNS: tuple[str, ...] = (
    "seq",
    "ts",
    "event",
    "request_id",
    "surface",
    "team",
    "channel",
    "user",
    "thread_ts",
    "host",
    "question",
    "answered",
    "reason",
    "kb_version",
    "top",
    "passage_ids",
    "quotes",
    "latency_ms",
    "outcome",
    "message_ts",
    "error",
    "ref",
    "bot_version",
    "hash",
    "details",
)
_CHAIN_FIELDS = frozenset({"prev_hash"})
# Spreadsheets run cells starting with these as formulas; questions are user input.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def parse_since(text: str) -> dt.datetime:
    """An ISO date or date-time; without a zone it is taken as UTC."""
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO date or date-time: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment


def record_time(rec: Mapping[str, Any]) -> dt.datetime | None:
    """When ``rec`` was written (its ``ts``, UTC when it names no zone); None if unreadable."""
    ts = rec.get("ts")
    if not isinstance(ts, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(ts)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def select(
    records: Iterable[Mapping[str, Any]],
    *,
    since: dt.datetime | None = None,
    users: Collection[str] = (),
    events: Collection[str] = (),
) -> Iterator[Mapping[str, Any]]:
    for rec in records:
        if since is not None:
            moment = record_time(rec)
            if moment is None or moment < since:
                continue
        if users and rec.get("user") not in users:
            continue
        if events and rec.get("event") not in events:
            continue
        yield rec


def _clip(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def summary(rec: Mapping[str, Any]) -> str:
    event = rec.get("event")
    if event == "answer.served":
        quotes = rec.get("quotes") or []
        state = "answered" if rec.get("answered") else f"not answered ({rec.get('reason')})"
        ids = ",".join(str(q.get("passage_id")) for q in quotes if isinstance(q, Mapping))
        question = rec.get("question")
        asked = f" {_clip(question, 60)!r}" if isinstance(question, str) else ""
        return f"{state}{asked} → {ids or 'no quotes'} [kb {rec.get('kb_version')}]"
    if event == "answer.delivered":
        if rec.get("outcome") == "failed":
            return f"failed: {rec.get('error')}"
        return f"delivered ts={rec.get('message_ts')}"
    skip = {"seq", "ts", "event", "surface", "user", "hash", "prev_hash", "bot_version"}
    return _clip(" ".join(f"{k}={v}" for k, v in sorted(rec.items()) if k not in skip), 120)


def format_line(rec: Mapping[str, Any]) -> str:
    return (
        f"{rec.get('seq', '?'):>6}  {rec.get('ts', '?')}  {rec.get('event', '?'):<18}  "
        f"{rec.get('surface') or '-':<15}  {rec.get('user') or '-':<12}  {summary(rec)}"
    )


def write_text(records: Iterable[Mapping[str, Any]], out: TextIO) -> int:
    n = 0
    for rec in records:
        out.write(format_line(rec) + "\n")
        n += 1
    return n


def write_json(records: Iterable[Mapping[str, Any]], out: TextIO) -> int:
    n = 0
    for rec in records:
        out.write(json.dumps(rec, ensure_ascii=False, sort_keys=True) + "\n")
        n += 1
    return n


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = (
        value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    )
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_row(rec: Mapping[str, Any]) -> list[str]:
    quotes = rec.get("quotes")
    passage_ids = (
        ";".join(str(q.get("passage_id")) for q in quotes if isinstance(q, Mapping))
        if isinstance(quotes, list)
        else None
    )
    known = set(CSV_COLUMNS) | _CHAIN_FIELDS
    details = {k: v for k, v in rec.items() if k not in known}
    values: dict[str, Any] = {**rec, "passage_ids": passage_ids, "details": details or None}
    if isinstance(values.get("answered"), bool):
        values["answered"] = "true" if values["answered"] else "false"
    return [_cell(values.get(col)) for col in CSV_COLUMNS]


def write_csv(records: Iterable[Mapping[str, Any]], out: TextIO) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    n = 0
    for rec in records:
        writer.writerow(csv_row(rec))
        n += 1
    return n
