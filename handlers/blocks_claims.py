"""The result of "Check against the KB": per statement, the quotes that support it and
those that differ, each with its outlet and date; a "Post in thread" button."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.blocks import (
    MAX_BUTTON_VALUE,
    MAX_FALLBACK_TEXT,
    MAX_MESSAGE_BLOCKS,
    MAX_SECTION_TEXT,
    Block,
    Message,
    _button,
    _context,
    _cut_rendered,
    _dump,
    _field,
    _load,
    _section,
    _shorten,
    escape,
)
from knowledge.answering.claims import ClaimCheck, Difference, Evidence, StatementCheck

ACTION_CLAIM_POST = "claim_post_in_thread"
CLAIM_ACTION_IDS: frozenset[str] = frozenset({ACTION_CLAIM_POST})

_STATEMENT_CHARS = 400
_SENTENCE_CHARS = 320
# Two blocks per statement (the statement, its quotes); the rest is the frame.
_FRAME_BLOCKS = 5

NO_MATCH = "No matching quote in the knowledge base."


@dataclass(frozen=True)
class ClaimRef:
    """What "Post in thread" needs: the check it repeats and where to post it."""

    request_id: str
    channel: str
    thread_ts: str  # the checked message's thread (or the message itself)
    kb_version: str


def encode_claim(ref: ClaimRef) -> str:
    value = _dump({"r": ref.request_id, "c": ref.channel, "t": ref.thread_ts, "v": ref.kb_version})
    if len(value) > MAX_BUTTON_VALUE:
        raise ValueError("claim reference does not fit a button")
    return value


def decode_claim(value: str) -> ClaimRef:
    data = _load(value)
    return ClaimRef(
        request_id=_field(data, "r", str),
        channel=_field(data, "c", str),
        thread_ts=_field(data, "t", str),
        kb_version=_field(data, "v", str),
    )


def _outlet(evidence: Evidence) -> str:
    quote = evidence.quote
    parts = [escape(quote.publisher or quote.title or quote.doc_id)]
    if quote.published_label:
        parts.append(quote.published_label)
    others = [escape(ref.publisher or ref.title or ref.doc_id) for ref in quote.also_reported_by]
    if others:
        parts.append("also " + ", ".join(dict.fromkeys(others)))
    return " · ".join(parts)


def _difference(d: Difference) -> str:
    return f"{d.kind}: the message says “{escape(d.claimed)}”, the article “{escape(d.reported)}”"


def _evidence_line(evidence: Evidence, *, differs: bool) -> str:
    sentence = escape(_shorten(" ".join(evidence.sentence.split()), _SENTENCE_CHARS))
    if differs:
        why = "; ".join(_difference(d) for d in evidence.differences)
        return f"⚠️ *Differs* ({why})\n> {sentence}\n— {_outlet(evidence)}"
    return f"✅ *Supports*\n> {sentence}\n— {_outlet(evidence)}"


def _statement_blocks(n: int, statement: StatementCheck) -> list[Block]:
    text = escape(_shorten(" ".join(statement.text.split()), _STATEMENT_CHARS))
    head = _section(f"*{n}.* _“{text}”_", block_id=f"statement_{n}")
    if not statement.matched:
        return [head, _context(NO_MATCH, block_id=f"verdict_{n}")]
    lines = [_evidence_line(e, differs=False) for e in statement.supporting]
    lines += [_evidence_line(e, differs=True) for e in statement.differing]
    body = ""
    for line in lines:
        candidate = f"{body}\n\n{line}" if body else line
        if len(candidate) > MAX_SECTION_TEXT - 50:
            body += "\n…"
            break
        body = candidate
    return [head, _section(_cut_rendered(body, MAX_SECTION_TEXT), block_id=f"verdict_{n}")]


def _fallback(check: ClaimCheck) -> str:
    if not check.statements:
        return escape(check.reason or "Nothing to check.")
    supported = sum(bool(s.supporting) for s in check.statements)
    differing = sum(bool(s.differing) for s in check.statements)
    unmatched = sum(not s.matched for s in check.statements)
    text = (
        f"Checked {len(check.statements)} statement(s) against the knowledge base: "
        f"{supported} with supporting quotes, {differing} with differing ones, "
        f"{unmatched} without a matching quote."
    )
    return _cut_rendered(escape(text), MAX_FALLBACK_TEXT)


def claim_check_message(
    check: ClaimCheck,
    *,
    request_id: str,
    post: ClaimRef | None = None,
    checked_for: str | None = None,
    note: str | None = None,
) -> Message:
    """The check as a message. ``post`` adds the "Post in thread" button (the private
    result); ``checked_for`` is the Slack user id it was posted for (the public one)."""
    title = "*Checked against the knowledge base*"
    if checked_for is not None:
        # A user id from Slack's signed payload: a real mention, not untrusted text.
        title += f" for <@{checked_for}>"
    blocks: list[Block] = [_section(title, block_id="claim_title")]
    if not check.statements:
        blocks.append(_section(escape(check.reason or "Nothing to check."), block_id="claim_none"))
    room = MAX_MESSAGE_BLOCKS - _FRAME_BLOCKS
    shown = check.statements[: room // 2]
    for n, statement in enumerate(shown, start=1):
        blocks.extend(_statement_blocks(n, statement))
    notes: list[str] = []
    if check.truncated or len(shown) < len(check.statements):
        notes.append("The message was long, so only its first statements were checked.")
    if note:
        notes.append(note)
    if notes:
        blocks.append(_context(escape(" ".join(notes)), block_id="claim_notes"))
    if post is not None:
        button = _button("Post in thread", ACTION_CLAIM_POST, encode_claim(post), style="primary")
        blocks.append({"type": "actions", "block_id": "claim_actions", "elements": [button]})
    blocks.append(
        _context(
            f"kb {escape(check.kb_version[:8])} · ref {escape(request_id)}", block_id="claim_footer"
        )
    )
    return Message(text=_fallback(check), blocks=blocks[:MAX_MESSAGE_BLOCKS])
