"""The knowledge-base manifest: per-article metadata, extra cleaning patterns and the
knowledge base's own synonyms (TOML)."""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from knowledge.models import Problem
from knowledge.retrieval.synonyms import (
    MAX_RULES,
    RuleError,
    SynonymRule,
    compile_rules,
    parse_rule,
)
from knowledge.retrieval.tokenizer import default_analyzer

MANIFEST_NAME = "manifest.toml"

_ARTICLE_KEYS = frozenset(
    {"title", "publisher", "author", "published", "date", "date_note", "url", "via"}
)
_DOC_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_TOML_LINE_RE = re.compile(r"line (\d+)")


@dataclass(frozen=True)
class ManifestEntry:
    doc_id: str
    title: str | None = None
    publisher: str | None = None
    author: str | None = None
    published: dt.date | None = None
    date_estimated: bool = False
    date_note: str | None = None
    url: str | None = None
    via: str | None = None


@dataclass(frozen=True)
class Manifest:
    entries: dict[str, ManifestEntry] = field(default_factory=dict)
    # Regular expressions for page furniture specific to this knowledge base.
    extra_patterns: tuple[str, ...] = ()
    # ``[synonyms] rules``: Solr-format synonym rules (knowledge/retrieval/synonyms.py).
    synonyms: tuple[SynonymRule, ...] = ()
    # Articles whose entries are invalid (each a problem): left out of ``entries``.
    invalid_entries: frozenset[str] = frozenset()
    # False when the file could not be parsed at all (nothing of it is known).
    readable: bool = True


def valid_doc_id(doc_id: str) -> bool:
    return bool(_DOC_ID_RE.match(doc_id))


def _line_of(raw: str, doc_id: str) -> int | None:
    for n, line in enumerate(raw.splitlines(), start=1):
        stripped = line.strip().replace('"', "").replace("'", "")
        if stripped == f"[articles.{doc_id}]":
            return n
    return None


def _opt_str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def read_manifest(kb_dir: Path) -> tuple[Manifest, list[Problem]]:
    """Parse ``manifest.toml``; a missing manifest is an empty one, not an error."""
    path = kb_dir / MANIFEST_NAME
    if not path.exists():
        return Manifest(), []
    return parse_manifest(path.read_bytes())


def parse_manifest(data: bytes) -> tuple[Manifest, list[Problem]]:
    """Parse the bytes of a ``manifest.toml``."""
    try:
        raw = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Manifest(readable=False), [
            Problem(file=MANIFEST_NAME, reason=f"not UTF-8 ({exc.reason} at byte {exc.start})")
        ]
    try:
        parsed = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        m = _TOML_LINE_RE.search(str(exc))
        return Manifest(readable=False), [
            Problem(
                file=MANIFEST_NAME,
                line=int(m.group(1)) if m else None,
                reason=f"invalid TOML: {exc}",
            )
        ]
    return _manifest_of(parsed, raw)


def _manifest_of(data: dict[str, Any], raw: str) -> tuple[Manifest, list[Problem]]:
    problems: list[Problem] = []
    unknown_top = set(data) - {"articles", "cleaning", "synonyms"}
    for key in sorted(unknown_top):
        problems.append(Problem(file=MANIFEST_NAME, reason=f"unknown top-level key {key!r}"))

    patterns: list[str] = []
    cleaning = data.get("cleaning", {})
    if not isinstance(cleaning, dict):
        problems.append(Problem(file=MANIFEST_NAME, reason="[cleaning] must be a table"))
    else:
        raw_patterns = cleaning.get("extra_patterns", [])
        if not isinstance(raw_patterns, list) or not all(isinstance(p, str) for p in raw_patterns):
            problems.append(
                Problem(
                    file=MANIFEST_NAME, reason="cleaning.extra_patterns must be a list of strings"
                )
            )
        else:
            for pattern in raw_patterns:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    problems.append(
                        Problem(
                            file=MANIFEST_NAME, reason=f"bad cleaning pattern {pattern!r}: {exc}"
                        )
                    )
                else:
                    patterns.append(pattern)

    synonyms, synonym_problems = _parse_synonyms(data.get("synonyms", {}), raw)
    problems.extend(synonym_problems)

    entries: dict[str, ManifestEntry] = {}
    invalid: set[str] = set()
    articles = data.get("articles", {})
    if not isinstance(articles, dict):
        problems.append(Problem(file=MANIFEST_NAME, reason="[articles] must be a table"))
        articles = {}
    for doc_id, meta in articles.items():
        line = _line_of(raw, doc_id)
        if not valid_doc_id(doc_id):
            problems.append(
                Problem(file=MANIFEST_NAME, line=line, reason=f"invalid article id {doc_id!r}")
            )
            continue
        if not isinstance(meta, dict):
            problems.append(
                Problem(file=MANIFEST_NAME, line=line, reason=f"articles.{doc_id} must be a table")
            )
            invalid.add(doc_id)
            continue
        entry, entry_problems = _parse_entry(doc_id, meta, line)
        problems.extend(entry_problems)
        if entry is not None:
            entries[doc_id] = entry
        else:
            invalid.add(doc_id)
    manifest = Manifest(
        entries=entries,
        extra_patterns=tuple(patterns),
        synonyms=tuple(synonyms),
        invalid_entries=frozenset(invalid),
    )
    return manifest, problems


def _parse_synonyms(table: Any, raw: str) -> tuple[list[SynonymRule], list[Problem]]:
    if not isinstance(table, dict):
        return [], [Problem(file=MANIFEST_NAME, reason="[synonyms] must be a table")]
    line = _table_line(raw, "synonyms")
    problems = [
        Problem(file=MANIFEST_NAME, line=line, reason=f"synonyms: unknown key {key!r}")
        for key in sorted(set(table) - {"rules"})
    ]
    rules = table.get("rules", [])
    if not isinstance(rules, list) or not all(isinstance(r, str) for r in rules):
        problems.append(
            Problem(
                file=MANIFEST_NAME, line=line, reason="synonyms.rules must be a list of strings"
            )
        )
        return [], problems
    if len(rules) > MAX_RULES:
        problems.append(
            Problem(
                file=MANIFEST_NAME,
                line=line,
                reason=f"synonyms.rules has {len(rules)} rules; at most {MAX_RULES}",
            )
        )
        return [], problems
    parsed: list[SynonymRule] = []
    errors: list[RuleError] = []
    after = line or 0
    for text in rules:
        at = _string_line(raw, text, after)
        after = at or after
        rule = parse_rule(text, at)
        if isinstance(rule, RuleError):
            errors.append(rule)
        else:
            parsed.append(rule)
    errors.extend(compile_rules(parsed, default_analyzer().tokenize)[1])
    errors.sort(key=lambda e: e.line or 0)
    problems.extend(
        Problem(file=MANIFEST_NAME, line=e.line, reason=f"synonym rule {e.rule!r}: {e.reason}")
        for e in errors
    )
    return ([] if errors else parsed), problems


def _table_line(raw: str, name: str) -> int | None:
    for n, line in enumerate(raw.splitlines(), start=1):
        if line.strip().replace(" ", "") == f"[{name}]":
            return n
    return None


def _string_line(raw: str, text: str, after: int) -> int | None:
    """The line holding the string literal ``text``, the first one after line ``after``."""
    escaped: str = tomli_w.dumps({"x": text})[4:].strip()
    literals = (escaped, f"'{text}'", f'"{text}"')
    lines = raw.splitlines()
    order: list[int] = [*range(after + 1, len(lines) + 1), *range(1, after + 1)]
    for n in order:
        if any(lit in lines[n - 1] for lit in literals):
            return n
    return None


def _parse_entry(
    doc_id: str, meta: dict[str, Any], line: int | None
) -> tuple[ManifestEntry | None, list[Problem]]:
    problems = [
        Problem(file=MANIFEST_NAME, line=line, reason=f"articles.{doc_id}: unknown key {key!r}")
        for key in sorted(set(meta) - _ARTICLE_KEYS)
    ]
    published = meta.get("published")
    if isinstance(published, str) and published.strip():
        try:
            published = dt.date.fromisoformat(published.strip())
        except ValueError:
            problems.append(
                Problem(
                    file=MANIFEST_NAME,
                    line=line,
                    reason=f"articles.{doc_id}: published {published!r} is not YYYY-MM-DD",
                )
            )
            published = None
    elif isinstance(published, dt.datetime):
        published = published.date()
    elif published in ("", None):
        published = None
    elif not isinstance(published, dt.date):
        problems.append(
            Problem(
                file=MANIFEST_NAME, line=line, reason=f"articles.{doc_id}: published must be a date"
            )
        )
        published = None
    status = meta.get("date", "stated" if published else None)
    if status not in ("stated", "estimated", None):
        problems.append(
            Problem(
                file=MANIFEST_NAME,
                line=line,
                reason=f'articles.{doc_id}: date must be "stated" or "estimated"',
            )
        )
    for key in ("title", "publisher", "author", "url", "via", "date_note"):
        if key in meta and not isinstance(meta[key], str):
            problems.append(
                Problem(
                    file=MANIFEST_NAME,
                    line=line,
                    reason=f"articles.{doc_id}: {key} must be a string",
                )
            )
    if problems:
        return None, problems
    return (
        ManifestEntry(
            doc_id=doc_id,
            title=_opt_str(meta.get("title")),
            publisher=_opt_str(meta.get("publisher")),
            author=_opt_str(meta.get("author")),
            published=published,
            date_estimated=status == "estimated",
            date_note=_opt_str(meta.get("date_note")),
            url=_opt_str(meta.get("url")),
            via=_opt_str(meta.get("via")),
        ),
        [],
    )


def entry_to_toml_table(entry: ManifestEntry) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for key in ("title", "publisher", "author", "url", "via"):
        value = getattr(entry, key)
        if value:
            table[key] = value
    if entry.published is not None:
        table["published"] = entry.published
        table["date"] = "estimated" if entry.date_estimated else "stated"
    if entry.date_note:
        table["date_note"] = entry.date_note
    return table


def entry_to_json(entry: ManifestEntry) -> dict[str, Any]:
    """The entry as JSON-able values (dates as ISO text)."""
    table = entry_to_toml_table(entry)
    if entry.published is not None:
        table["published"] = entry.published.isoformat()
    return table


def render_entry(entry: ManifestEntry) -> str:
    """TOML text for one entry, to append to an existing manifest without rewriting it."""
    return tomli_w.dumps({"articles": {entry.doc_id: entry_to_toml_table(entry)}})
