"""Turn a decoded article file into plain text plus any metadata its format states."""

from __future__ import annotations

import re
from dataclasses import dataclass

HTML_SUFFIXES = frozenset({".html", ".htm"})
MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
TEXT_SUFFIXES = frozenset({".txt"})
SUPPORTED_SUFFIXES = HTML_SUFFIXES | MARKDOWN_SUFFIXES | TEXT_SUFFIXES


@dataclass(frozen=True)
class Extracted:
    text: str
    title: str | None = None
    author: str | None = None
    publisher: str | None = None
    date: str | None = None
    url: str | None = None


class FormatError(ValueError):
    pass


def extract(suffix: str, content: str) -> Extracted:
    suffix = suffix.casefold()
    if suffix in HTML_SUFFIXES:
        return _from_html(content)
    if suffix in MARKDOWN_SUFFIXES:
        return _from_markdown(content)
    return Extracted(text=content)


def _from_html(html: str) -> Extracted:
    # Imported here: only HTML articles need it, and it costs every start 0.2 s.
    import trafilatura  # noqa: PLC0415

    text = trafilatura.extract(
        html,
        output_format="txt",
        include_comments=False,
        include_tables=False,
        # Deduplication keeps state across calls: a reloaded page would lose text.
        include_images=False,
        include_links=False,
        deduplicate=False,
    )
    if not text or not text.strip():
        raise FormatError("no article text found in the HTML")
    # Only a date the page states; the extensive search infers one from any year it sees.
    meta = trafilatura.extract_metadata(
        html, date_config={"extensive_search": False, "original_date": True}
    )
    if meta is None:
        return Extracted(text=text)
    # The page's own headline goes first, so the cleaner treats it as the title line.
    title = meta.title or None
    if title and not text.lstrip().startswith(title):
        text = f"{title}\n\n{text}"
    return Extracted(
        text=text,
        title=title,
        author=meta.author or None,
        publisher=meta.sitename or None,
        date=meta.date or None,
        url=meta.url or None,
    )


_FRONT_MATTER_RE = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)


def _from_markdown(md: str) -> Extracted:
    fields: dict[str, str] = {}
    m = _FRONT_MATTER_RE.match(md)
    if m:
        for line in m.group(1).splitlines():
            key, sep, value = line.partition(":")
            if sep:
                fields[key.strip().casefold()] = value.strip().strip("'\"")
        md = md[m.end() :]
    md = re.sub(r"```.*?```", "", md, flags=re.DOTALL)  # code is not article prose
    md = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", md)  # images
    md = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", md)  # links keep their text
    md = re.sub(r"<[^>\n]+>", "", md)  # inline HTML tags
    md = re.sub(r"^\s{0,3}#{1,6}\s*(.*?)\s*#*\s*$", r"\1", md, flags=re.MULTILINE)
    md = re.sub(r"^\s{0,3}>\s?", "", md, flags=re.MULTILINE)
    md = re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", md, flags=re.MULTILINE)
    md = re.sub(r"^\s*(?:[-*_]\s*){3,}$", "", md, flags=re.MULTILINE)
    md = re.sub(r"(\*\*|__)(.+?)\1", r"\2", md)
    md = re.sub(r"(?<![\w*])([*_])(?!\s)(.+?)(?<!\s)\1(?![\w*])", r"\2", md)
    md = re.sub(r"`([^`]+)`", r"\1", md)
    return Extracted(
        text=md,
        title=fields.get("title") or None,
        author=fields.get("author") or None,
        publisher=fields.get("publisher") or fields.get("site") or None,
        date=fields.get("date") or None,
        url=fields.get("url") or None,
    )
