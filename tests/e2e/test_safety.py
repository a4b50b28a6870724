"""Article text is untrusted: hostile markup must render literally everywhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import Bot, BotFactory, app_mention, find_button
from fake_slack import BOT_USER_ID, Call

from knowledge.service import KnowledgeBase

ARTICLE = """Zebracorp offers its 5G licence to everyone

Zebracorp said on Monday it would license its 5G patents <!channel> to any operator that \
asks, and <!here> is where the deal starts.

The Zebracorp licensing chief <@U123ABC> told <!subteam^S0TEAM|@engineers> that terms are \
at <https://evil.example/phish|click here> & nowhere else, plus <#C0SECRET|secret-channel>.
"""

MANIFEST = """
[articles.hostile_001]
title = "Zebracorp <!channel> licence news <@U999BAD>"
publisher = "Evil & Co <https://evil.example|news>"
url = "https://evil.example/x|<!here>"
published = 2019-10-21
date = "stated"
"""

HOSTILE = [
    "<!channel>",
    "<!here>",
    "<@U123ABC>",
    "<!subteam^",
    "<https://evil",
    "<#C0SECRET",
    "<@U999BAD>",
]


@pytest.fixture
def hostile_bot(make_bot: BotFactory, tmp_path: Path) -> Bot:
    kb_dir = tmp_path / "kb"
    kb_dir.mkdir()
    (kb_dir / "hostile_001.txt").write_text(ARTICLE, encoding="utf-8")
    (kb_dir / "manifest.toml").write_text(MANIFEST, encoding="utf-8")
    return make_bot(knowledge=KnowledgeBase.load(kb_dir))


def assert_literal(text: str) -> None:
    for raw in HOSTILE:
        assert raw not in text, f"{raw!r} would be parsed by Slack in: {text[:300]!r}"
    # Nothing but our own ref/mention syntax may open an entity.
    for entity in re.findall(r"<[^>]*>", text):
        assert re.fullmatch(r"<@U0USER001>", entity), entity


def assert_safe_call(call: Call) -> None:
    assert "link_names" not in call.body
    assert call.body.get("parse") in (None, "none")
    assert_literal(call.all_text())


def test_hostile_quotes_render_literally_in_a_mention_reply(hostile_bot: Bot) -> None:
    bot = hostile_bot
    bot.event(app_mention(f"<@{BOT_USER_ID}> zebracorp license 5G patents operator terms"))
    (call,) = bot.fake.wait_for("chat.postMessage")
    assert_safe_call(call)
    text = call.all_text()
    assert "&lt;!channel&gt;" in text and "&lt;!here&gt;" in text
    assert "Evil &amp; Co &lt;https://evil.example|news&gt;" in text
    for block in call.blocks():
        if block.get("block_id", "").startswith("quote_"):
            assert block["text"]["verbatim"] is True  # no auto-linking of bare URLs either


def test_hostile_article_renders_literally_in_the_full_article_view(hostile_bot: Bot) -> None:
    bot = hostile_bot
    bot.event(app_mention(f"<@{BOT_USER_ID}> zebracorp licensing chief terms"))
    (call,) = bot.fake.wait_for("chat.postMessage")
    bot.click(find_button(call.blocks(), "full_article"))
    (opened,) = bot.fake.wait_for("views.open")
    text = opened.all_text()
    assert_literal(text)
    assert "&lt;@U123ABC&gt;" in text
    assert "&lt;https://evil.example/phish|click here&gt; &amp; nowhere else" in text
    # The manifest URL is not a safe link target, so it is shown as text.
    assert "https://evil.example/x|&lt;!here&gt;" in text


def test_hostile_text_stays_literal_in_ask_and_its_shared_copy(hostile_bot: Bot) -> None:
    bot = hostile_bot
    # should_escape: Slack sends a typed "<!channel>" as "&lt;!channel&gt;".
    body = bot.command("zebracorp 5G patents &lt;!channel&gt; operator").json()
    shown = Call("ack", "/slack/events", {}, body, 0.0).all_text()
    assert_literal(shown)
    assert "&lt;!channel&gt;" in shown  # the echoed question
    bot.click(find_button(body["blocks"], "post_to_channel"), ephemeral=True)
    (shared,) = bot.fake.wait_for("chat.postMessage")
    assert_safe_call(shared)
