"""Remove page furniture from scraped article text by general rules.

The rules describe how news pages are built (headline, caption, credit line, body, then
author bio, sign-up box and lists of other headlines), not these particular files.

A notice rule (credit, copyright, cookie or sign-up line) removes a whole line only when
the line holds no sentence of prose. From a line with prose it removes only short notice
sentences at either end ("© Jane Doe 2013. All rights reserved." before an abstract), so
a paragraph of prose is never dropped because some of its words look like furniture.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from knowledge.ingest.sentences import split_sentences

ELLIPSIS = "…"

# A line that opens the page's trailing furniture: it and everything after it go.
_TAIL_MARKERS = re.compile(
    r"""^(?:latest\s+in\b|more\s+in\b|more\s+from\b|recent\s+(?:articles|posts|stories|news)\b
    |related\s+(?:articles|stories|posts|content|news)\b|read\s+(?:more|next)\b|most\s+(?:popular|read)\b
    |you\s+(?:may|might)\s+also\s+like\b|recommended\s+for\s+you\b|trending\b|comments?\s*$
    |share\s+this\b|top\s+stories\b|editor'?s\s+picks?\b)""",
    re.IGNORECASE | re.VERBOSE,
)

# A single line that is furniture wherever it stands.
_FURNITURE_LINE = re.compile(
    r"""^(?:
      \(?\s*(?:image|photo|picture|video|graphic)s?\s*(?:credit|courtesy|source|by)s?\s*:?.*
    | (?:source|via|credit|photo)\s*:?\s*[\w&.' -]{0,40}$
    | source\s+link
    | advertisement | sponsored(?:\s+content)? | info\s+message
    | (?:sign\s*up|subscribe|register)\b.*\b(?:newsletter|e-?mail|inbox|updates)\b.*
    | .*\bdelivered\s+(?:straight\s+)?to\s+your\s+inbox\b.*
    | (?:log\s*in|sign\s*in|welcome)\b.*\baccount\b.*
    | .*\b(?:(?:we|this\s+(?:site|website))\s+uses?\s+cookies
      |cookie\s+(?:policy|settings|preferences|notice)
      |accept\s+(?:all\s+)?cookies|cookies?\b.*\b(?:agree|consent|control\s+them|opt\s+out)
      |(?:agree|consent)\b.*\bcookies)\b.*
    | (?:follow|like)\s+us\b.*
    | .*\ball\s+rights\s+reserved\b.*
    | (?:©|copyright\s*(?:©\s*)?(?:\d{4}|\(c\))).*
    | by\s+[A-Z][\w'’.-]+(?:\s+[A-Z][\w'’.-]+){0,3}(?:\s*[,|·].{0,60})?
    | (?:share|tweet|email|print)(?:\s+(?:this|on\s+\w+|article))?
    )$""",
    re.IGNORECASE | re.VERBOSE,
)

# "Jane Doe is TechRadar Pro's resident mobile expert ..." — an author bio.
_BIO_LINE = re.compile(
    r"""^(?:[A-Z][\w'’.-]+\s+){1,3}is\s+(?:a|an|the|[A-Z][\w&'’ .-]*?['’]s)\b.{0,200}?
    \b(?:writer|editor|journalist|reporter|correspondent|expert|contributor|columnist|analyst
    |freelancer|author|producer|specialist)\b""",
    re.VERBOSE,
)

# A date standing at the start of a line, as scrapers leave datelines.
_DATE = (
    r"(?:\d{4}-\d{2}-\d{2}"
    r"|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2},?\s+\d{4}"
    r"|\d{1,2}\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?,?\s+\d{4})"
)
DATELINE_RE = re.compile(
    rf"^\s*(?:(?:date|published|posted|updated|first\s+published)\s*(?:on)?\s*:?\s*)?(?P<date>{_DATE})"
    rf"(?:\s*[|·•,-]?\s*\d{{1,2}}:\d{{2}}(?:\s*[ap]m)?(?:\s*[A-Z]{{2,4}})?)?\s*",
    re.IGNORECASE,
)

# Bidi embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) reorder how the
# text after them is displayed, so a quote could show words in another order than the
# article's. Direction marks (U+200E, U+200F) only steer neutral characters and belong to
# right-to-left prose; they stay.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")

_SENTENCE_END = re.compile(r"""[.!?…:;]["'”’)\]]*$""")
_SHORT_LINE_WORDS = 7
_HEADLINE_MAX_WORDS = 25
# Notices are short; a longer sentence that happens to match a notice rule is prose.
NOTICE_MAX_WORDS = 40


@dataclass(frozen=True)
class Cleaned:
    text: str
    # The headline, when the page starts with one; it is metadata, not body text.
    headline: str | None
    # The dateline text removed from the body, when there was one.
    dateline: str | None
    removed: tuple[str, ...]


# Runs of spaces other than one plain space (replacing every single space with itself
# cost more than the rest of the cleaning).
_SPACES_RE = re.compile(
    r"[\t\u00a0\u2000-\u200a\u202f\u205f\u3000][ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]*"
    r"| [ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+"
)
_ZERO_WIDTH_RE = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff]")


def strip_bidi_controls(text: str) -> str:
    """``text`` without bidi embeddings, overrides and isolates."""
    return _BIDI_CONTROLS.sub("", text)


def normalise_lines(raw: str) -> list[str]:
    raw = raw.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    raw = strip_bidi_controls(unicodedata.normalize("NFC", raw))
    lines = []
    for raw_line in raw.split("\n"):
        # Zero-width and non-breaking spaces are scraping residue, not content.
        line = _ZERO_WIDTH_RE.sub("", raw_line)
        lines.append(_SPACES_RE.sub(" ", line).strip())
    return lines


def _words(line: str) -> int:
    return len(line.split())


def _is_sentence(line: str) -> bool:
    """Prose rather than a label: long enough and punctuated as a sentence."""
    return (_words(line) > _SHORT_LINE_WORDS and bool(_SENTENCE_END.search(line))) or (
        _words(line) > _HEADLINE_MAX_WORDS
    )


def _is_body(line: str) -> bool:
    return _words(line) > _SHORT_LINE_WORDS or bool(_SENTENCE_END.search(line))


def _is_notice(text: str) -> bool:
    return _words(text) <= NOTICE_MAX_WORDS and bool(_FURNITURE_LINE.match(text))


# A word every notice rule needs: a line without any cannot hold a notice, and is not
# split into sentences to look for one (most body lines; splitting was most of the cost).
_NOTICE_HINT = re.compile(
    r"""image|photo|picture|video|graphic|source|via|credit|advertisement|sponsored
    |info\s+message|sign|subscribe|register|inbox|log\s*in|welcome|cookie|follow|like\s+us
    |rights|©|copyright|share|tweet|email|print|(?:^|[.!?…]["'”’)\]]*\s+)by\s""",
    re.IGNORECASE | re.VERBOSE,
)


def _without_notices(line: str) -> tuple[str, list[str]]:
    """The line without its furniture notices, and the notices removed."""
    if not _NOTICE_HINT.search(line):
        return line, []
    spans = split_sentences(line)
    if not any(_is_sentence(line[s:e]) for s, e in spans):
        # No prose in it: a notice may take several short pieces ("Welcome back! Log in").
        return ("", [line]) if _FURNITURE_LINE.match(line) else (line, [])
    lo, hi = 0, len(spans)
    while lo < hi and _is_notice(line[spans[lo][0] : spans[lo][1]]):
        lo += 1
    while hi > lo and _is_notice(line[spans[hi - 1][0] : spans[hi - 1][1]]):
        hi -= 1
    if lo == hi:
        return "", [line]
    cut = [line[s:e] for s, e in spans[:lo] + spans[hi:]]
    return line[spans[lo][0] : spans[hi - 1][1]], cut


def clean_text(raw: str, extra_patterns: Iterable[str] = ()) -> Cleaned:
    extra = [re.compile(p, re.IGNORECASE) for p in extra_patterns]
    lines = [line for line in normalise_lines(raw) if line]
    removed: list[str] = []
    dateline: str | None = None

    kept: list[str] = []
    seen_body = False
    for i, original in enumerate(lines):
        if seen_body and _TAIL_MARKERS.match(original) and not _is_sentence(original):
            removed.extend(lines[i:])
            break
        line = original
        m = DATELINE_RE.match(line)
        if m and dateline is None and not seen_body:
            dateline = m.group("date")
            line = line[m.end() :].strip()
            if not line:
                continue
        # An author bio is a whole paragraph, and the manifest's patterns are the admin's
        # own line rules: both remove the line they match.
        if (seen_body and _BIO_LINE.match(line)) or any(p.search(line) for p in extra):
            removed.append(line)
            continue
        line, notices = _without_notices(line)
        removed.extend(notices)
        if not line:
            continue
        kept.append(line)
        # Headlines and captions come before the body; a dateline may follow them.
        seen_body = seen_body or _is_sentence(line)

    headline: str | None = None
    body: list[str] = []
    leading: list[str] = []
    for line in kept:
        if not body and not _SENTENCE_END.search(line) and _words(line) <= _HEADLINE_MAX_WORDS:
            # Before the first sentence come caption, headline and standfirst-less titles.
            leading.append(line)
            continue
        if _is_body(line):
            # A body line the scrape cut mid-sentence is quoted as it stands, marked as cut.
            body.append(line if _SENTENCE_END.search(line) else line + ELLIPSIS)
        else:
            removed.append(line)  # captions and sub-headings inside the body
    if leading:
        # Captions precede the headline; the headline is the last short line before the body.
        headline = leading[-1]
        removed.extend(leading[:-1])
    return Cleaned(
        text="\n\n".join(body), headline=headline, dateline=dateline, removed=tuple(removed)
    )
