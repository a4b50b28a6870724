"""Reading the audit trail back for the Slack surfaces: a user's last questions and the
gaps digest's items (refusals and not-helpful answers of a period).

The rules (``recent_questions``, ``gap_items``) work on records however they are read;
``FileHistory`` reads the audit files, ``DatabaseHistory`` the PostgreSQL table — never
the writer's state, so every process and replica sees the same history.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from bot.audit.files import chain_segments
from bot.audit.records import ANSWER_SERVED
from bot.audit.show import record_time
from handlers.deps import PastQuestion
from knowledge.evaluation.gaps import GapItem, GapKind
from knowledge.models import NOT_IN_KB, Refusal

FEEDBACK = "answer.feedback"
FEEDBACK_REASON = "answer.feedback_reason"
# Where people ask questions; a user's history shows these (not CLI runs or articles).
QUESTION_SURFACES = frozenset({"mention", "dm", "ask", "thread", "agent", "home"})
# How far back from the end a user's last questions are looked for: recent history is
# what the Home tab shows, and reading a 50 MiB trail on every visit would not do.
RECENT_SCAN_BYTES = 8 * 1024 * 1024
_BLOCK = 64 * 1024


def _reverse_lines(path: Path, budget: int) -> Iterator[bytes]:
    """Complete lines of ``path`` from the last to the first, at most ``budget`` bytes."""
    try:
        fh = path.open("rb")
    except OSError:
        return
    with fh:
        pos = fh.seek(0, os.SEEK_END)
        stop = max(0, pos - budget)
        rest = b""
        while pos > stop:
            size = min(_BLOCK, pos - stop)
            pos -= size
            fh.seek(pos)
            chunk = fh.read(size) + rest
            lines = chunk.split(b"\n")
            rest = lines[0]
            for line in reversed(lines[1:]):
                if line:
                    yield line
        if stop == 0 and rest:
            yield rest


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        rec = json.loads(raw)
    except ValueError:
        return None
    return rec if isinstance(rec, dict) else None


def _refused_for_lack(rec: Mapping[str, Any]) -> bool:
    """A refusal because the articles do not cover the question (not an empty one)."""
    if rec.get("answered") is not False:
        return False
    kind = rec.get("refusal")
    if isinstance(kind, str):
        try:
            return Refusal(kind).not_in_kb
        except ValueError:
            return False
    # Records written before the refusal kind was kept: its reason says it.
    reason = rec.get("reason")
    return isinstance(reason, str) and reason.startswith(NOT_IN_KB)


def _words(rec: Mapping[str, Any]) -> tuple[str, ...]:
    words = rec.get("unmatched_terms")
    if not isinstance(words, list):
        return ()
    return tuple(w for w in words if isinstance(w, str))


def recent_questions(
    newest_first: Iterable[Mapping[str, Any]], user: str, limit: int = 5
) -> list[PastQuestion]:
    """``user``'s last distinct questions from records read newest first."""
    found: list[PastQuestion] = []
    seen: set[str] = set()
    for rec in newest_first:
        if rec.get("event") != ANSWER_SERVED or rec.get("user") != user:
            continue
        if rec.get("surface") not in QUESTION_SURFACES:
            continue
        question = rec.get("asked") or rec.get("question")
        if not isinstance(question, str) or not question.strip():
            continue
        key = " ".join(question.casefold().split())
        if key in seen:
            continue
        seen.add(key)
        found.append(
            PastQuestion(
                question=question,
                request_id=str(rec.get("request_id") or ""),
                answered=rec.get("answered") is True,
                at=record_time(rec),
            )
        )
        if len(found) >= limit:
            break
    return found


def gap_items(oldest_first: Iterable[Mapping[str, Any]]) -> list[GapItem]:
    """Refusals for lack of an article, and answers marked not helpful (with the reason
    given in the feedback form, when there was one)."""
    items: list[GapItem] = []
    served: dict[str, Mapping[str, Any]] = {}
    feedback: dict[str, int] = {}  # feedback_id -> index of its item
    for rec in oldest_first:
        event = rec.get("event")
        rid = rec.get("request_id")
        if event == ANSWER_SERVED and isinstance(rid, str):
            served[rid] = rec
            question = rec.get("question")
            if _refused_for_lack(rec) and isinstance(question, str) and question.strip():
                items.append(
                    GapItem(
                        question=question,
                        kind=GapKind.REFUSED,
                        words=_words(rec),
                        at=record_time(rec),
                    )
                )
        elif event == FEEDBACK and rec.get("helpful") is False:
            answer = served.get(rid) if isinstance(rid, str) else None
            question = rec.get("question") or (answer or {}).get("question")
            if not isinstance(question, str) or not question.strip():
                continue
            fid = rec.get("feedback_id")
            if isinstance(fid, str):
                feedback[fid] = len(items)
            items.append(
                GapItem(
                    question=question,
                    kind=GapKind.NOT_HELPFUL,
                    words=_words(answer or {}),
                    at=record_time(rec),
                )
            )
        elif event == FEEDBACK_REASON:
            n = feedback.get(str(rec.get("feedback_id")))
            reason = rec.get("reason")
            if n is not None and isinstance(reason, str):
                items[n] = items[n].model_copy(update={"reason": reason})
    return items


class FileHistory:
    """``handlers.deps.AuditHistory`` over the audit files ending in ``path``."""

    def __init__(self, path: Path, *, scan_bytes: int = RECENT_SCAN_BYTES) -> None:
        self.path = Path(path)
        self.scan_bytes = scan_bytes

    def recent_questions(self, user: str, limit: int = 5) -> list[PastQuestion]:
        return recent_questions(self.newest_first(), user, limit)

    def gap_items(self, since: dt.datetime) -> list[GapItem]:
        return gap_items(self.records_since(since))

    def newest_first(self) -> Iterator[dict[str, Any]]:
        """Records from the end of the trail backwards, the last ``scan_bytes`` of it."""
        budget = self.scan_bytes
        for segment in reversed(chain_segments(self.path)):
            try:
                size = segment.stat().st_size
            except OSError:
                continue
            for raw in _reverse_lines(segment, budget):
                rec = _parse(raw)
                if rec is not None:
                    yield rec
            budget -= size
            if budget <= 0:
                return

    def records_since(self, since: dt.datetime) -> Iterator[dict[str, Any]]:
        """Records written at or after ``since``, oldest first; segments last written
        before ``since`` are not opened."""
        cutoff = since.timestamp()
        for segment in chain_segments(self.path):
            try:
                if segment.stat().st_mtime < cutoff:
                    continue
                fh = segment.open("rb")
            except OSError:
                continue
            with fh:
                for raw in fh:
                    rec = _parse(raw)
                    moment = record_time(rec) if rec is not None else None
                    if rec is not None and moment is not None and moment >= since:
                        yield rec


# The newest records a user's history is looked for in, on a database trail.
RECENT_SCAN_RECORDS = 5000


class DatabaseHistory:
    """``handlers.deps.AuditHistory`` over the PostgreSQL trail at ``url``."""

    def __init__(self, url: str, *, scan_records: int = RECENT_SCAN_RECORDS) -> None:
        self.url = url
        self.scan_records = scan_records

    def recent_questions(self, user: str, limit: int = 5) -> list[PastQuestion]:
        from bot.audit.postgres import newest_records  # noqa: PLC0415  (see bot.audit.backend)

        return recent_questions(
            newest_records(self.url, ANSWER_SERVED, self.scan_records), user, limit
        )

    def gap_items(self, since: dt.datetime) -> list[GapItem]:
        from bot.audit.postgres import records_since  # noqa: PLC0415

        return gap_items(records_since(self.url, since))
