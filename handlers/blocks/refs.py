"""What a button carries: action ids and the compact JSON value codecs of each kind of
button (a value that does not decode raises ``ValueError``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from handlers.blocks.kit import MAX_BUTTON_VALUE

ACTION_POST_TO_CHANNEL = "post_to_channel"
ACTION_FULL_ARTICLE = "full_article"
ACTION_FEEDBACK_HELPFUL = "feedback_helpful"
ACTION_FEEDBACK_NOT_HELPFUL = "feedback_not_helpful"


@dataclass(frozen=True)
class ShareRef:
    """What "Post to channel" needs to rebuild the answer the user saw."""

    question: str
    top: int
    kb_version: str
    request_id: str


@dataclass(frozen=True)
class ArticleRef:
    """Which article "Full article" opens and which span of it to mark."""

    doc_id: str
    start: int
    end: int
    kb_version: str


@dataclass(frozen=True)
class FeedbackRef:
    """Which answer a "Helpful" / "Not helpful" click is about."""

    request_id: str
    kb_version: str
    answered: bool
    passage_ids: tuple[str, ...]
    question: str


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _dump_with_question(data: dict[str, Any], question: str) -> str:
    """Serialise, shortening ``question`` until the value fits a button."""
    keep = len(question)
    while True:
        value = _dump({**data, "q": question[:keep]})
        if len(value) <= MAX_BUTTON_VALUE:
            return value
        keep -= max(1, len(value) - MAX_BUTTON_VALUE)
        if keep < 0:
            raise ValueError("button value does not fit even without the question")


def encode_share(ref: ShareRef) -> str:
    return _dump_with_question(
        {"k": ref.top, "v": ref.kb_version, "r": ref.request_id}, ref.question
    )


def encode_article(ref: ArticleRef) -> str:
    return _dump({"d": ref.doc_id, "s": ref.start, "e": ref.end, "v": ref.kb_version})


def encode_feedback(ref: FeedbackRef) -> str:
    return _dump_with_question(
        {"r": ref.request_id, "v": ref.kb_version, "a": ref.answered, "p": list(ref.passage_ids)},
        ref.question,
    )


def _load(value: str) -> dict[str, Any]:
    try:
        data = json.loads(value)
    except (TypeError, ValueError) as exc:
        raise ValueError("button value is not JSON") from exc
    if not isinstance(data, dict):
        raise ValueError("button value is not an object")
    return data


def _field(data: dict[str, Any], key: str, kind: type) -> Any:
    value = data.get(key)
    # bool is an int subclass; never accept it where a number is expected.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"button value field {key!r} is not {kind.__name__}")
    return value


def decode_share(value: str) -> ShareRef:
    data = _load(value)
    return ShareRef(
        question=_field(data, "q", str),
        top=_field(data, "k", int),
        kb_version=_field(data, "v", str),
        request_id=_field(data, "r", str),
    )


def decode_article(value: str) -> ArticleRef:
    data = _load(value)
    return ArticleRef(
        doc_id=_field(data, "d", str),
        start=_field(data, "s", int),
        end=_field(data, "e", int),
        kb_version=_field(data, "v", str),
    )


def decode_feedback(value: str) -> FeedbackRef:
    data = _load(value)
    passage_ids = _field(data, "p", list)
    if not all(isinstance(p, str) for p in passage_ids):
        raise ValueError("button value field 'p' is not a list of strings")
    return FeedbackRef(
        request_id=_field(data, "r", str),
        kb_version=_field(data, "v", str),
        answered=_field(data, "a", bool),
        passage_ids=tuple(passage_ids),
        question=_field(data, "q", str),
    )


ACTION_TIMELINE_MORE = "timeline_show_more"
ACTION_TIMELINE_POST = "timeline_post_to_channel"


@dataclass(frozen=True)
class TimelineRef:
    """Which timeline page a button is about: "Show more" asks for the page at ``offset``,
    "Post to channel" shares the page that starts there."""

    topic: str | None
    offset: int
    kb_version: str
    request_id: str


def encode_timeline_ref(ref: TimelineRef) -> str:
    value = _dump({"t": ref.topic, "o": ref.offset, "v": ref.kb_version, "r": ref.request_id})
    if len(value) > MAX_BUTTON_VALUE:
        raise ValueError(f"timeline button value of {len(value)} characters is too long")
    return value


def decode_timeline_ref(value: str) -> TimelineRef:
    data = _load(value)
    topic = data.get("t")
    if topic is not None and not isinstance(topic, str):
        raise ValueError("button value field 't' is not a string or null")
    offset = _field(data, "o", int)
    if offset < 0:
        raise ValueError("button value field 'o' is negative")
    return TimelineRef(
        topic=topic,
        offset=offset,
        kb_version=_field(data, "v", str),
        request_id=_field(data, "r", str),
    )
