"""An answer as a chat message: question, quotes with their sources, the buttons, a footer."""

from __future__ import annotations

from handlers.blocks.kit import (
    FALLBACK_QUOTE_CHARS,
    MAX_FALLBACK_TEXT,
    MAX_MESSAGE_BLOCKS,
    MAX_SECTION_TEXT,
    QUESTION_DISPLAY_CHARS,
    SLACK_MARGIN,
    Block,
    Message,
    button_element,
    context_block,
    cut_rendered,
    section_block,
    shorten,
)
from handlers.blocks.literal import escape, fallback_text, literal
from handlers.blocks.notices import SOURCES_HINT
from handlers.blocks.quotes import attribution_line, quote_mrkdwn, source_name
from handlers.blocks.refs import (
    ACTION_FEEDBACK_HELPFUL,
    ACTION_FEEDBACK_NOT_HELPFUL,
    ACTION_FULL_ARTICLE,
    ACTION_POST_TO_CHANNEL,
    ArticleRef,
    FeedbackRef,
    ShareRef,
    encode_article,
    encode_feedback,
    encode_share,
)
from knowledge.models import NOT_IN_KB, Answer, Quote


def _question_line(question: str) -> str:
    return "*Q:* " + literal(shorten(" ".join(question.split()), QUESTION_DISPLAY_CHARS))


def _fallback_text(answer: Answer) -> str:
    question = shorten(" ".join(answer.question.split()), 200)
    if not answer.answered:
        reason = answer.reason or NOT_IN_KB
        text = f"{reason} — “{question}”"
    else:
        first = answer.quotes[0]
        excerpt = shorten(" ".join(first.text.split()), FALLBACK_QUOTE_CHARS)
        source = source_name(first)
        count = len(answer.quotes)
        plural = "quote" if count == 1 else "quotes"
        text = f"{count} {plural} for “{question}”: “{excerpt}” — {source}"
    return cut_rendered(fallback_text(text), MAX_FALLBACK_TEXT)


def _quote_blocks(quote: Quote, index: int, kb_version: str) -> list[Block]:
    body, cut = quote_mrkdwn(quote.text, quote.highlights, limit=MAX_SECTION_TEXT - SLACK_MARGIN)
    if cut:
        body += "\n_Quote shortened — *Full article* shows all of it._"
    button = button_element(
        "Full article",
        ACTION_FULL_ARTICLE,
        encode_article(
            ArticleRef(doc_id=quote.doc_id, start=quote.start, end=quote.end, kb_version=kb_version)
        ),
    )
    return [
        section_block(body, block_id=f"quote_{index}", accessory=button),
        context_block(attribution_line(quote), block_id=f"source_{index}"),
    ]


def _actions(answer: Answer, *, request_id: str, top: int, shareable: bool) -> Block:
    feedback = encode_feedback(
        FeedbackRef(
            request_id=request_id,
            kb_version=answer.kb_version,
            answered=answer.answered,
            passage_ids=tuple(q.passage_id for q in answer.quotes),
            question=answer.question,
        )
    )
    elements: list[Block] = []
    if shareable and answer.answered:
        share = encode_share(
            ShareRef(
                question=answer.question,
                top=top,
                kb_version=answer.kb_version,
                request_id=request_id,
            )
        )
        elements.append(
            button_element("Post to channel", ACTION_POST_TO_CHANNEL, share, style="primary")
        )
    elements.append(button_element("Helpful", ACTION_FEEDBACK_HELPFUL, feedback))
    elements.append(button_element("Not helpful", ACTION_FEEDBACK_NOT_HELPFUL, feedback))
    return {"type": "actions", "block_id": "answer_actions", "elements": elements}


def _footer(answer: Answer, *, request_id: str, asked_by: str | None, note: str | None) -> Block:
    parts: list[str] = []
    if asked_by is not None:
        # A user id from Slack's signed payload, so a real mention, not untrusted text.
        parts.append(f"Asked by <@{asked_by}> with /ask")
    if note:
        parts.append(escape(note))
    parts.append(f"kb {escape(answer.kb_version[:8])} · ref {escape(request_id)}")
    return context_block(" · ".join(parts), block_id="answer_footer")


def answer_message(
    answer: Answer,
    *,
    request_id: str,
    top: int = 3,
    shareable: bool = False,
    asked_by: str | None = None,
    note: str | None = None,
) -> Message:
    """The answer as a chat message.

    ``shareable`` adds the "Post to channel" button (for private /ask answers);
    ``asked_by`` attributes a shared answer to the user who asked.
    """
    blocks: list[Block] = [section_block(_question_line(answer.question), block_id="question")]
    if not answer.answered:
        blocks.extend(_not_found_blocks(answer))
    else:
        tail = 2  # actions + footer
        extra: list[Block] = []
        if answer.truncated:
            extra.append(context_block("Your question was long, so only its beginning was used."))
        if answer.unmatched_terms:
            terms = ", ".join(literal(t) for t in answer.unmatched_terms)
            extra.append(context_block(f"Not found in any article: {terms}"))
        room = MAX_MESSAGE_BLOCKS - len(blocks) - tail - len(extra) - 1
        shown = answer.quotes[: max(1, room // 2)]
        for i, quote in enumerate(shown):
            blocks.extend(_quote_blocks(quote, i, answer.kb_version))
        hidden = len(answer.quotes) - len(shown)
        if hidden:
            extra.append(context_block(f"…and {hidden} more quotes not shown here."))
        blocks.extend(extra)
    blocks.append(_actions(answer, request_id=request_id, top=top, shareable=shareable))
    blocks.append(_footer(answer, request_id=request_id, asked_by=asked_by, note=note))
    return Message(text=_fallback_text(answer), blocks=blocks[:MAX_MESSAGE_BLOCKS])


def _not_found_blocks(answer: Answer) -> list[Block]:
    reason = answer.reason or f"{NOT_IN_KB}: no article contains a matching passage."
    if answer.reason is None or (answer.refusal is not None and answer.refusal.not_in_kb):
        rest = reason.removeprefix(NOT_IN_KB).lstrip(" :—-")
        # The reason quotes the question's words back.
        lines = [f"*{NOT_IN_KB}:* {literal(rest)}"]
    else:
        lines = [literal(reason)]
    if answer.hint:
        lines.append(escape(answer.hint))
    blocks = [section_block("\n".join(lines), block_id="not_found")]
    if "/kb sources" not in (answer.hint or ""):
        blocks.append(context_block(SOURCES_HINT, block_id="sources_hint"))
    return blocks
