"""The "Not helpful" form: why the answer did not help, for the gaps digest."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from handlers.blocks.kit import (
    MAX_MODAL_TITLE,
    Block,
    context_block,
    plain_text,
    section_block,
    shorten,
)
from handlers.blocks.literal import literal

VIEW_FEEDBACK = "feedback_reason"
REASON_BLOCK = "reason"
REASON_ACTION = "reason_choice"
COMMENT_BLOCK = "comment"
COMMENT_ACTION = "comment_text"
MAX_COMMENT_CHARS = 500
# Slack keeps private_metadata to 3,000 characters.
MAX_METADATA = 3000

REASONS: dict[str, str] = {
    "wrong_quote": "Wrong quote — it does not answer the question",
    "outdated": "Outdated — the articles are not current",
    "article_missing": "Article missing — the knowledge base lacks it",
    "other": "Other (say what below)",
}


@dataclass(frozen=True)
class FeedbackForm:
    """What the form's submission needs back (kept in the view's private_metadata)."""

    request_id: str  # the answer's
    feedback_id: str  # the "Not helpful" click's
    channel: str
    user: str
    kb_version: str


def encode_form(form: FeedbackForm) -> str:
    value = json.dumps(
        {
            "r": form.request_id,
            "f": form.feedback_id,
            "c": form.channel,
            "u": form.user,
            "v": form.kb_version,
        },
        separators=(",", ":"),
    )
    if len(value) > MAX_METADATA:
        raise ValueError("feedback form metadata too long")
    return value


def decode_form(value: str) -> FeedbackForm:
    try:
        data = json.loads(value)
    except (TypeError, ValueError) as exc:
        raise ValueError("form metadata is not JSON") from exc
    if not isinstance(data, dict) or not all(
        isinstance(data.get(k), str) for k in ("r", "f", "c", "u", "v")
    ):
        raise ValueError("form metadata is incomplete")
    return FeedbackForm(
        request_id=data["r"],
        feedback_id=data["f"],
        channel=data["c"],
        user=data["u"],
        kb_version=data["v"],
    )


def feedback_modal(form: FeedbackForm, question: str) -> dict[str, Any]:
    """The modal (``views.open``): a reason to pick and an optional comment."""
    options = [{"text": plain_text(label), "value": value} for value, label in REASONS.items()]
    blocks: list[Block] = [
        section_block(
            "Thanks for saying so. What was wrong with the answer to "
            f"“{literal(shorten(' '.join(question.split()), 300))}”?"
        ),
        {
            "type": "input",
            "block_id": REASON_BLOCK,
            "label": plain_text("Reason"),
            "element": {
                "type": "radio_buttons",
                "action_id": REASON_ACTION,
                "options": options,
            },
        },
        {
            "type": "input",
            "block_id": COMMENT_BLOCK,
            "optional": True,
            "label": plain_text("Anything to add? (needed for “Other”)"),
            "element": {
                "type": "plain_text_input",
                "action_id": COMMENT_ACTION,
                "multiline": True,
                "max_length": MAX_COMMENT_CHARS,
            },
        },
        context_block("Admins see these reasons in `/kb gaps`, to know which article to add next."),
    ]
    return {
        "type": "modal",
        "callback_id": VIEW_FEEDBACK,
        "private_metadata": encode_form(form),
        "title": plain_text("Not helpful"[:MAX_MODAL_TITLE]),
        "submit": plain_text("Send"),
        "close": plain_text("Cancel"),
        "blocks": blocks,
    }


def submitted(values: dict[str, Any]) -> tuple[str | None, str]:
    """(reason, comment) from a submission's ``view.state.values``; reason None when
    none of ours was picked."""
    choice = (values.get(REASON_BLOCK) or {}).get(REASON_ACTION) or {}
    picked = (choice.get("selected_option") or {}).get("value")
    comment = ((values.get(COMMENT_BLOCK) or {}).get(COMMENT_ACTION) or {}).get("value") or ""
    reason = picked if picked in REASONS else None
    return reason, str(comment)[:MAX_COMMENT_CHARS].strip()
