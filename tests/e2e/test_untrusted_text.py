"""Quotes read exactly as the article has them: Slack formatting markers in article text
and metadata do not format, and bidi controls cannot reorder an attribution line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from conftest import Bot, BotFactory, app_mention, find_button
from fake_slack import BOT_USER_ID, Call

from knowledge.service import KnowledgeBase

RLO, PDF, LRI, PDI, RLM = "\u202e", "\u202c", "\u2066", "\u2069", "\u200f"
SENTENCE = (
    f"In May 2019, Quokka Networks said it will license its *gadget* patents for ~$5 million~ "
    f"under `FRAND` terms to _every_ operator, a {RLO}spokesman{PDF} said :tada: on Monday."
)
ARTICLE = f"""Quokka Networks offers its 5G patents

{SENTENCE}

Quokka Networks said the offer stands for a year.
"""
MANIFEST = f"""
[articles.quokka_001]
title = "Quokka {RLO}offer{PDF} *licence* news"
publisher = "{RLM}_Tech_ ~Daily~ {LRI}Wire{PDI}"
published = 2019-10-21
date = "stated"
"""
# Formatting the article's text would get from Slack if its markers were left as they are.
FORMATTED = ["*gadget*", "~$5 million~", "`FRAND`", "_every_", ":tada:", "*licence*", "_Tech_"]
BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
QUESTION = "Will Quokka Networks license its 5G patents?"

# A date token with an invalid format: Slack clients show its fallback, as plain text.
_INERT = re.compile(r"<!date\^0+\^\{_\}\|([^>]*)>")


def shown(mrkdwn: str) -> str:
    """What a Slack client displays for the inert tokens: their fallback characters."""
    return _INERT.sub(lambda m: m.group(1), mrkdwn)


def without_our_bold(mrkdwn: str) -> str:
    """``shown``, minus the bold markers the bot itself put around matched words."""
    parts = _INERT.split(mrkdwn)  # text, fallback, text, fallback, ...
    return "".join(p if i % 2 else p.replace("*", "") for i, p in enumerate(parts))


def assert_reads_verbatim(text: str) -> None:
    """``text`` (everything a message shows) formats nothing of the article's, reorders
    nothing, and still reads as the article and manifest wrote it."""
    assert not BIDI.search(text), f"bidi control left in {text[:200]!r}"
    for raw in FORMATTED:
        assert raw not in text, f"{raw!r} would be formatted by Slack"
    readable = shown(text)
    for raw in FORMATTED:
        assert raw in readable, f"{raw!r} no longer reads as written"
    assert "Quokka offer *licence* news" in readable
    assert "_Tech_ ~Daily~ Wire" in readable


@pytest.fixture
def quokka_bot(make_bot: BotFactory, tmp_path: Path) -> Bot:
    kb_dir = tmp_path / "kb"
    kb_dir.mkdir()
    (kb_dir / "quokka_001.txt").write_text(ARTICLE, encoding="utf-8")
    (kb_dir / "manifest.toml").write_text(MANIFEST, encoding="utf-8")
    return make_bot(knowledge=KnowledgeBase.load(kb_dir))


def blocks_text(blocks: list[dict[str, Any]]) -> str:
    return Call("blocks", "", {}, {"blocks": blocks}, 0.0).all_text()


def quote_sections(blocks: list[dict[str, Any]]) -> list[str]:
    return [b["text"]["text"] for b in blocks if str(b.get("block_id", "")).startswith("quote_")]


def blockquote(text: str) -> str:
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "\n".join("> " + line if line.strip() else ">" for line in escaped.split("\n"))


def test_cleaning_drops_bidi_controls_and_keeps_the_words(quokka_bot: Bot) -> None:
    article = quokka_bot.kb.article("quokka_001")
    assert article is not None
    assert not BIDI.search(article.text)
    assert "a spokesman said :tada: on Monday" in article.text
    assert "*gadget*" in article.text  # the text itself stays verbatim


def test_a_mention_answer_reads_exactly_as_the_article(quokka_bot: Bot) -> None:
    bot = quokka_bot
    bot.event(app_mention(f"<@{BOT_USER_ID}> {QUESTION}"))
    (post,) = bot.fake.wait_for("chat.postMessage")
    blocks = post.blocks()
    assert_reads_verbatim(blocks_text(blocks))
    assert not BIDI.search(post.body["text"])  # the notification text too
    (served,) = bot.audit_records("answer.served")
    quoted = [q["text"] for q in served["quotes"]]
    assert any("*gadget*" in q for q in quoted)  # audited verbatim
    # Every quote, its matched words in bold aside, is the audited text character for character.
    assert [without_our_bold(s) for s in quote_sections(blocks)] == [blockquote(q) for q in quoted]

    bot.click(find_button(blocks, "full_article"))
    (opened,) = bot.fake.wait_for("views.open")
    assert_reads_verbatim(opened.all_text())


def test_ask_and_timeline_read_exactly_as_the_article(quokka_bot: Bot) -> None:
    bot = quokka_bot
    body = bot.command(QUESTION).json()
    assert_reads_verbatim(blocks_text(body["blocks"]))
    timeline = bot.command("quokka", command="/timeline", response_key="tl").json()
    events = [b for b in timeline["blocks"] if str(b.get("block_id", "")).startswith("event_")]
    assert events, timeline["text"]
    assert_reads_verbatim(blocks_text(timeline["blocks"]))
