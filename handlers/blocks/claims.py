"""The result of "Check against the KB": per statement, the quotes that support it and
those that differ, each with its outlet and date; a "Post in thread" button."""

from __future__ import annotations

from handlers.blocks.kit import (
    MAX_FALLBACK_TEXT,
    MAX_MESSAGE_BLOCKS,
    MAX_SECTION_TEXT,
    Block,
    Message,
    button_element,
    context_block,
    cut_rendered,
    section_block,
    shorten,
)
from handlers.blocks.literal import escape, fallback_text, literal, literal_label
from handlers.blocks.quotes import source_name
from handlers.blocks.refs import ACTION_CLAIM_POST, ClaimRef, encode_claim
from knowledge.answering.claims import ClaimCheck, Difference, Evidence, StatementCheck

_STATEMENT_CHARS = 400
_SENTENCE_CHARS = 320
# Two blocks per statement (the statement, its quotes); the rest is the frame.
_FRAME_BLOCKS = 5

NO_MATCH = "No matching quote in the knowledge base."


def _outlet(evidence: Evidence) -> str:
    quote = evidence.quote
    parts = [literal_label(source_name(quote))]
    if quote.published_label:
        parts.append(quote.published_label)
    others = [literal_label(source_name(ref)) for ref in quote.also_reported_by]
    if others:
        parts.append("also " + ", ".join(dict.fromkeys(others)))
    return " · ".join(parts)


def _difference(d: Difference) -> str:
    return f"{d.kind}: the message says “{literal(d.claimed)}”, the article “{literal(d.reported)}”"


def _evidence_line(evidence: Evidence, *, differs: bool) -> str:
    sentence = literal(shorten(" ".join(evidence.sentence.split()), _SENTENCE_CHARS))
    if differs:
        why = "; ".join(_difference(d) for d in evidence.differences)
        return f"⚠️ *Differs* ({why})\n> {sentence}\n— {_outlet(evidence)}"
    return f"✅ *Supports*\n> {sentence}\n— {_outlet(evidence)}"


def _statement_blocks(n: int, statement: StatementCheck) -> list[Block]:
    text = literal(shorten(" ".join(statement.text.split()), _STATEMENT_CHARS))
    head = section_block(f"*{n}.* “{text}”", block_id=f"statement_{n}")
    if not statement.matched:
        return [head, context_block(NO_MATCH, block_id=f"verdict_{n}")]
    lines = [_evidence_line(e, differs=False) for e in statement.supporting]
    lines += [_evidence_line(e, differs=True) for e in statement.differing]
    body = ""
    for line in lines:
        candidate = f"{body}\n\n{line}" if body else line
        if len(candidate) > MAX_SECTION_TEXT - 50:
            body += "\n…"
            break
        body = candidate
    return [head, section_block(cut_rendered(body, MAX_SECTION_TEXT), block_id=f"verdict_{n}")]


def _fallback(check: ClaimCheck) -> str:
    if not check.statements:
        return fallback_text(check.reason or "Nothing to check.")
    supported = sum(bool(s.supporting) for s in check.statements)
    differing = sum(bool(s.differing) for s in check.statements)
    unmatched = sum(not s.matched for s in check.statements)
    text = (
        f"Checked {len(check.statements)} statement(s) against the knowledge base: "
        f"{supported} with supporting quotes, {differing} with differing ones, "
        f"{unmatched} without a matching quote."
    )
    return cut_rendered(fallback_text(text), MAX_FALLBACK_TEXT)


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
    blocks: list[Block] = [section_block(title, block_id="claim_title")]
    if not check.statements:
        reason = escape(check.reason or "Nothing to check.")
        blocks.append(section_block(reason, block_id="claim_none"))
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
        blocks.append(context_block(escape(" ".join(notes)), block_id="claim_notes"))
    if post is not None:
        button = button_element(
            "Post in thread", ACTION_CLAIM_POST, encode_claim(post), style="primary"
        )
        blocks.append({"type": "actions", "block_id": "claim_actions", "elements": [button]})
    footer = f"kb {escape(check.kb_version[:8])} · ref {escape(request_id)}"
    blocks.append(context_block(footer, block_id="claim_footer"))
    return Message(text=_fallback(check), blocks=blocks[:MAX_MESSAGE_BLOCKS])
