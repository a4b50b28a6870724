"""Re-running an audited answer against the knowledge-base version that produced it."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.audit.records import ANSWER_SERVED
from bot.audit.verify import read_records
from knowledge.service import KBInvalid, KnowledgeBase
from knowledge.store.saved import SavedVersions

# Scores are compared loosely: a different BLAS or NumPy may move the last bits.
_SCORE_REL_TOL = 1e-9
_QUOTE_KEYS = ("passage_id", "doc_id", "start", "end", "text")


class ReplayError(Exception):
    """The record cannot be replayed (not found, not an answer, version not retained)."""


@dataclass(frozen=True)
class ReplayResult:
    seq: int
    kb_version: str
    question: str
    top: int
    same: bool
    differences: tuple[str, ...]
    notes: tuple[str, ...]
    recorded_bot_version: str | None


def find_record(audit_path: Path, seq: int) -> dict[str, Any]:
    for rec in read_records(audit_path):
        if rec.get("seq") == seq:
            return rec
    raise ReplayError(f"no record with seq {seq} in {audit_path}")


TIMELINE_SURFACES = frozenset({"timeline", "cli_timeline"})
CLAIM_SURFACES = frozenset({"check_claim"})


def _load(path: Path) -> KnowledgeBase:
    return KnowledgeBase.load(path, loaded_by="replay")


def _quote_key(q: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(q.get(k) for k in _QUOTE_KEYS)


def compare_quotes(
    recorded: list[Mapping[str, Any]], replayed: list[Mapping[str, Any]]
) -> tuple[list[str], list[str]]:
    """(differences, notes): differences in what was quoted; notes on scores only."""
    differences: list[str] = []
    notes: list[str] = []
    if len(recorded) != len(replayed):
        differences.append(f"{len(recorded)} quotes recorded, {len(replayed)} now")
    for i, (old, new) in enumerate(zip(recorded, replayed, strict=False), start=1):
        if _quote_key(old) != _quote_key(new):
            changed = [k for k in _QUOTE_KEYS if old.get(k) != new.get(k)]
            differences.append(
                f"quote {i}: {old.get('passage_id')} [{old.get('start')}:{old.get('end')}] "
                f"recorded, {new.get('passage_id')} [{new.get('start')}:{new.get('end')}] now "
                f"({', '.join(changed)} differ)"
            )
        old_score, new_score = old.get("score"), new.get("score")
        if (
            isinstance(old_score, int | float)
            and isinstance(new_score, int | float)
            and not math.isclose(old_score, new_score, rel_tol=_SCORE_REL_TOL)
        ):
            notes.append(f"quote {i}: score {old_score} recorded, {new_score} now")
    return differences, notes


def _said_on(record: Mapping[str, Any]) -> dt.date | None:
    said_on = record.get("said_on")
    if not isinstance(said_on, str):
        return None
    try:
        return dt.date.fromisoformat(said_on)
    except ValueError:
        return None


def replay_record(
    record: Mapping[str, Any],
    store: SavedVersions,
    *,
    load: Callable[[Path], KnowledgeBase] = _load,
    default_top: int = 3,
) -> ReplayResult:
    """Answer the recorded question again from the recorded kb_version and compare."""
    seq = int(record.get("seq", 0))
    if record.get("event") != ANSWER_SERVED:
        raise ReplayError(f"seq {seq} is a {record.get('event')!r} record, not {ANSWER_SERVED}")
    question, kb_version = record.get("question"), record.get("kb_version")
    # A timeline's "question" is its topic, and no topic at all is a valid request.
    is_timeline = record.get("surface") in TIMELINE_SURFACES or record.get("content") == "timeline"
    if is_timeline and question is None:
        question = ""
    if not isinstance(question, str):
        raise ReplayError(f"seq {seq} has no question to replay (surface {record.get('surface')})")
    if not isinstance(kb_version, str):
        raise ReplayError(f"seq {seq} has no kb_version")
    snapshot_dir = store.path(kb_version)
    if snapshot_dir is None:
        raise ReplayError(f"knowledge base {kb_version} is not retained under {store.root}")
    notes: list[str] = []
    top = record.get("top")
    if not isinstance(top, int) or top < 1:
        top = default_top
        notes.append(f"top was not recorded; replayed with top={top}")
    try:
        kb = load(snapshot_dir)
    except KBInvalid as exc:
        raise ReplayError(f"stored knowledge base {kb_version} no longer loads: {exc}") from exc
    if kb.kb_version != kb_version:
        raise ReplayError(
            f"stored knowledge base {kb_version} now hashes to {kb.kb_version} (altered copy)"
        )
    replayed: list[Mapping[str, Any]]
    if is_timeline:
        timeline = kb.timeline(question or None)
        answered = bool(timeline.events)
        replayed = list(timeline.audit_quotes())
    elif record.get("surface") in CLAIM_SURFACES:
        checked = kb.check_claims(question, said_on=_said_on(record))
        answered = any(s.matched for s in checked.statements)
        replayed = list(checked.audit_quotes())
    else:
        # A follow-up asking for "more" showed the answer without its first quotes.
        skip = record.get("skip")
        skip = skip if isinstance(skip, int) and skip > 0 else 0
        answer = kb.answer(question, top, skip=skip)
        answered, replayed = answer.answered, [q.audit_fields() for q in answer.quotes]
    differences: list[str] = []
    if answered != record.get("answered"):
        differences.append(f"answered was {record.get('answered')}, now {answered}")
    recorded_quotes = [q for q in record.get("quotes") or [] if isinstance(q, Mapping)]
    quote_diffs, score_notes = compare_quotes(recorded_quotes, replayed)
    differences.extend(quote_diffs)
    notes.extend(score_notes)
    bot_version = record.get("bot_version")
    return ReplayResult(
        seq=seq,
        kb_version=kb_version,
        question=question,
        top=top,
        same=not differences,
        differences=tuple(differences),
        notes=tuple(notes),
        recorded_bot_version=bot_version if isinstance(bot_version, str) else None,
    )
