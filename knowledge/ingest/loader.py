"""Read and validate a knowledge-base directory into cleaned, attributed articles."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from knowledge.ingest.analysis import ANALYSIS_VERSION
from knowledge.ingest.cleaning import clean_text
from knowledge.ingest.derive import derive, parse_date
from knowledge.ingest.formats import SUPPORTED_SUFFIXES, FormatError, extract
from knowledge.ingest.manifest import (
    MANIFEST_NAME,
    Manifest,
    ManifestEntry,
    entry_to_json,
    read_manifest,
    valid_doc_id,
)
from knowledge.models import Article, ArticleMeta, Problem

MAX_ARTICLE_BYTES = 5 * 1024 * 1024
_BINARY_SAMPLE = 8192


@dataclass(frozen=True)
class LoadedKB:
    articles: tuple[Article, ...]
    manifest: Manifest
    problems: tuple[Problem, ...]
    kb_version: str
    # The exact bytes kb_version was computed from, by file name (for snapshots).
    files: Mapping[str, bytes] = field(default_factory=dict)


def check_bytes(name: str, data: bytes) -> tuple[str | None, Problem | None]:
    """Decode an article file, or say precisely why it is not a usable text file."""
    if not data.strip():
        return None, Problem(file=name, reason="empty file")
    if len(data) > MAX_ARTICLE_BYTES:
        return None, Problem(
            file=name, reason=f"file too large ({len(data)} bytes; limit {MAX_ARTICLE_BYTES})"
        )
    sample = data[:_BINARY_SAMPLE]
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13))
    if b"\x00" in sample or controls > len(sample) // 20:
        return None, Problem(file=name, reason="binary file, not text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, Problem(
            file=name,
            line=line,
            reason=f"not UTF-8: invalid byte 0x{data[exc.start]:02x} at offset {exc.start}",
        )
    return text, None


def build_article(
    name: str, data: bytes, entry: ManifestEntry | None, extra_patterns: Iterable[str] = ()
) -> tuple[Article | None, list[Problem]]:
    text, problem = check_bytes(name, data)
    if problem is not None or text is None:
        return None, [problem] if problem else []
    doc_id, suffix = Path(name).stem, Path(name).suffix
    try:
        extracted = extract(suffix, text)
    except FormatError as exc:
        return None, [Problem(file=name, reason=str(exc))]
    cleaned = clean_text(extracted.text, extra_patterns)
    if not cleaned.text.strip():
        return None, [
            Problem(file=name, reason="no article text left after removing page furniture")
        ]
    found = derive(extracted.text, cleaned.headline, cleaned.dateline, cleaned.text)
    e = entry or ManifestEntry(doc_id=doc_id)
    derived: set[str] = set()

    def pick(field: str, given: str | None, *candidates: str | None) -> str | None:
        if given:
            return given
        for candidate in candidates:
            if candidate:
                derived.add(field)
                return candidate
        return None

    published, estimated = e.published, e.date_estimated
    if published is None:
        stated = found.published or (parse_date(extracted.date) if extracted.date else None)
        if stated is not None:
            published, estimated = stated, False
            derived.add("published")
    meta = ArticleMeta(
        doc_id=doc_id,
        title=pick("title", e.title, extracted.title, found.title),
        publisher=pick("publisher", e.publisher, extracted.publisher, found.publisher),
        author=pick("author", e.author, extracted.author, found.author),
        published=published,
        date_estimated=estimated,
        url=pick("url", e.url, extracted.url),
        source_file=name,
        derived=frozenset(derived),
    )
    return Article(meta=meta, text=cleaned.text, content_hash=hashlib.sha256(data).hexdigest()), []


class ArticleKeys:
    """What an article's analysis depends on, hashed: its file name and bytes, its
    manifest entry, the cleaning patterns and how text is analysed (the analyzer's
    signature and ``ANALYSIS_VERSION``). Equal keys: equal article and analysis.

    What all articles share is hashed once; per article, its name, digest and entry."""

    def __init__(self, extra_patterns: Iterable[str], signature: str) -> None:
        shared = {
            "analysis": ANALYSIS_VERSION,
            "signature": signature,
            "patterns": list(extra_patterns),
        }
        self._shared = hashlib.sha256(json.dumps(shared, sort_keys=True).encode()).digest()

    def key(self, name: str, digest: bytes, entry: ManifestEntry | None) -> bytes:
        described = (
            b"" if entry is None else json.dumps(entry_to_json(entry), sort_keys=True).encode()
        )
        return hashlib.sha256(
            b"\0".join((self._shared, name.encode("utf-8"), digest, described))
        ).digest()


def article_key(
    *,
    name: str,
    digest: bytes,
    entry: ManifestEntry | None,
    extra_patterns: Iterable[str],
    signature: str,
) -> bytes:
    """One article's ``ArticleKeys`` key."""
    return ArticleKeys(extra_patterns, signature).key(name, digest, entry)


def article_key_of(article: Article, manifest: Manifest, signature: str) -> bytes:
    return article_key(
        name=article.meta.source_file,
        digest=bytes.fromhex(article.content_hash),
        entry=manifest.entries.get(article.doc_id),
        extra_patterns=manifest.extra_patterns,
        signature=signature,
    )


def article_entries(kb_dir: Path) -> tuple[list[os.DirEntry[str]], list[Problem]]:
    """The directory entries of the article files, by name, and problems with the rest.

    Entries carry their ``stat`` (read once, when first asked for): a large knowledge
    base is scanned for changes by size and time before any file is read.
    """
    files: list[os.DirEntry[str]] = []
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    with os.scandir(kb_dir) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        name = entry.name
        if name.startswith(".") or name == MANIFEST_NAME or entry.is_dir():
            continue
        stem, suffix = os.path.splitext(name)
        if suffix.casefold() not in SUPPORTED_SUFFIXES:
            problems.append(
                Problem(file=name, reason="unsupported file type (use .txt, .md or .html)")
            )
            continue
        if not valid_doc_id(stem):
            problems.append(Problem(file=name, reason="file name is not a valid article id"))
            continue
        if stem in seen:
            problems.append(Problem(file=name, reason=f"same article id as {seen[stem]}"))
            continue
        seen[stem] = name
        files.append(entry)
    return files, problems


def article_files(kb_dir: Path) -> tuple[list[Path], list[Problem]]:
    entries, problems = article_entries(kb_dir)
    return [kb_dir / e.name for e in entries], problems


def kb_version_of(items: Iterable[tuple[str, bytes]]) -> str:
    """Content hash of a knowledge base: every file's name and bytes, order-independent."""
    return kb_version_from_digests((name, hashlib.sha256(data).digest()) for name, data in items)


def kb_version_from_digests(items: Iterable[tuple[str, bytes]]) -> str:
    """``kb_version_of`` from each file's name and SHA-256 digest, without its bytes."""
    digest = hashlib.sha256()
    for name, file_digest in sorted(items):
        digest.update(name.encode() + b"\0" + file_digest)
    return digest.hexdigest()[:16]


def read_contents(kb_dir: Path, files: list[Path]) -> tuple[dict[str, bytes], list[Problem]]:
    """The bytes kb_version is computed from: the manifest, if any, and each article file."""
    contents: dict[str, bytes] = {}
    problems: list[Problem] = []
    manifest_path = kb_dir / MANIFEST_NAME
    if manifest_path.exists():
        contents[MANIFEST_NAME] = manifest_path.read_bytes()
    for path in files:
        try:
            contents[path.name] = path.read_bytes()
        except OSError as exc:
            problems.append(Problem(file=path.name, reason=f"cannot read: {exc.strerror}"))
    return contents, problems


def load_kb_dir(kb_dir: Path) -> LoadedKB:
    """Load everything and collect every problem; callers refuse the KB if any."""
    if not kb_dir.is_dir():
        return LoadedKB((), Manifest(), (Problem(file=str(kb_dir), reason="not a directory"),), "")
    manifest, problems = read_manifest(kb_dir)
    files, file_problems = article_files(kb_dir)
    problems.extend(file_problems)
    by_stem = {p.stem for p in files}
    for doc_id in manifest.entries:
        if doc_id not in by_stem:
            problems.append(
                Problem(file=MANIFEST_NAME, reason=f"entry {doc_id!r} has no article file")
            )
    contents, read_problems = read_contents(kb_dir, files)
    problems.extend(read_problems)
    articles: list[Article] = []
    for path in files:
        data = contents.get(path.name)
        if data is None:
            continue  # unreadable: already a problem
        article, article_problems = build_article(
            path.name, data, manifest.entries.get(path.stem), manifest.extra_patterns
        )
        problems.extend(article_problems)
        if article is not None:
            articles.append(article)
    return LoadedKB(
        tuple(articles), manifest, tuple(problems), kb_version_of(contents.items()), contents
    )
