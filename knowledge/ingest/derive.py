"""Metadata read off the article text where the manifest does not give it.

Only what the text states is derived; anything else stays empty. Callers mark every
field taken from here as derived.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from knowledge.ingest.cleaning import ELLIPSIS, normalise_lines
from knowledge.ingest.sentences import split_sentences

_TITLE_MAX = 100
_MONTHS = {
    m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), start=1)
}

_BYLINE_RE = re.compile(r"^by\s+((?:[A-Z][\w'’.-]+\s?){2,4})(?:[,|·]|$)", re.IGNORECASE)
_BIO_RE = re.compile(
    r"^((?:[A-Z][\w'’.-]+\s){1,3})is\s+((?:[A-Z0-9][\w&!.-]*\s?){1,4})['’]s\s+"
    r"(?:\w+\s+){0,4}(?:writer|editor|journalist|reporter|correspondent|expert|contributor|columnist|analyst)"
)
_SIGNUP_RE = re.compile(
    r"^sign\s*up\s+(?:to|for)\s+(?:the\s+)?((?:[A-Z0-9][\w&!.-]*\s?){1,4}?)\s*(?:e-?mail|newsletter)",
    re.IGNORECASE,
)
# A footer, not prose about copyright: "©", or "Copyright" followed by © or a year.
_COPYRIGHT_LINE_RE = re.compile(r"^(?:©|copyright\s*(?:©|\(c\)|\d{4}))", re.IGNORECASE)
_COPYRIGHT_RE = re.compile(
    r"^(?:©|copyright\b)\s*(?:©\s*|\(c\)\s*)?(?:\d{4}(?:\s*[-–]\s*\d{4})?\s*)?"
    r"(?P<pub>[^.,|©]+?)\s*(?:\.|,|\||\ball\s+rights\b|$)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Derived:
    title: str | None = None
    publisher: str | None = None
    author: str | None = None
    published: dt.date | None = None


def parse_date(text: str) -> dt.date | None:
    text = text.strip().rstrip(",")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        pass
    m = re.match(r"([A-Za-z]+)\.?\s+(\d{1,2}),?\s+(\d{4})$", text) or None
    if m:
        month, day, year = m.group(1), m.group(2), m.group(3)
    else:
        m = re.match(r"(\d{1,2})\s+([A-Za-z]+)\.?,?\s+(\d{4})$", text)
        if not m:
            return None
        day, month, year = m.group(1), m.group(2), m.group(3)
    mon = _MONTHS.get(month[:3].casefold())
    if mon is None:
        return None
    try:
        return dt.date(int(year), mon, int(day))
    except ValueError:
        return None


def title_from_lead(body: str) -> str | None:
    """A title made of the lead sentence's words, cut at a clause or word boundary."""
    # The lead sentence lies in the first paragraph: splitting the rest would only cost.
    first_break = body.find("\n")
    spans = split_sentences(body if first_break == -1 else body[:first_break])
    if not spans:
        return None
    lead = body[spans[0][0] : spans[0][1]].rstrip(".!?")
    comma = lead.find(", ", 40)
    if comma != -1:
        lead = lead[:comma]
    if len(lead) > _TITLE_MAX:
        cut = lead.rfind(" ", 0, _TITLE_MAX)
        lead = lead[: cut if cut > 0 else _TITLE_MAX].rstrip(",;:") + ELLIPSIS
    return lead or None


def derive(raw: str, headline: str | None, dateline: str | None, body: str) -> Derived:
    lines = [line for line in normalise_lines(raw) if line]
    author = publisher = None
    for line in lines:
        if author is None and (m := _BYLINE_RE.match(line)):
            author = m.group(1).strip()
        if m := _BIO_RE.match(line):
            author = author or m.group(1).strip()
            publisher = publisher or m.group(2).strip()
        if publisher is None and (m := _SIGNUP_RE.match(line)):
            publisher = m.group(1).strip()
        if (
            publisher is None
            and _COPYRIGHT_LINE_RE.match(line)
            and (m := _COPYRIGHT_RE.match(line))
        ):
            publisher = m.group("pub").strip() or None
    return Derived(
        title=headline or title_from_lead(body),
        publisher=publisher,
        author=author,
        published=parse_date(dateline) if dateline else None,
    )
