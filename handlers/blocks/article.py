"""The "Full article" modal: the cleaned article, the quoted passage marked."""

from __future__ import annotations

import re
from typing import Any

from handlers.blocks.kit import (
    MAX_MODAL_BLOCKS,
    MAX_MODAL_TITLE,
    MAX_SECTION_TEXT,
    SLACK_MARGIN,
    Block,
    context_block,
    plain_text,
    section_block,
)
from handlers.blocks.literal import MAX_EXPANSION, escape, literal, literal_label
from handlers.blocks.quotes import quote_mrkdwn
from knowledge.models import Article

_SAFE_URL = re.compile(r"https?://[^\s<>|]+")


def _split_paragraph(paragraph: str, limit: int) -> list[str]:
    """Raw pieces of ``paragraph`` whose rendered form fits ``limit``, split at spaces."""
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for token in re.split(r"(?<=\s)", paragraph):
        word = token
        cost = len(literal(word))
        if current and size + cost > limit:
            pieces.append("".join(current))
            current, size = [], 0
        while cost > limit:  # one enormous "word"
            head = word[: max(1, limit // MAX_EXPANSION)]
            pieces.append(head)
            word = word[len(head) :]
            cost = len(literal(word))
        current.append(word)
        size += cost
    if current:
        pieces.append("".join(current))
    return pieces


def _chunks(text: str, limit: int) -> list[str]:
    """Rendered chunks of ``text``, each within ``limit``, broken between paragraphs if possible."""
    chunks: list[str] = []
    current = ""
    for raw in re.split(r"\n\s*\n", text):
        paragraph = raw.strip()
        if not paragraph:
            continue
        for piece in _split_paragraph(paragraph, limit):
            rendered = literal(piece.strip())
            if current and len(current) + 2 + len(rendered) > limit:
                chunks.append(current)
                current = ""
            current = f"{current}\n\n{rendered}" if current else rendered
    if current:
        chunks.append(current)
    return chunks


def _source_link(url: str | None) -> str | None:
    if url is None:
        return None
    if _SAFE_URL.fullmatch(url):
        return f"<{url}|source>"
    return escape(url)


def article_view(
    article: Article, *, start: int | None = None, end: int | None = None, note: str | None = None
) -> dict[str, Any]:
    """A modal showing the cleaned article, the quoted span ``[start, end)`` marked."""
    meta = article.meta
    title = literal_label(meta.title) if meta.title else "untitled"
    blocks: list[Block] = [section_block(f"*{title}*")]
    about = [literal_label(p) for p in (meta.publisher, meta.author) if p]
    date = meta.published_label
    if date:
        about.append(date)
    link = _source_link(meta.url)
    if link:
        about.append(link)
    if about:
        blocks.append(context_block(" · ".join(about)))
    if note:
        blocks.append(context_block(escape(note)))
    blocks.append({"type": "divider"})

    text = article.text
    marked = start is not None and end is not None and 0 <= start < end <= len(text)
    limit = MAX_SECTION_TEXT - SLACK_MARGIN
    body: list[Block] = []
    if marked:
        assert start is not None and end is not None
        body.extend(section_block(c) for c in _chunks(text[:start], limit))
        quoted, _ = quote_mrkdwn(text[start:end].strip(), limit=limit)
        body.append(section_block("*Quoted passage:*\n" + quoted, block_id="quoted_passage"))
        body.extend(section_block(c) for c in _chunks(text[end:], limit))
    else:
        body.extend(section_block(c) for c in _chunks(text, limit))

    room = MAX_MODAL_BLOCKS - len(blocks)
    if len(body) > room:
        shown = body[: room - 1]
        hidden_chars = sum(len(b["text"]["text"]) for b in body[room - 1 :])
        more = f"…the article continues ({hidden_chars:,} more characters)"
        more += f": {link}" if link else "."
        shown.append(context_block(more))
        body = shown
    blocks.extend(body)
    return {
        "type": "modal",
        "title": plain_text("Full article"[:MAX_MODAL_TITLE]),
        "close": plain_text("Close"),
        "blocks": blocks,
    }
