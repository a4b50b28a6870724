"""Checking an audit trail end to end, and reading its records back.

The first record must have ``seq`` 1 and the genesis ``prev_hash``; each later one
the next ``seq``, the previous record's ``hash`` as ``prev_hash``, a ``hash`` that
matches its content, and the byte-exact canonical form the writer produced. What a
hash chain alone cannot show is the loss of records at the very end: compare the
head (``seq`` and ``hash`` printed by ``audit verify``) with one noted earlier
(``--anchor``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.audit.chain import GENESIS_HASH, canonical_json, record_hash
from bot.audit.files import chain_segments

_ROTATED_RE = re.compile(r".+\.\d+")


@dataclass(frozen=True)
class BadRecord:
    file: Path | str
    line: int
    seq: int | None
    reason: str

    def __str__(self) -> str:
        seq = f" (seq {self.seq})" if self.seq is not None else ""
        return f"{self.file}:{self.line}{seq}: {self.reason}"


@dataclass(frozen=True)
class VerifyResult:
    records: int
    files: tuple[Path, ...]
    head_seq: int
    head_hash: str
    bad: BadRecord | None = None
    first_seq: int = field(default=1)

    @property
    def ok(self) -> bool:
        return self.bad is None


def trail_files(path: Path) -> tuple[list[Path], bool]:
    """Files to verify for ``path`` and whether the chain must start at genesis.

    The active file stands for its whole rotated set; a single rotated segment
    (``audit.jsonl.3``) is checked on its own, starting wherever it starts.
    """
    if _ROTATED_RE.fullmatch(path.name) and path.is_file():
        return [path], False
    return chain_segments(path), True


def _check_line(
    raw: bytes, expected_seq: int | None, prev_hash: str | None
) -> tuple[dict[str, Any] | None, int | None, str | None]:
    """(record, seq, reason-if-bad) for one line; ``None`` expectations accept any start."""
    if not raw.endswith(b"\n"):
        return None, None, "torn line (no trailing newline)"
    body = raw[:-1]
    try:
        rec = json.loads(body.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return None, None, "unparseable line (not a JSON record)"
    if not isinstance(rec, dict):
        return None, None, "unparseable line (not a JSON object)"
    seq, digest, prev = rec.get("seq"), rec.get("hash"), rec.get("prev_hash")
    if not isinstance(seq, int) or not isinstance(digest, str) or not isinstance(prev, str):
        return rec, None, "missing seq, prev_hash or hash"
    if expected_seq is not None and seq != expected_seq:
        kind = "gap in seq" if seq > expected_seq else "seq out of order"
        return rec, seq, f"{kind} (expected {expected_seq}, found {seq})"
    if prev_hash is not None and prev != prev_hash:
        return rec, seq, "broken chain (prev_hash is not the previous record's hash)"
    if record_hash(rec) != digest:
        return rec, seq, "hash mismatch (record content changed)"
    if canonical_json(rec).encode("ascii") != body:
        return rec, seq, "not in canonical form (line edited)"
    return rec, seq, None


class ChainChecker:
    """Checks records one stored line at a time as one chain, stopping at the first bad one.

    Every store of the trail (files, a database table) feeds its lines in chain order;
    ``where`` and ``line`` only say where a bad record was found.
    """

    def __init__(
        self, *, from_genesis: bool = True, anchors: Mapping[int, str] | None = None
    ) -> None:
        self._expected_seq: int | None = 1 if from_genesis else None
        self._prev_hash: str | None = GENESIS_HASH if from_genesis else None
        self._pending = dict(anchors or {})
        self.count, self.head_seq, self.head_hash, self.first_seq = 0, 0, GENESIS_HASH, 1
        self.bad: BadRecord | None = None

    def feed(self, where: Path | str, line: int, raw: bytes) -> dict[str, Any] | None:
        """The record on ``raw`` (a line with its newline) if it continues the chain."""
        rec, seq, reason = _check_line(raw, self._expected_seq, self._prev_hash)
        if reason is not None or rec is None or seq is None:
            self.fail(BadRecord(where, line, seq, reason or "unreadable"))
            return None
        anchored = self._pending.pop(seq, None)
        if anchored is not None and anchored != rec["hash"]:
            self.fail(BadRecord(where, line, seq, "hash differs from the anchor"))
            return None
        if self.count == 0:
            self.first_seq = seq
        self.count += 1
        self.head_seq, self.head_hash = seq, str(rec["hash"])
        self._expected_seq, self._prev_hash = seq + 1, self.head_hash
        return rec

    def fail(self, bad: BadRecord) -> None:
        if self.bad is None:
            self.bad = bad

    def result(self, where: Path | str, files: tuple[Path, ...] = ()) -> VerifyResult:
        """The verdict once every line was fed; ``where`` names the end of the trail."""
        if self.bad is None and self._pending:
            missing = min(self._pending)
            self.fail(
                BadRecord(
                    where,
                    0,
                    missing,
                    f"anchored record seq {missing} is missing (trail truncated?)",
                )
            )
        return VerifyResult(
            self.count, files, self.head_seq, self.head_hash, self.bad, self.first_seq
        )


def verify_files(
    files: Sequence[Path], *, from_genesis: bool = True, anchors: Mapping[int, str] | None = None
) -> VerifyResult:
    """Verify ``files`` as one chain, in order; stops at the first bad record."""
    checker = ChainChecker(from_genesis=from_genesis, anchors=anchors)
    for path in files:
        try:
            fh = path.open("rb")
        except OSError as exc:
            checker.fail(BadRecord(path, 0, None, f"cannot read: {exc.strerror}"))
            break
        with fh:
            for lineno, raw in enumerate(fh, start=1):
                if checker.feed(path, lineno, raw) is None:
                    break
        if checker.bad is not None:
            break
    return checker.result(files[-1] if files else Path(), tuple(files))


def verify_trail(path: Path, *, anchors: Mapping[int, str] | None = None) -> VerifyResult:
    files, from_genesis = trail_files(path)
    if not files:
        return VerifyResult(0, (), 0, GENESIS_HASH, BadRecord(path, 0, None, "no audit file"))
    return verify_files(files, from_genesis=from_genesis, anchors=anchors)


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """Every parseable record of the trail ending in ``path``, in chain order.

    Lines that are not JSON objects (a torn tail) are skipped: reading is for
    display and replay; ``verify_trail`` is what judges integrity.
    """
    files, _ = trail_files(path)
    for segment in files:
        with segment.open("rb") as fh:
            for raw in fh:
                try:
                    rec = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(rec, dict):
                    yield rec
