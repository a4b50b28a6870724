"""The agent messaging surface: the greeting and the suggested prompts of the Messages tab."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from handlers.blocks.kit import Message, context_block, section_block, shorten
from handlers.blocks.literal import escape, fallback_text, literal
from knowledge.answering.prompts import Prompt
from knowledge.service import KBStatus

# Slack shows at most four suggested prompts.
MAX_SUGGESTED_PROMPTS = 4
PROMPTS_TITLE = "Ask about the knowledge base"
THINKING_STATUS = "is looking that up…"
LOADING_MESSAGES = (
    "Searching the articles…",
    "Matching passages to your question…",
    "Collecting every outlet that reported it…",
)


def suggested_prompts(prompts: Sequence[Prompt]) -> list[dict[str, str]]:
    """``assistant.threads.setSuggestedPrompts``'s ``prompts``: title and message each."""
    return [
        {"title": shorten(p.title, 75), "message": shorten(p.message, 500)}
        for p in prompts[:MAX_SUGGESTED_PROMPTS]
    ]


def greeting_message(status: KBStatus, prompts: Sequence[Prompt]) -> Message:
    """The first message in someone's Messages tab: what the bot knows and how to ask."""
    head = (
        f"Hi! I answer questions about technology-licensing news with verbatim quotes from "
        f"{status.articles} articles, each attributed to its outlet and date. Ask in your own "
        "words; reply in the thread to follow up (“and Nokia?”, “more”)."
    )
    blocks = [section_block(escape(head), block_id="greeting")]
    if prompts:
        tries = "\n".join(f"• {literal(p.message)}" for p in prompts[:MAX_SUGGESTED_PROMPTS])
        blocks.append(section_block("For example:\n" + tries, block_id="greeting_examples"))
    blocks.append(
        context_block("`/kb sources` lists the articles; the Home tab shows your last questions.")
    )
    return Message(text=fallback_text(head), blocks=blocks)


def status_arguments(channel: str, thread_ts: str) -> dict[str, Any]:
    """``assistant.threads.setStatus``'s arguments for the "thinking" status."""
    return {
        "channel_id": channel,
        "thread_ts": thread_ts,
        "status": THINKING_STATUS,
        "loading_messages": list(LOADING_MESSAGES),
    }
