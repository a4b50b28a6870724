"""The Home tab: the knowledge base, its sources (paged), how to ask, the user's last
questions with "Ask again", and for admins a Reload button, the last reload's report
and the gaps digest."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from handlers.blocks.kb import _kb_diff_lines, _kb_version, _kb_when, _kb_who
from handlers.blocks.kit import (
    MAX_MODAL_BLOCKS,
    Block,
    Message,
    button_element,
    context_block,
    plain_text,
    section_block,
    shorten,
)
from handlers.blocks.literal import escape, fallback_text, literal, literal_label
from handlers.blocks.refs import (
    ACTION_HOME_ASK,
    ACTION_HOME_RELOAD,
    ACTION_HOME_SOURCES,
    encode_ask,
    encode_page,
)
from handlers.deps import PastQuestion
from knowledge.answering.prompts import Prompt
from knowledge.evaluation.gaps import Gap
from knowledge.models import Article
from knowledge.service import KBStatus

SOURCES_PER_PAGE = 10
MAX_RECENT = 5
MAX_GAPS_SHOWN = 8
_RECENT_CHARS = 200


@dataclass(frozen=True)
class AdminHome:
    """What only admins see: the last reload and the gaps digest of ``gap_days``."""

    gaps: Sequence[Gap]
    gap_days: int
    gap_items: int


@dataclass(frozen=True)
class HomeState:
    status: KBStatus
    articles: Sequence[Article]
    passage_counts: Mapping[str, int]
    examples: Sequence[Prompt]
    recent: Sequence[PastQuestion]
    page: int = 0
    admin: AdminHome | None = None
    # Why the user's questions cannot be shown (the trail cannot be read right now).
    recent_error: str | None = None


def _header(text: str) -> Block:
    return {"type": "header", "text": plain_text(text[:150])}


def _kb_blocks(status: KBStatus) -> list[Block]:
    lines = [
        f"*Knowledge base* {_kb_version(status.kb_version)}: "
        f"{status.articles} articles, {status.passages} passages",
        f"Loaded {_kb_when(status.loaded_at)} by {_kb_who(status.loaded_by)}",
    ]
    if status.last_reload is not None:
        r = status.last_reload
        lines.append(f"Last reload {_kb_when(r.finished_at)} by {_kb_who(r.by)}")
    if status.reloading:
        lines.append("_A reload is running now._")
    return [section_block("\n".join(lines), block_id="home_kb")]


def _ask_blocks(examples: Sequence[Prompt]) -> list[Block]:
    blocks: list[Block] = [
        _header("How to ask"),
        section_block(
            "Mention me in a channel (`@licensebot …`), send me a direct message, or use "
            "`/ask …` for an answer only you see. Reply in the thread of my answer to follow "
            "up — “and Nokia?”, “when was that?”, “more”. Every answer is a set of verbatim "
            "quotes with the article they come from.",
            block_id="home_how",
        ),
    ]
    if examples:
        elements = [
            button_element(escape(shorten(p.title, 70)), ACTION_HOME_ASK, encode_ask(p.message))
            for p in examples[:5]
        ]
        blocks.append(context_block("Questions the knowledge base answers — try one:"))
        blocks.append({"type": "actions", "block_id": "home_examples", "elements": elements})
    return blocks


def _recent_blocks(recent: Sequence[PastQuestion], error: str | None) -> list[Block]:
    blocks: list[Block] = [_header("Your last questions")]
    if error is not None:
        blocks.append(context_block(escape(error), block_id="home_recent_error"))
        return blocks
    if not recent:
        blocks.append(
            context_block("You have not asked anything yet.", block_id="home_recent_none")
        )
        return blocks
    for n, past in enumerate(recent[:MAX_RECENT]):
        when = past.at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if past.at else ""
        state = "" if past.answered else " · _not answered_"
        text = literal(shorten(" ".join(past.question.split()), _RECENT_CHARS))
        blocks.append(
            section_block(
                f"“{text}”\n{when}{state}",
                block_id=f"home_recent_{n}",
                accessory=button_element("Ask again", ACTION_HOME_ASK, encode_ask(past.question)),
            )
        )
    return blocks


def _source_line(article: Article, passages: int) -> str:
    meta = article.meta
    parts = [f"*{literal_label(meta.title)}*" if meta.title else "_untitled_"]
    parts.append(literal_label(meta.publisher) if meta.publisher else "publisher unknown")
    parts.append(meta.published_label or "undated")
    parts.append(f"{passages} passage{'s' if passages != 1 else ''}")
    return "• " + " · ".join(parts)


def pages(articles: int) -> int:
    return max(1, -(-articles // SOURCES_PER_PAGE))


def _sources_blocks(
    articles: Sequence[Article], counts: Mapping[str, int], page: int
) -> list[Block]:
    total = pages(len(articles))
    page = min(max(page, 0), total - 1)
    ordered = sorted(articles, key=lambda a: (a.meta.published or dt.date.max, a.doc_id))
    shown = ordered[page * SOURCES_PER_PAGE : (page + 1) * SOURCES_PER_PAGE]
    blocks: list[Block] = [_header(f"Sources ({len(articles)})")]
    if not shown:
        blocks.append(context_block("The knowledge base is empty."))
        return blocks
    lines = [_source_line(a, counts.get(a.doc_id, 0)) for a in shown]
    blocks.append(section_block("\n".join(lines), block_id="home_sources"))
    if total > 1:
        elements: list[Block] = []
        if page > 0:
            elements.append(button_element("Previous", ACTION_HOME_SOURCES, encode_page(page - 1)))
        if page < total - 1:
            elements.append(button_element("Next", ACTION_HOME_SOURCES, encode_page(page + 1)))
        blocks.append(context_block(f"Page {page + 1} of {total}"))
        blocks.append({"type": "actions", "block_id": "home_sources_pages", "elements": elements})
    return blocks


def gap_line(gap: Gap) -> str:
    """One group of the gaps digest, escaped."""
    kinds = [f"{gap.refused} refused"] if gap.refused else []
    if gap.not_helpful:
        kinds.append(f"{gap.not_helpful} not helpful")
    reasons = f" ({', '.join(literal(r) for r in gap.reasons)})" if gap.reasons else ""
    example = literal(shorten(" ".join(gap.example.split()), 150))
    return (
        f"• *{literal_label(' '.join(gap.words))}* — {gap.count}: {', '.join(kinds)}"
        f"{reasons}; e.g. “{example}”"
    )


def gaps_text(gaps: Sequence[Gap], *, days: int, items: int) -> str:
    period = "day" if days == 1 else f"{days} days"
    if not gaps:
        return f"No refused or not-helpful questions in the last {period}."
    head = f"*{items} refused or not-helpful questions* in the last {period}, by missing words:"
    return "\n".join([head, *(gap_line(g) for g in gaps)])


def gaps_message(gaps: Sequence[Gap], *, days: int, items: int) -> Message:
    """``/kb gaps [days]``: the digest, most frequent first."""
    text = gaps_text(gaps, days=days, items=items)
    blocks = [section_block(text, block_id="kb_gaps")]
    blocks.append(
        context_block(
            "Grouped by the words nothing matched; add an article that covers the top ones, "
            "then `/kb reload`. `licensebot kb gaps --json` exports them."
        )
    )
    period = "day" if days == 1 else f"{days} days"
    fallback = f"{items} refused or not-helpful questions in the last {period}"
    return Message(text=fallback_text(fallback), blocks=blocks)


def _admin_blocks(status: KBStatus, admin: AdminHome) -> list[Block]:
    blocks: list[Block] = [
        _header("Admin"),
        {
            "type": "actions",
            "block_id": "home_admin",
            "elements": [button_element("Reload", ACTION_HOME_RELOAD, "reload")],
        },
    ]
    if status.last_attempt_refused and status.last_refusal is not None:
        refusal = status.last_refusal
        lines = [
            f"*Last reload refused* {_kb_when(refusal.at)} by {_kb_who(refusal.by)}: "
            f"{len(refusal.problems)} problem(s)",
            *(f"• {literal(str(p))}" for p in refusal.problems[:5]),
        ]
        blocks.append(section_block("\n".join(lines), block_id="home_last_reload"))
    elif status.last_reload is not None:
        lines = ["*Last reload*", *_kb_diff_lines(status.last_reload)]
        blocks.append(section_block("\n".join(lines), block_id="home_last_reload"))
    else:
        blocks.append(context_block("No reload since startup.", block_id="home_last_reload"))
    blocks.append(
        section_block(
            gaps_text(admin.gaps[:MAX_GAPS_SHOWN], days=admin.gap_days, items=admin.gap_items),
            block_id="home_gaps",
        )
    )
    blocks.append(
        context_block("`/kb gaps [days]` shows more; `/kb reload` reloads from a channel.")
    )
    return blocks


def home_view(state: HomeState) -> dict[str, Any]:
    """The Home tab view for ``views.publish`` (at most 100 blocks)."""
    blocks: list[Block] = [_header("licensebot"), *_kb_blocks(state.status)]
    blocks += [{"type": "divider"}, *_ask_blocks(state.examples)]
    blocks += [{"type": "divider"}, *_recent_blocks(state.recent, state.recent_error)]
    blocks += [{"type": "divider"}]
    blocks += _sources_blocks(state.articles, state.passage_counts, state.page)
    if state.admin is not None:
        blocks += [{"type": "divider"}, *_admin_blocks(state.status, state.admin)]
    return {"type": "home", "callback_id": "home", "blocks": blocks[:MAX_MODAL_BLOCKS]}
