"""The Home tab: app_home_opened (tab "home") → views.publish, and its buttons."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from conftest import DM_CHANNEL, USER, Bot, BotFactory, app_mention, find_button
from conversation_payloads import app_home_opened, view_block_actions
from fake_slack import BOT_USER_ID

from knowledge.service import KnowledgeBase, bundled_kb_dir

ADMIN = "U0ADMIN01"


def open_home(bot: Bot, user: str = USER) -> dict[str, Any]:
    before = len(bot.fake.calls("views.publish"))
    assert bot.event(app_home_opened("home", user=user)).status == 200
    call = bot.fake.wait_for("views.publish", before + 1)[-1]
    assert call.body["user_id"] == user
    return call.view()


def texts(view: dict[str, Any]) -> str:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("mrkdwn", "plain_text"):
                found.append(str(node.get("text")))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(view.get("blocks"))
    return "\n".join(found)


def within_limits(view: dict[str, Any]) -> None:
    assert view["type"] == "home" and len(view["blocks"]) <= 100
    for block in view["blocks"]:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        if block["type"] == "actions":
            assert len(block["elements"]) <= 25
            assert all(len(e["value"]) <= 2000 for e in block["elements"])


def test_home_shows_the_kb_sources_how_to_ask_and_examples(bot: Bot) -> None:
    view = open_home(bot)
    within_limits(view)
    shown = texts(view)
    status = bot.kb.status()
    assert status.kb_version in shown
    assert f"{status.articles} articles, {status.passages} passages" in shown
    for article in bot.kb.snapshot.articles.values():
        if article.meta.title:
            assert article.meta.title.replace("&", "&amp;")[:40] in shown
    examples = [b for b in view["blocks"] if b.get("block_id") == "home_examples"]
    assert examples and examples[0]["elements"]
    for button in examples[0]["elements"]:
        question = json.loads(button["value"])["q"]
        assert bot.kb.answer(question).answered  # every example is answered
    assert "You have not asked anything yet." in shown
    assert "Admin" not in shown  # not an admin
    assert json.loads(view["private_metadata"])["c"] == DM_CHANNEL


def test_the_users_last_questions_with_ask_again(bot: Bot) -> None:
    questions = ["When was Huawei added to the Entity List?", "What did Ren say about security?"]
    for n, question in enumerate(questions):
        bot.event(app_mention(f"<@{BOT_USER_ID}> {question}"))
        bot.logs.wait_for("answer.served", n + 1)
    view = open_home(bot)
    shown = texts(view)
    assert shown.index(questions[1]) < shown.index(questions[0])  # newest first
    again = find_button(view["blocks"], "home_ask")
    recent = [b for b in view["blocks"] if str(b.get("block_id", "")).startswith("home_recent_")]
    button = recent[0]["accessory"]
    assert button["text"]["text"] == "Ask again" and again
    before = len(bot.fake.calls("chat.postMessage"))
    assert bot.interact(view_block_actions(button, view)).status == 200
    posted = bot.fake.wait_for("chat.postMessage", before + 1)[-1]
    assert posted.body["channel"] == DM_CHANNEL  # the user's DM with the bot
    assert questions[1] in posted.all_text()
    bot.logs.wait_for("answer.served", 3)
    record = bot.audit_records("answer.served")[-1]
    assert record["surface"] == "home" and record["question"] == questions[1]
    assert record["user"] == USER


def test_others_questions_are_not_shown(bot: Bot) -> None:
    bot.event(app_mention(f"<@{BOT_USER_ID}> When was Huawei added to the Entity List?"))
    bot.logs.wait_for("answer.served")
    view = open_home(bot, user="U0SOMEONE")
    assert "Entity List?" not in texts(view)


def many_articles(root: Path, n: int) -> Path:
    shutil.copytree(bundled_kb_dir(), root)
    for i in range(n):
        (root / f"extra_{i:02d}.md").write_text(
            f"# Licensing note {i} <@U0ALL> & friends\n\n"
            f"Acme Widgets licensed battery patent family {i} to a rival carmaker in 2021.\n",
            encoding="utf-8",
        )
    return root


def test_sources_are_paged_and_titles_escaped(make_bot: BotFactory, tmp_path: Path) -> None:
    kb = KnowledgeBase.load(many_articles(tmp_path / "kb", 12))
    bot = make_bot(knowledge=kb)
    view = open_home(bot)
    within_limits(view)
    assert "Page 1 of 2" in texts(view)
    assert "<@U0ALL>" not in texts(view)
    nxt = find_button(view["blocks"], "home_sources_page")
    assert nxt["text"]["text"] == "Next"
    assert bot.interact(view_block_actions(nxt, view)).status == 200
    page2 = bot.fake.wait_for("views.publish", 2)[-1].view()
    within_limits(page2)
    assert "Page 2 of 2" in texts(page2)
    assert "&amp; friends" in texts(page2) and "<@" not in texts(page2)
    previous = find_button(page2["blocks"], "home_sources_page")
    assert previous["text"]["text"] == "Previous"
    forged = {"action_id": "home_sources_page", "value": "{oops"}
    assert bot.interact(view_block_actions(forged, page2)).status == 200
    assert bot.logs.wait_for("action.bad_value")[0]["action"] == "home_sources_page"
    assert len(bot.fake.calls("views.publish")) == 2


def test_admins_get_reload_the_last_report_and_the_gaps(
    make_bot: BotFactory, tmp_path: Path
) -> None:
    kb_dir = many_articles(tmp_path / "kb", 1)
    bot = make_bot(knowledge=KnowledgeBase.load(kb_dir), admins=frozenset({ADMIN}))
    bot.event(app_mention(f"<@{BOT_USER_ID}> What did Apple say?"))
    bot.logs.wait_for("answer.served")
    view = open_home(bot, user=ADMIN)
    within_limits(view)
    shown = texts(view)
    assert "Admin" in shown and "No reload since startup." in shown
    assert "*Apple* — 1: 1 refused" in shown
    (kb_dir / "extra_00.md").unlink()
    reload = find_button(view["blocks"], "home_reload")
    assert bot.interact(view_block_actions(reload, view, user=ADMIN)).status == 200
    after = bot.fake.wait_for("views.publish", 2)[-1].view()
    assert "*Last reload*" in texts(after) and "Removed (1)" in texts(after)
    (reloaded,) = bot.audit_records("kb.reloaded")
    assert reloaded["user"] == ADMIN and reloaded["surface"] == "home"
    # A forged Reload click from someone else changes nothing and is audited.
    assert bot.interact(view_block_actions(reload, view, user=USER)).status == 200
    bot.fake.wait_for("views.publish", 3)
    time.sleep(0.2)
    assert len(bot.audit_records("kb.reloaded")) == 1
    assert bot.audit_records("admin.denied")[-1]["action"] == "home reload"


def test_a_failed_publish_is_logged_not_raised(bot: Bot) -> None:
    bot.fake.api_error("views.publish", "not_enabled")
    assert bot.event(app_home_opened("home")).status == 200
    assert bot.logs.wait_for("home.publish_failed")[0]["error"] == "not_enabled"


def test_a_retried_home_event_publishes_once(bot: Bot) -> None:
    event = app_home_opened("home")
    assert bot.event(event, event_id="EvHOME0001").status == 200
    assert bot.event(event, event_id="EvHOME0001", retry_num=1).status == 200
    bot.fake.wait_for("views.publish")
    time.sleep(0.3)
    assert len(bot.fake.calls("views.publish")) == 1
