"""Content-addressed store of every knowledge-base version that was loaded.

``data_dir/kb/<kb_version>/`` holds the exact files a version was built from (the
article files and ``manifest.toml``, which also carries the extra cleaning
patterns), so an audited answer can be re-run against the text it came from.
``data_dir/kb/<kb_version>.json`` lists each file's SHA-256 for ``verify``.

A version directory appears whole or not at all (built in a temporary directory and
renamed), is never modified afterwards, and hashes to its name: ``save`` recomputes
the kb_version of what it copied and refuses a mismatch, which is what happens when
the source directory changes between load and save.

Each distinct file is stored once, as ``data_dir/kb-files/<sha256>``, and linked into
every version that has it (hard links; a copy where the file system has none): a new
version of a 20,000-article knowledge base after one edit writes one file and 20,000
links, not 20,000 files each flushed to disk. Files never change once stored; altering
one through a version directory alters it in every version that links it, which
``verify`` reports for each.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from knowledge.ingest.loader import kb_version_from_digests

_VERSION_RE = re.compile(r"[0-9a-f]{8,64}")
BLOB_DIR = "kb-files"
# New files stored at once beyond which one ``sync`` flushes them all, rather than an
# fsync each (a first save of a large knowledge base: thousands of small files).
_SYNC_ALL_FROM = 64


class SavedVersionError(Exception):
    """A knowledge-base version could not be stored or does not match its name."""


def _check_version(kb_version: str) -> None:
    if not _VERSION_RE.fullmatch(kb_version):
        raise SavedVersionError(f"not a kb_version: {kb_version!r}")


def _check_name(name: str) -> None:
    # A plain name: no directory part, not hidden (which also rules out "." and "..").
    if not name or "/" in name or "\0" in name or name.startswith("."):
        raise SavedVersionError(f"not a plain file name for a knowledge-base file: {name!r}")


def kb_files(kb_dir: Path) -> dict[str, bytes]:
    """The files a knowledge base is made of: every visible regular file at the top."""
    files: dict[str, bytes] = {}
    for path in sorted(kb_dir.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        files[path.name] = path.read_bytes()
    return files


def fsync_dir(directory: Path) -> None:
    """Make a directory's entries (files created, renamed, linked) durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _link(blob: str, target: str) -> None:
    try:
        os.link(blob, target)
    except OSError:
        # No hard links here (another file system, or not supported): a copy.
        shutil.copyfile(blob, target)


def kb_version_of_files(files: Mapping[str, bytes]) -> str:
    return kb_version_from_digests((n, hashlib.sha256(d).digest()) for n, d in files.items())


@dataclass(frozen=True)
class SavedVersions:
    data_dir: Path

    @property
    def root(self) -> Path:
        return self.data_dir / "kb"

    def path(self, kb_version: str) -> Path | None:
        """The stored directory of ``kb_version``, or ``None`` if it was never saved."""
        if not _VERSION_RE.fullmatch(kb_version):
            return None
        candidate = self.root / kb_version
        return candidate if candidate.is_dir() else None

    def versions(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and _VERSION_RE.fullmatch(p.name)
        )

    def save(
        self,
        kb_dir: Path | None,
        kb_version: str,
        *,
        files: Mapping[str, bytes] | None = None,
        digests: Mapping[str, bytes] | None = None,
    ) -> Path:
        """Store ``kb_version``; idempotent and safe against concurrent savers.

        Pass ``files`` (name → the exact bytes the version was built from) or
        ``digests`` (name → their SHA-256; files not stored yet are read from
        ``kb_dir`` and must still have it) to avoid re-reading ``kb_dir``; otherwise
        ``kb_dir`` is read now. Raises ``SavedVersionError`` if the content does not
        hash to ``kb_version``.
        """
        _check_version(kb_version)
        existing = self.path(kb_version)
        if existing is not None:
            return existing
        if files is None and digests is None:
            if kb_dir is None:
                raise SavedVersionError("save needs kb_dir, files or digests")
            files = kb_files(kb_dir)
        if files is not None:
            digests = {name: hashlib.sha256(data).digest() for name, data in files.items()}
        assert digests is not None
        for name in digests:
            _check_name(name)
        actual = kb_version_from_digests(digests.items())
        if actual != kb_version:
            raise SavedVersionError(
                f"knowledge base content hashes to {actual}, not {kb_version} "
                "(did the directory change while loading?)"
            )
        self.root.mkdir(parents=True, exist_ok=True)
        final = self.root / kb_version
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{kb_version}-", dir=self.root))
        try:
            blobs = self._store_blobs(kb_dir, digests, files)
            target = str(tmp)
            for name, blob in blobs.items():
                _link(blob, os.path.join(target, name))
            fsync_dir(tmp)
            self._write_index(kb_version, kb_dir, digests)
            try:
                os.rename(tmp, final)
            except OSError:
                # Another saver won the race; its copy has the same content by construction.
                if self.path(kb_version) is None:
                    raise
        except OSError as exc:
            raise SavedVersionError(f"cannot store knowledge base {kb_version}: {exc}") from exc
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        fsync_dir(self.root)
        return final

    def _store_blobs(
        self,
        kb_dir: Path | None,
        digests: Mapping[str, bytes],
        files: Mapping[str, bytes] | None,
    ) -> dict[str, str]:
        """Each file's stored copy, storing those not stored yet."""
        root = str(self.data_dir / BLOB_DIR)
        blobs: dict[str, str] = {}
        written: list[str] = []
        # What is stored, listed once per subdirectory (a stat per file cost more).
        stored: dict[str, set[str]] = {}
        for name, digest in digests.items():
            hexdigest = digest.hex()
            blob = os.path.join(root, hexdigest[:2], hexdigest)
            blobs[name] = blob
            if hexdigest[:2] not in stored:
                try:
                    stored[hexdigest[:2]] = set(os.listdir(os.path.join(root, hexdigest[:2])))
                except OSError:
                    stored[hexdigest[:2]] = set()
            if hexdigest in stored[hexdigest[:2]]:
                continue
            data = files.get(name) if files is not None else None
            if data is None:
                if kb_dir is None:
                    raise SavedVersionError(f"{name}: not stored and no directory to read it from")
                data = (kb_dir / name).read_bytes()
                if hashlib.sha256(data).digest() != digest:
                    raise SavedVersionError(
                        f"{name} changed since it was loaded (did the directory change while "
                        "loading?)"
                    )
            os.makedirs(os.path.dirname(blob), exist_ok=True)
            fd, part = tempfile.mkstemp(prefix=".part-", dir=os.path.dirname(blob))
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                if len(digests) < _SYNC_ALL_FROM:
                    fh.flush()
                    os.fsync(fh.fileno())
            os.replace(part, blob)
            written.append(blob)
        if written and len(digests) >= _SYNC_ALL_FROM:
            os.sync()
        for directory in {os.path.dirname(b) for b in written}:
            fsync_dir(Path(directory))
        return blobs

    def _write_index(
        self, kb_version: str, kb_dir: Path | None, digests: Mapping[str, bytes]
    ) -> None:
        index = {
            "kb_version": kb_version,
            "saved_at": dt.datetime.now(dt.UTC).isoformat(),
            "source": str(kb_dir) if kb_dir is not None else None,
            "files": {name: digest.hex() for name, digest in sorted(digests.items())},
        }
        target = self.root / f"{kb_version}.json"
        fd, tmp_name = tempfile.mkstemp(prefix=f".tmp-{kb_version}-", suffix=".json", dir=self.root)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                # One line: at 100,000 files an indented dump took half a second.
                json.dump(index, fh, sort_keys=True)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def verify(self, kb_version: str) -> list[str]:
        """Problems with a stored version: missing, altered, extra files; [] when intact."""
        stored = self.path(kb_version)
        if stored is None:
            return [f"{kb_version}: not stored"]
        problems: list[str] = []
        try:
            index = json.loads((self.root / f"{kb_version}.json").read_text(encoding="utf-8"))
            expected: dict[str, str] = dict(index["files"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return [f"{kb_version}: file index unreadable ({exc})"]
        actual = kb_files(stored)
        for name in sorted(expected.keys() - actual.keys()):
            problems.append(f"{name}: missing")
        for name in sorted(actual.keys() - expected.keys()):
            problems.append(f"{name}: not part of the version")
        for name in sorted(expected.keys() & actual.keys()):
            if hashlib.sha256(actual[name]).hexdigest() != expected[name]:
                problems.append(f"{name}: content changed")
        if not problems and kb_version_of_files(actual) != kb_version:
            problems.append("content does not hash to the version")
        return problems
