"""The pieces of every message: Slack's limits, escaping, text objects, sections,
context blocks, buttons, and cutting text to fit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

Block = dict[str, Any]

MAX_MESSAGE_BLOCKS = 50
MAX_MODAL_BLOCKS = 100
MAX_SECTION_TEXT = 3000
MAX_CONTEXT_TEXT = 3000
MAX_FALLBACK_TEXT = 4000
MAX_BUTTON_VALUE = 2000
MAX_MODAL_TITLE = 24
# Room kept under a hard limit for the "…" and a trailing note.
SLACK_MARGIN = 100
QUESTION_DISPLAY_CHARS = 500
FALLBACK_QUOTE_CHARS = 300


@dataclass(frozen=True)
class Message:
    """A chat message: ``text`` is the notification fallback, ``blocks`` the layout."""

    text: str
    blocks: list[Block]

    def as_payload(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}


# A Slack user id (or an Enterprise Grid one): the one shape a <@…> mention may take.
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")


def is_user_id(value: str) -> bool:
    return bool(_USER_ID.fullmatch(value))


def mrkdwn_text(text: str, *, verbatim: bool = True) -> dict[str, Any]:
    # verbatim stops Slack from auto-linking bare URLs and #channel names in untrusted text.
    return {"type": "mrkdwn", "text": text, "verbatim": verbatim}


def plain_text(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def section_block(
    text: str, *, block_id: str | None = None, accessory: Block | None = None
) -> Block:
    block: Block = {"type": "section", "text": mrkdwn_text(cut_rendered(text, MAX_SECTION_TEXT))}
    if block_id is not None:
        block["block_id"] = block_id
    if accessory is not None:
        block["accessory"] = accessory
    return block


def context_block(text: str, *, block_id: str | None = None) -> Block:
    block: Block = {
        "type": "context",
        "elements": [mrkdwn_text(cut_rendered(text, MAX_CONTEXT_TEXT))],
    }
    if block_id is not None:
        block["block_id"] = block_id
    return block


def button_element(label: str, action_id: str, value: str, *, style: str | None = None) -> Block:
    if len(value) > MAX_BUTTON_VALUE:
        raise ValueError(f"button value of {len(value)} characters exceeds {MAX_BUTTON_VALUE}")
    button: Block = {
        "type": "button",
        "text": plain_text(label),
        "action_id": action_id,
        "value": value,
    }
    if style is not None:
        button["style"] = style
    return button


def cut_rendered(text: str, limit: int) -> str:
    """Last-resort cut of already-escaped mrkdwn without splitting an entity or a token."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    opened = cut.rfind("<")
    if opened != -1 and ">" not in cut[opened:]:
        cut = cut[:opened]
    return cut + "…"


def shorten(text: str, limit: int) -> str:
    """Cut raw (unescaped) text to ``limit`` characters at a word boundary, adding "…"."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"
