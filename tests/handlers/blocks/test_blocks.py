"""The pure Block Kit builders: escaping, highlighting, attribution, Slack's limits."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest

from handlers.blocks.answer import answer_message
from handlers.blocks.article import article_view
from handlers.blocks.kit import (
    MAX_BUTTON_VALUE,
    MAX_FALLBACK_TEXT,
    MAX_MESSAGE_BLOCKS,
    MAX_MODAL_BLOCKS,
    MAX_SECTION_TEXT,
)
from handlers.blocks.literal import escape
from handlers.blocks.notices import apology_message, unavailable_message, usage_message
from handlers.blocks.quotes import attribution_line, quote_mrkdwn
from handlers.blocks.refs import (
    ACTION_FEEDBACK_HELPFUL,
    ACTION_FEEDBACK_NOT_HELPFUL,
    ACTION_FULL_ARTICLE,
    ACTION_POST_TO_CHANNEL,
    ArticleRef,
    FeedbackRef,
    ShareRef,
    decode_article,
    decode_feedback,
    decode_share,
    encode_article,
    encode_feedback,
    encode_share,
)
from knowledge.models import Answer, Article, ArticleMeta, Quote, Refusal, SourceRef

KB_VERSION = "0123456789abcdef"


def make_quote(text: str = "Huawei offered to license its 5G technology.", **kw: Any) -> Quote:
    fields: dict[str, Any] = {
        "text": text,
        "doc_id": "doc_a",
        "passage_id": "doc_a#1",
        "title": "Huawei offers 5G",
        "publisher": "Reuters",
        "published": dt.date(2019, 10, 18),
        "start": 100,
        "end": 100 + len(text),
        "score": 3.5,
        "highlights": ((0, 6), (30, 32)),
    }
    fields.update(kw)
    return Quote(**fields)


def make_answer(quotes: tuple[Quote, ...] = (), **kw: Any) -> Answer:
    fields: dict[str, Any] = {
        "question": "Will Huawei license 5G?",
        "answered": bool(quotes),
        "kb_version": KB_VERSION,
        "quotes": quotes,
    }
    fields.update(kw)
    return Answer(**fields)


def texts(blocks: list[dict[str, Any]]) -> list[str]:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("mrkdwn", "plain_text"):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(blocks)
    return found


def section_texts(blocks: list[dict[str, Any]]) -> list[str]:
    return [b["text"]["text"] for b in blocks if b["type"] == "section"]


def buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = [b["accessory"] for b in blocks if "accessory" in b]
    found += [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    return found


# --------------------------------------------------------------------------- escaping


def test_escape_only_slack_control_characters() -> None:
    assert (
        escape("<!channel> & <@U1> *bold* `x`") == "&lt;!channel&gt; &amp; &lt;@U1&gt; *bold* `x`"
    )
    assert escape("&amp;") == "&amp;amp;"  # already-escaped text is shown literally too


def test_highlights_are_bold_and_offsets_survive_escaping() -> None:
    text = "AT&T <b>said</b> it licenses 5G"
    rendered, cut = quote_mrkdwn(text, [(0, 4), (29, 31)])
    assert not cut
    assert rendered == "> *AT&amp;T* &lt;b&gt;said&lt;/b&gt; it licenses *5G*"


def test_highlight_spans_are_cleaned_up() -> None:
    text = "one two three\nfour"
    rendered, _ = quote_mrkdwn(
        text,
        [(4, 7), (6, 13), (-5, 3), (99, 120), (3, 4), (12, 15)],  # overlap, clip, blank, newline
    )
    assert rendered == "> *one* *two three*\n> four"


def test_multi_line_quote_is_one_blockquote() -> None:
    rendered, _ = quote_mrkdwn("first line\n\nsecond line")
    assert rendered == "> first line\n>\n> second line"


def test_long_quote_is_cut_within_the_limit_at_a_word() -> None:
    text = ("licence & <royalty> terms " * 400).strip()
    rendered, cut = quote_mrkdwn(text, [(0, 7)], limit=1000)
    assert cut
    assert len(rendered) <= 1000
    assert rendered.endswith("…")
    assert not re.search(r"&[a-z]*…$", rendered)  # no half entity
    assert rendered.startswith("> *licence* &amp; &lt;royalty&gt;")


# --------------------------------------------------------------------------- attribution


def test_attribution_line_has_every_part() -> None:
    quote = make_quote(
        date_estimated=True,
        also_reported_by=(
            SourceRef(
                doc_id="b",
                passage_id="b#2",
                publisher="TechRadar <Pro>",
                published=dt.date(2019, 10, 21),
            ),
            SourceRef(doc_id="c", passage_id="c#1", title="An untitled-publisher story"),
        ),
    )
    assert attribution_line(quote) == (
        "— Huawei offers 5G · Reuters · ≈ 2019-10-18 · also reported by "
        "TechRadar &lt;Pro&gt; (2019-10-21), An untitled-publisher story"
    )


def test_attribution_line_leaves_missing_fields_out() -> None:
    quote = make_quote(title=None, publisher=None, published=None)
    assert attribution_line(quote) == "— untitled"


# --------------------------------------------------------------------------- answers


def test_answer_message_layout() -> None:
    answer = make_answer((make_quote(), make_quote(doc_id="doc_b", passage_id="doc_b#4")))
    message = answer_message(answer, request_id="ref123", shareable=True)
    blocks = message.blocks
    ids = [b.get("block_id") for b in blocks]
    assert ids[:5] == ["question", "quote_0", "source_0", "quote_1", "source_1"]
    assert blocks[1]["text"]["text"].startswith("> *Huawei*")
    assert blocks[1]["accessory"]["action_id"] == ACTION_FULL_ARTICLE
    assert decode_article(blocks[1]["accessory"]["value"]) == ArticleRef(
        doc_id="doc_a", start=100, end=100 + len(answer.quotes[0].text), kb_version=KB_VERSION
    )
    action_ids = [e["action_id"] for e in blocks[-2]["elements"]]
    assert action_ids == [ACTION_POST_TO_CHANNEL, ACTION_FEEDBACK_HELPFUL, "feedback_not_helpful"]
    assert set(action_ids) | {ACTION_FULL_ARTICLE} == {
        ACTION_POST_TO_CHANNEL,
        ACTION_FULL_ARTICLE,
        ACTION_FEEDBACK_HELPFUL,
        ACTION_FEEDBACK_NOT_HELPFUL,
    }
    assert "ref123" in blocks[-1]["elements"][0]["text"]
    assert message.text.startswith("2 quotes for “Will Huawei license 5G?”")


def test_shared_answer_is_attributed_and_has_no_share_button() -> None:
    message = answer_message(make_answer((make_quote(),)), request_id="r", asked_by="U0ASKER1")
    assert "Asked by <@U0ASKER1>" in message.blocks[-1]["elements"][0]["text"]
    assert ACTION_POST_TO_CHANNEL not in [b["action_id"] for b in buttons(message.blocks)]


def test_not_answered_says_so_with_reason_and_hint() -> None:
    answer = make_answer(
        reason="Not in the knowledge base: no article mentions “banana”.",
        refusal=Refusal.UNKNOWN_NAME,
        hint=None,
        unmatched_terms=("banana",),
    )
    message = answer_message(answer, request_id="r", shareable=True)
    shown = "\n".join(texts(message.blocks))
    assert "*Not in the knowledge base:* no article mentions “banana”." in shown
    assert "/kb sources" in shown
    assert ACTION_POST_TO_CHANNEL not in [b["action_id"] for b in buttons(message.blocks)]
    assert message.text.startswith("Not in the knowledge base: no article mentions")


def test_huge_answers_stay_inside_slack_limits() -> None:
    long_text = ("5G licensing <!here> & more. " * 300).strip()
    quotes = tuple(
        make_quote(
            long_text,
            doc_id=f"d{i}",
            passage_id=f"d{i}#1",
            highlights=tuple((j, j + 2) for j in range(0, 3000, 7)),
            also_reported_by=tuple(
                SourceRef(doc_id=f"o{k}", passage_id=f"o{k}#1", publisher=f"Pub {k}" * 20)
                for k in range(40)
            ),
        )
        for i in range(40)
    )
    answer = make_answer(quotes, question="why? " * 2000, truncated=True)
    message = answer_message(answer, request_id="r", shareable=True)
    assert len(message.blocks) <= MAX_MESSAGE_BLOCKS
    assert all(len(t) <= MAX_SECTION_TEXT for t in texts(message.blocks))
    assert all(len(b["value"]) <= MAX_BUTTON_VALUE for b in buttons(message.blocks))
    assert len(message.text) <= MAX_FALLBACK_TEXT
    shown = "\n".join(texts(message.blocks))
    assert "<!here>" not in shown and "<!here>" not in message.text
    assert "Quote shortened" in shown  # a way to see more: the Full article button
    assert "more quotes not shown" in shown
    json.dumps(message.as_payload())


# --------------------------------------------------------------------------- button values


def test_button_values_round_trip() -> None:
    share = ShareRef(question="q?", top=3, kb_version=KB_VERSION, request_id="r1")
    assert decode_share(encode_share(share)) == share
    art = ArticleRef(doc_id="d", start=1, end=9, kb_version=KB_VERSION)
    assert decode_article(encode_article(art)) == art
    fb = FeedbackRef(
        request_id="r",
        kb_version=KB_VERSION,
        answered=True,
        passage_ids=("d#1", "e#2"),
        question="q",
    )
    assert decode_feedback(encode_feedback(fb)) == fb


def test_long_questions_are_shortened_to_fit_a_button() -> None:
    share = ShareRef(question="ü" * 5000, top=3, kb_version=KB_VERSION, request_id="r1")
    value = encode_share(share)
    assert len(value) <= MAX_BUTTON_VALUE
    assert decode_share(value).question == "ü" * len(decode_share(value).question)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "nope",
        "[]",
        '{"d": 1, "s": 0, "e": 1, "v": "x"}',
        '{"d": "x", "s": true, "e": 1, "v": "x"}',
    ],
)
def test_garbage_button_values_are_rejected(value: str) -> None:
    with pytest.raises(ValueError):
        decode_article(value)


# --------------------------------------------------------------------------- short messages


def test_short_messages() -> None:
    assert "/ask" in usage_message().text
    assert unavailable_message("abc").text == "I can't answer right now (ref abc)."
    assert "ref abc" in apology_message("abc").text


# --------------------------------------------------------------------------- full article


def make_article(text: str, url: str | None = "https://example.com/a") -> Article:
    meta = ArticleMeta(
        doc_id="doc_a",
        title="Huawei <offers> 5G",
        publisher="Reuters",
        published=dt.date(2019, 10, 18),
        url=url,
    )
    return Article(meta=meta, text=text, content_hash="0" * 64)


def test_article_view_marks_the_quoted_passage() -> None:
    text = "Intro paragraph.\n\nHuawei offered to license <!channel> its 5G.\n\nClosing."
    start = text.index("Huawei")
    end = text.index("5G.") + 3
    view = article_view(make_article(text), start=start, end=end)
    assert view["type"] == "modal" and len(view["title"]["text"]) <= 24
    marked = [b for b in view["blocks"] if b.get("block_id") == "quoted_passage"]
    assert marked[0]["text"]["text"] == (
        "*Quoted passage:*\n> Huawei offered to license &lt;!channel&gt; its 5G."
    )
    shown = "\n".join(texts(view["blocks"]))
    assert "Intro paragraph." in shown and "Closing." in shown
    assert "<https://example.com/a|source>" in shown
    assert "*Huawei &lt;offers&gt; 5G*" in shown


def test_article_view_of_a_huge_article_is_cut_with_a_note() -> None:
    text = "\n\n".join(f"Paragraph {i} " + "word " * 500 for i in range(400))
    view = article_view(make_article(text, url="javascript:alert(1)"))
    assert len(view["blocks"]) <= MAX_MODAL_BLOCKS
    assert all(len(t) <= MAX_SECTION_TEXT for t in texts(view["blocks"]))
    last = view["blocks"][-1]["elements"][0]["text"]
    assert last.startswith("…the article continues (")
    assert "<javascript" not in "\n".join(texts(view["blocks"]))
