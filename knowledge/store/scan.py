"""Which files of a knowledge-base directory changed, by size and times first.

A scan lists the article files and the manifest as the loader does, then takes each
file's content hash from the last scan of the same directory when its size, times and
inode are what they were, and reads and hashes only the others. The state of the last
scan is ``<data_dir>/loaded/dirs/<hash of the directory's path>.npz``.

A file changed within the file system's timestamp resolution of the last scan could
keep its size and times: states recorded less than ``RACY_NS`` after a file's last
change are not trusted, and the file is hashed again (git's "racy clean" rule).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from knowledge.ingest.loader import article_entries, kb_version_from_digests
from knowledge.ingest.manifest import MANIFEST_NAME
from knowledge.models import Problem

STATE_DIR = "dirs"
RACY_NS = 2_000_000_000
# Bytes of changed files a scan keeps for the analysis that follows (the rest is read
# again there): a first build of a large knowledge base should not hold all of it.
KEEP_READ_BYTES = 64 * 1024 * 1024

_Stat = tuple[int, int, int, int]  # size, mtime_ns, ctime_ns, inode


@dataclass(frozen=True)
class DirScan:
    """The files a knowledge-base directory is made of now, and their content hashes."""

    kb_dir: Path
    # Article files in load order; the manifest is in ``digests`` when there is one.
    names: tuple[str, ...]
    problems: tuple[Problem, ...]
    digests: Mapping[str, bytes]
    # Bytes read by the scan (changed files, within KEEP_READ_BYTES).
    read: Mapping[str, bytes] = field(default_factory=dict)
    hashed: int = 0  # files read and hashed (the rest were unchanged by size and times)

    @property
    def kb_version(self) -> str:
        return kb_version_from_digests(self.digests.items())

    @property
    def has_manifest(self) -> bool:
        return MANIFEST_NAME in self.digests


def scan_dir(kb_dir: Path, state_root: Path | None) -> DirScan:
    """Scan ``kb_dir``, trusting the last scan's hashes (kept under ``state_root``) for
    files whose size and times did not change; without ``state_root``, hash everything."""
    entries, problems = article_entries(kb_dir)
    known = _read_state(state_root, kb_dir) if state_root is not None else {}
    seen_ns = time.time_ns()
    states: dict[str, tuple[_Stat, bytes, int]] = {}
    digests: dict[str, bytes] = {}
    read: dict[str, bytes] = {}
    kept = hashed = 0
    candidates = [(e.name, e.path) for e in entries]
    manifest = os.path.join(kb_dir, MANIFEST_NAME)
    if os.path.exists(manifest):
        candidates.append((MANIFEST_NAME, manifest))
    names: list[str] = []
    for name, path in candidates:
        try:
            st = os.stat(path)
        except OSError as exc:
            problems.append(Problem(file=name, reason=f"cannot read: {exc.strerror}"))
            continue
        stat: _Stat = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
        previous = known.get(name)
        if (
            previous is not None
            and previous[0] == stat
            and previous[2] - max(stat[1], stat[2]) > RACY_NS
        ):
            digest, recorded = previous[1], previous[2]
        else:
            try:
                with open(path, "rb") as fh:
                    data = fh.read()
            except OSError as exc:
                problems.append(Problem(file=name, reason=f"cannot read: {exc.strerror}"))
                continue
            digest, recorded = hashlib.sha256(data).digest(), seen_ns
            hashed += 1
            if kept + len(data) <= KEEP_READ_BYTES:
                read[name] = data
                kept += len(data)
        digests[name] = digest
        states[name] = (stat, digest, recorded)
        if name != MANIFEST_NAME:
            names.append(name)
    if state_root is not None and (hashed or known.keys() != states.keys()):
        _write_state(state_root, kb_dir, states)
    return DirScan(
        kb_dir=kb_dir,
        names=tuple(names),
        problems=tuple(problems),
        digests=digests,
        read=read,
        hashed=hashed,
    )


def read_checked(scan: DirScan, name: str) -> bytes:
    """A file's bytes as the scan hashed them; ``OSError`` when it cannot be read, and
    ``ChangedWhileLoading`` when it no longer has the hash the scan gave it."""
    data = scan.read.get(name)
    if data is None:
        data = (scan.kb_dir / name).read_bytes()
        if hashlib.sha256(data).digest() != scan.digests[name]:
            raise ChangedWhileLoading(name)
    return data


class ChangedWhileLoading(Exception):
    """A file changed between the scan and reading it for analysis."""


def _state_path(root: Path, kb_dir: Path) -> Path:
    key = hashlib.sha256(str(kb_dir.resolve()).encode()).hexdigest()[:16]
    return root / STATE_DIR / f"{key}.npz"


def _read_state(root: Path, kb_dir: Path) -> dict[str, tuple[_Stat, bytes, int]]:
    try:
        with np.load(_state_path(root, kb_dir), allow_pickle=False) as data:
            if data["kb_dir"].tobytes().decode("utf-8") != str(kb_dir.resolve()):
                return {}
            names = data["names"].tobytes().decode("utf-8").split("\n")
            stats = data["stats"].tolist()
            digests = data["digests"]
            seen = data["seen"].tolist()
    except (OSError, ValueError, KeyError, UnicodeDecodeError):
        return {}
    if not (len(names) == len(stats) == len(seen) == digests.shape[0]):
        return {}
    return {
        name: ((stat[0], stat[1], stat[2], stat[3]), digests[i].tobytes(), seen[i])
        for i, (name, stat) in enumerate(zip(names, stats, strict=True))
    }


def _write_state(root: Path, kb_dir: Path, states: Mapping[str, tuple[_Stat, bytes, int]]) -> None:
    """Best effort: without it the next scan hashes more, nothing else."""
    path = _state_path(root, kb_dir)
    names = list(states)
    arrays: dict[str, npt.NDArray[Any]] = {
        "kb_dir": np.frombuffer(str(kb_dir.resolve()).encode("utf-8"), dtype=np.uint8),
        "names": np.frombuffer("\n".join(names).encode("utf-8"), dtype=np.uint8),
        "stats": np.array([states[n][0] for n in names], dtype=np.int64).reshape(-1, 4),
        "digests": np.frombuffer(b"".join(states[n][1] for n in names), dtype=np.uint8).reshape(
            -1, 32
        ),
        "seen": np.array([states[n][2] for n in names], dtype=np.int64),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".state-", suffix=".npz", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, allow_pickle=False, **arrays)
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    except OSError:
        pass
