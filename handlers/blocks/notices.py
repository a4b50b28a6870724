"""Short private messages: usage, apologies, failures and one-line notices."""

from __future__ import annotations

from handlers.blocks.kit import Message, section_block
from handlers.blocks.literal import escape

SOURCES_HINT = "Try `/kb sources` to see which articles I know about."
USAGE_TEXT = (
    "Ask me about technology-licensing news and I answer with verbatim, attributed quotes "
    "from the knowledge base.\n"
    "• `/ask does Huawei want to license its 5G technology?` (answer visible only to you)\n"
    "• mention me in a channel: `@licensebot who would license Huawei's 5G patents?`\n"
    "• or send me a direct message.\n" + SOURCES_HINT
)


def usage_message() -> Message:
    return Message(text=escape(USAGE_TEXT), blocks=[section_block(escape(USAGE_TEXT))])


def unavailable_message(request_id: str) -> Message:
    text = f"I can't answer right now (ref {escape(request_id)})."
    return Message(text=text, blocks=[section_block(text)])


def apology_message(request_id: str, what: str = "answer your question") -> Message:
    text = (
        f"Sorry — I couldn't {escape(what)} because Slack did not accept my reply. "
        f"Please try again in a minute (ref {escape(request_id)})."
    )
    return Message(text=text, blocks=[section_block(text)])


def failure_message(request_id: str) -> Message:
    text = f"Sorry — something went wrong on my side (ref {escape(request_id)})."
    return Message(text=text, blocks=[section_block(text)])


def notice_message(text: str) -> Message:
    """A one-line private notice; ``text`` is our own wording, escaped all the same."""
    return Message(text=escape(text), blocks=[section_block(escape(text))])
