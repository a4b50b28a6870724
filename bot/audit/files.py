"""Files of the audit trail: the active segment, its rotated predecessors, torn tails.

Layout for an audit path ``audit.jsonl``: rotated segments ``audit.jsonl.1``,
``audit.jsonl.2``, … (oldest first), then the active ``audit.jsonl``; the chain runs
through them in that order. A torn final line found at start is moved to
``audit.jsonl.torn-<UTC time>-<pid>`` so the evidence is kept but out of the chain.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

_CHUNK = 64 * 1024


def rotated_segments(path: Path) -> list[Path]:
    """Rotated segments of ``path``, oldest first (numeric order, not lexical)."""
    pattern = re.compile(re.escape(path.name) + r"\.(\d+)")
    found: list[tuple[int, Path]] = []
    if path.parent.is_dir():
        for entry in path.parent.iterdir():
            match = pattern.fullmatch(entry.name)
            if match:
                found.append((int(match.group(1)), entry))
    return [p for _, p in sorted(found)]


def chain_segments(path: Path) -> list[Path]:
    """Every file of the chain that ends in ``path``, in chain order."""
    segments = rotated_segments(path)
    if path.exists():
        segments.append(path)
    return segments


def fsync_dir(directory: Path) -> None:
    """Make a create/rename in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Tail:
    """The end of a segment: where the last complete line ends, and what follows it."""

    size: int  # bytes up to and including the last newline
    last_line: bytes | None  # the last complete line, without its newline
    torn: bytes  # bytes after the last newline (a crash mid-write)


def read_tail(path: Path) -> Tail:
    """Read just enough of the end of ``path`` to find its last complete line."""
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        return Tail(0, None, b"")
    with fh:
        end = os.fstat(fh.fileno()).st_size
        buf = b""
        pos = end
        # Grow the window backwards until it holds the newline ending the last complete
        # line and the newline before that line (or reaches the start of the file).
        while pos > 0:
            step = min(_CHUNK, pos)
            pos -= step
            fh.seek(pos)
            buf = fh.read(step) + buf
            last_nl = buf.rfind(b"\n")
            if last_nl != -1 and buf.rfind(b"\n", 0, last_nl) != -1:
                break
    last_nl = buf.rfind(b"\n")
    if last_nl == -1:
        return Tail(0, None, buf)
    line_start = buf.rfind(b"\n", 0, last_nl) + 1
    return Tail(size=pos + last_nl + 1, last_line=buf[line_start:last_nl], torn=buf[last_nl + 1 :])


def move_torn_tail(path: Path, tail: Tail) -> Path:
    """Copy the torn bytes to a side file, then cut them off ``path``; both durable."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    aside = path.with_name(f"{path.name}.torn-{stamp}-{os.getpid()}")
    with aside.open("xb") as out:
        out.write(tail.torn)
        out.flush()
        os.fsync(out.fileno())
    with path.open("r+b") as fh:
        fh.truncate(tail.size)
        fh.flush()
        os.fsync(fh.fileno())
    fsync_dir(path.parent)
    return aside


def open_append(path: Path) -> BinaryIO:
    return path.open("ab")


class Segment:
    """The active file, opened for append; every line is on disk when ``append`` returns."""

    def __init__(self, path: Path, fh: BinaryIO) -> None:
        self.path = path
        self._fh = fh
        st = os.fstat(fh.fileno())
        self.size = st.st_size
        self.inode = st.st_ino

    def append(self, data: bytes) -> None:
        """Write, flush, fsync. On failure try to cut back what was written, then raise."""
        try:
            self._fh.write(data)
            self._fh.flush()
            os.fsync(self._fh.fileno())
        except OSError:
            # A partial line would break the chain for the next writer; a complete one
            # not fsynced might still reach the disk for a record that was never
            # acknowledged. Cut back either way (best effort: a later open recovers).
            with contextlib.suppress(OSError, ValueError):
                os.ftruncate(self._fh.fileno(), self.size)
            raise
        self.size += len(data)

    def is_current(self) -> bool:
        """False when another writer appended to or rotated the file behind our back."""
        try:
            st = os.stat(self.path)
        except OSError:
            return False
        return st.st_ino == self.inode and st.st_size == self.size

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._fh.close()


def rotate(path: Path) -> Path:
    """Rename the active file to the next numbered segment; returns the new name."""
    existing = rotated_segments(path)
    last = int(existing[-1].name.rsplit(".", 1)[1]) if existing else 0
    target = path.with_name(f"{path.name}.{last + 1}")
    os.rename(path, target)
    fsync_dir(path.parent)
    return target


class InterProcessLock:
    """Exclusion between writers (processes or trails) sharing one audit file on a host.

    ``flock`` locks belong to the open file description, so two trails in one process
    exclude each other too. The descriptor stays open: one open per record would cost
    more than the lock itself. A forked child shares that description with its parent,
    so it opens its own.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._pid = os.getpid()

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        if self._fd is not None and self._pid != os.getpid():
            self._fd = None  # the parent's descriptor: leave it to the parent
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
