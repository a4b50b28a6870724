"""The hash chain of the audit trail: canonical form, record hash, the record contract.

A record's ``hash`` is SHA-256 over the canonical JSON of every other field of the
record, ``prev_hash`` included, so changing, removing, inserting or reordering a
record breaks the chain at that point. Writer and verifier share these functions;
anything that changes them changes what "intact" means.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
import math
import re
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from pydantic import BaseModel
from structlog.typing import EventDict

from bot.redact import REDACTED, TOKENS_ONLY, Redactor, is_secret_field

GENESIS_HASH = "0" * 64
HASH_FIELD = "hash"
# Set by the trail itself; a caller passing one of these is a programming error.
RESERVED_FIELDS = frozenset({"seq", "prev_hash", "hash", "ts", "event"})


def canonical_json(value: Mapping[str, Any]) -> str:
    """One byte-exact serialisation: sorted keys, no whitespace, ASCII only.

    ASCII escapes keep lone surrogates from Slack payloads encodable and make the
    form independent of the file encoding.
    """
    return json.dumps(
        dict(value), sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


def record_hash(record: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of ``record`` without its own ``hash``."""
    body = {k: v for k, v in record.items() if k != HASH_FIELD}
    return hashlib.sha256(canonical_json(body).encode("ascii")).hexdigest()


def to_record_value(value: Any, redactor: Redactor = TOKENS_ONLY) -> Any:
    """A JSON value that survives a dump/load round trip unchanged, secrets removed.

    The round trip matters: the verifier recomputes hashes from the parsed line, so
    whatever is hashed must be exactly what ``json.loads`` gives back.
    """
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, str):
        return redactor.text(value)
    if isinstance(value, enum.Enum):
        return to_record_value(value.value, redactor)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, PurePath):
        return redactor.text(str(value))
    if isinstance(value, BaseModel):
        return to_record_value(value.model_dump(mode="json"), redactor)
    if isinstance(value, Mapping):
        return scrub_fields(value, redactor)
    if isinstance(value, set | frozenset):
        return sorted((to_record_value(v, redactor) for v in value), key=canonical_sort_key)
    if isinstance(value, list | tuple):
        return [to_record_value(v, redactor) for v in value]
    if isinstance(value, bytes):
        return redactor.text(value.decode("utf-8", errors="replace"))
    return redactor.text(str(value))


def scrub_fields(fields: Mapping[Any, Any], redactor: Redactor = TOKENS_ONLY) -> dict[str, Any]:
    """Record-safe copy of ``fields`` (``bot.redact``): secret-named keys redacted, secrets
    taken out of every value, values normalised."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        name = str(key)
        out[name] = REDACTED if is_secret_field(name, value) else to_record_value(value, redactor)
    return out


def canonical_sort_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=True)


_EVENT_RE = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+")


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


# The record contract every trail (the file, bot.audit.postgres's table) follows: what it
# refuses, then scrub → stamp → link → canonical JSON.


def check_event(event: str, fields: Mapping[str, Any]) -> None:
    """Refuse a malformed event name or a field the trail sets itself (programming errors)."""
    if not _EVENT_RE.fullmatch(event):
        raise ValueError(f"audit event must be a dotted lower-case name: {event!r}")
    clash = RESERVED_FIELDS & fields.keys()
    if clash:
        raise ValueError(f"audit fields set by the trail itself: {sorted(clash)}")


def stamp(record: EventDict, moment: dt.datetime, bot_version: str) -> EventDict:
    """Add the UTC time and, unless the caller gave one, the bot version."""
    record["ts"] = _iso(moment)
    record.setdefault("bot_version", bot_version)
    return record


def link(record: EventDict, seq: int, prev_hash: str) -> EventDict:
    """Make ``record`` the ``seq``-th of the chain, after the record hashed ``prev_hash``."""
    record["seq"] = seq
    record["prev_hash"] = prev_hash
    record["hash"] = record_hash(record)
    return record
