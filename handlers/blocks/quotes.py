"""Verbatim quotes as Slack blockquotes (matched terms in bold) and the line that
attributes a quote to its article and to the others that carried it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from handlers.blocks.kit import MAX_SECTION_TEXT, cut_rendered
from handlers.blocks.literal import literal, literal_label
from knowledge.answering.timeline import TimelineSource
from knowledge.models import Attribution, Quote, SourceRef


def _normalise_spans(text: str, spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Clip, trim, order and merge highlight spans so they render as valid bold runs."""
    cleaned: list[tuple[int, int]] = []
    for raw_start, raw_end in spans:
        start, end = max(0, raw_start), min(len(text), raw_end)
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        # A bold run cannot cross a line break in mrkdwn.
        if start < end and "\n" not in text[start:end]:
            cleaned.append((start, end))
    cleaned.sort()
    merged: list[tuple[int, int]] = []
    for start, end in cleaned:
        if merged and start <= merged[-1][1]:
            if "\n" not in text[merged[-1][0] : max(end, merged[-1][1])]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            continue
        merged.append((start, end))
    return merged


def _render_quote(text: str, spans: Sequence[tuple[int, int]], cut: int) -> str:
    """Blockquote of ``text[:cut]``, rendered literally segment by segment, highlights in
    bold."""
    parts: list[str] = []
    pos = 0
    for start, end in spans:
        if start >= cut:
            break
        stop = min(end, cut)
        parts.append(literal(text[pos:start]))
        parts.append("*" + literal(text[start:stop]) + "*")
        pos = stop
    parts.append(literal(text[pos:cut]))
    body = "".join(parts)
    if cut < len(text):
        body = body.rstrip() + "…"
    lines = body.split("\n")
    return "\n".join("> " + line if line.strip() else ">" for line in lines)


def quote_mrkdwn(
    text: str, highlights: Iterable[tuple[int, int]] = (), *, limit: int = MAX_SECTION_TEXT
) -> tuple[str, bool]:
    """The quote as a Slack blockquote with matched terms bold, and whether it was cut.

    ``highlights`` are (start, end) offsets into ``text``. Escaping happens per segment
    so the offsets keep pointing at the right characters.
    """
    spans = _normalise_spans(text, highlights)
    full = _render_quote(text, spans, len(text))
    if len(full) <= limit:
        return full, False
    # Largest cut at a word boundary whose rendering fits: rendering grows with the cut.
    boundaries = [i for i, ch in enumerate(text) if ch.isspace()] or list(range(len(text)))
    lo, hi, best = 0, len(boundaries) - 1, 0
    while lo <= hi:
        mid = (lo + hi) // 2
        if len(_render_quote(text, spans, boundaries[mid])) <= limit:
            best = boundaries[mid]
            lo = mid + 1
        else:
            hi = mid - 1
    return _render_quote(text, spans, best), True


# Whatever cites an article and knows which one.
Cited = Quote | SourceRef | TimelineSource


def source_name(source: Cited) -> str:
    """What a source is called in a list: its publisher, else its title, else its id."""
    return source.publisher or source.title or source.doc_id


def source_line(
    first: Attribution, others: Iterable[Cited], *, also: str, limit: int | None = None
) -> str:
    """``— title · publisher · date · {also} A (date), B``: ``first`` in full, then every
    other source by name, each once; escaped mrkdwn, unknown parts left out. With
    ``limit``, at most that many characters, the others that do not fit counted."""
    parts = [literal_label(first.title) if first.title else "untitled"]
    if first.publisher:
        parts.append(literal_label(first.publisher))
    if first.published_label:
        parts.append(first.published_label)
    line = "— " + " · ".join(parts)
    labels: list[str] = []
    for source in others:
        name, when = source_name(source), source.published_label
        label = literal_label(f"{name} ({when})" if when else name)
        if label not in labels:
            labels.append(label)
    if limit is None:
        return f"{line} · {also} {', '.join(labels)}" if labels else line
    if not labels:
        return cut_rendered(line, limit)
    budget = limit - len(line) - len(f" · {also} ") - len(", …and 999 more")
    shown: list[str] = []
    for label in labels:
        if shown and sum(len(s) + 2 for s in shown) + len(label) > budget:
            break
        shown.append(label)
    listed = ", ".join(shown)
    if len(shown) < len(labels):
        listed += f", …and {len(labels) - len(shown)} more"
    return cut_rendered(f"{line} · {also} {listed}", limit)


def attribution_line(quote: Quote) -> str:
    """ "— title · publisher · date · also reported by …" for a quote."""
    return source_line(quote, quote.also_reported_by, also="also reported by")
