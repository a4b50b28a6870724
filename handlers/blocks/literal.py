"""Untrusted text (article quotes, their metadata, what a user typed) as mrkdwn that shows
exactly the characters written.

``escape`` stops ``&``, ``<`` and ``>`` from opening mentions and links; it is all our
own wording needs. mrkdwn has no escape for its formatting markers, though: ``*``,
``_``, ``~`` and backticks around words turn a verbatim quote bold, italic, struck
through or into code, and a ``:name:`` becomes an emoji. Each marker that could do so
is written as a date token whose fallback is the character itself
(``<!date^00000000^{_}|*>``): timestamp and format are invalid, so Slack clients show
the fallback, as plain text that takes part in no formatting. The quote reads
character for character as the article has it; the audit trail keeps the raw text.

Bidi embeddings, overrides and isolates are removed (``knowledge.ingest.cleaning``
removes them from article text at load; metadata does not pass through cleaning), so a
U+202E cannot
reverse the rest of an attribution line. Short labels (titles, publishers, names) also
lose the invisible direction marks, which could flip the direction of the whole line.
A message's ``text`` fallback keeps its markers (``fallback_text``).
"""

from __future__ import annotations

import re

from knowledge.ingest.cleaning import strip_bidi_controls

# A marker between two letters or digits ("doc_a", "5*3") opens and closes nothing in
# Slack and stays as it is; any other one could, and is made inert.
_MARKERS = re.compile(r"(?<![^\W_])[*_~`]|[*_~`](?![^\W_])|:(?=[\w+'-]+:)")
# U+200E LRM, U+200F RLM, U+061C ALM: legitimate inside right-to-left prose, never needed
# in a label set inside our own left-to-right line.
_DIRECTION_MARKS = re.compile("[\u200e\u200f\u061c]")


def _inert(marker: str) -> str:
    return f"<!date^00000000^{{_}}|{marker}>"


# The most one character can grow to when rendered (for sizing raw text against a limit).
MAX_EXPANSION = len(_inert("*"))


def escape(text: str) -> str:
    """Escape Slack's three control characters so ``text`` renders literally."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def literal(text: str) -> str:
    """``text`` as mrkdwn that renders as exactly these characters, unformatted."""
    return _MARKERS.sub(lambda m: _inert(m.group()), escape(strip_bidi_controls(text)))


def literal_label(text: str) -> str:
    """``literal`` for a short label placed inside one of our lines: no direction marks."""
    return literal(_DIRECTION_MARKS.sub("", text))


def fallback_text(text: str) -> str:
    """A message's ``text`` fallback (notifications, screen readers): escaped, without bidi
    controls or direction marks. Formatting markers stay as they are: notifications show
    no formatting, and a date token there would read as markup."""
    return escape(_DIRECTION_MARKS.sub("", strip_bidi_controls(text)))
