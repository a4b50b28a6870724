"""Plain-text rendering of answers and the gaps digest for the terminal (Slack has its
own in handlers/blocks)."""

from __future__ import annotations

from collections.abc import Sequence

from knowledge.evaluation.gaps import Gap
from knowledge.models import NOT_IN_KB, Answer, Attribution, Quote


def attribution(source: Attribution) -> str:
    """ "title · publisher · date", what is unknown left out."""
    parts = [source.title or "untitled", source.publisher, source.published_label]
    return " · ".join(p for p in parts if p)


def mark(text: str, spans: tuple[tuple[int, int], ...], start: str, end: str) -> str:
    out, pos = [], 0
    for s, e in sorted(spans):
        if s < pos:
            continue
        out += [text[pos:s], start, text[s:e], end]
        pos = e
    out.append(text[pos:])
    return "".join(out)


def render_quote(n: int, q: Quote, *, bold: tuple[str, str]) -> str:
    body = mark(q.text, q.highlights, *bold)
    # A quote that opens with its own quotation mark needs no second one.
    quoted = body if q.text[:1] in "“\"'‘" else f"“{body}”"
    lines = [
        f"{n}. {quoted}",
        f"   — {attribution(q)}  [{q.passage_id}]",
    ]
    if q.also_reported_by:
        also = "; ".join(f"{attribution(r)} [{r.passage_id}]" for r in q.also_reported_by)
        lines.append(f"   also reported by: {also}")
    if q.expansion_note:
        lines.append(f"   matched {q.expansion_note}")
    return "\n".join(lines)


def render_answer(answer: Answer, *, ansi: bool = False) -> str:
    bold = ("\033[1m", "\033[0m") if ansi else ("*", "*")
    out: list[str] = []
    if answer.truncated:
        out.append("(Your question was long; only its beginning was used.)")
    if not answer.answered:
        out.append(answer.reason or f"{NOT_IN_KB}.")
        if answer.hint:
            out.append(answer.hint.replace("`/kb sources`", "`licensebot kb sources`"))
        return "\n".join(out)
    out.extend(render_quote(i, q, bold=bold) for i, q in enumerate(answer.quotes, start=1))
    return "\n\n".join(out)


def gaps_lines(gaps: Sequence[Gap], *, days: int, items: int) -> list[str]:
    """The gaps digest for the terminal: one line per group, most frequent first."""
    period = "day" if days == 1 else f"{days} days"
    if not gaps:
        return [f"No refused or not-helpful questions in the last {period}."]
    lines = [f"{items} refused or not-helpful questions in the last {period}, by missing words:"]
    for gap in gaps:
        kinds = [f"{gap.refused} refused"] if gap.refused else []
        if gap.not_helpful:
            kinds.append(f"{gap.not_helpful} not helpful")
        reasons = f" [{', '.join(gap.reasons)}]" if gap.reasons else ""
        lines.append(
            f"{gap.count:>4}  {' '.join(gap.words)}  ({', '.join(kinds)}){reasons}"
            f"  e.g. “{gap.example}”"
        )
    return lines
