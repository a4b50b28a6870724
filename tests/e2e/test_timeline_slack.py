"""``/timeline [topic]``: private pages, "Show more", "Post to channel", audit, safety."""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from conftest import CHANNEL, USER, Bot, BotFactory, find_button
from fake_slack import Call

from bot.audit.records import AnswerRecords
from bot.audit.replay import replay_record
from handlers.deps import AuditUnavailable
from knowledge.answering.timeline import Timeline
from knowledge.service import KnowledgeBase, bundled_kb_dir
from knowledge.store.saved import SavedVersions

MORE = "timeline_show_more"
POST = "timeline_post_to_channel"

HOSTILE_ARTICLE = """Zebracorp 5G patent pool

In May 2019, <!channel> Zebracorp agreed to license its 5G patents to <@U123ABC> & \
<https://evil.example/phish|partners> at <!here> prices.

Zebracorp said the patent pool would grow.
"""
HOSTILE_MANIFEST = """
[articles.hostile_001]
title = "Zebracorp <!channel> pool <@U999BAD>"
publisher = "Evil & Co <https://evil.example|news>"
published = 2019-10-21
date = "stated"
"""
HOSTILE = ["<!channel>", "<!here>", "<@U123ABC>", "<https://evil", "<@U999BAD>"]


def run_timeline(bot: Bot, text: str = "", *, response_key: str = "tl") -> dict[str, Any]:
    reply = bot.command(text, command="/timeline", response_key=response_key)
    assert reply.status == 200
    body: dict[str, Any] = reply.json()
    assert body["response_type"] == "ephemeral"
    return body


def event_texts(blocks: list[dict[str, Any]]) -> list[str]:
    return [b["text"]["text"] for b in blocks if str(b.get("block_id", "")).startswith("event_")]


def header(blocks: list[dict[str, Any]]) -> str:
    (found,) = [b for b in blocks if b.get("block_id") == "timeline_header"]
    return str(found["text"]["text"])


def has_button(blocks: list[dict[str, Any]], action_id: str) -> bool:
    try:
        find_button(blocks, action_id)
    except AssertionError:
        return False
    return True


def copy_bundled_kb(tmp_path: Path) -> Path:
    kb_dir = tmp_path / "kb_copy"
    shutil.copytree(bundled_kb_dir(), kb_dir)
    return kb_dir


def add_hostile_article(kb_dir: Path) -> None:
    (kb_dir / "hostile_001.txt").write_text(HOSTILE_ARTICLE, encoding="utf-8")
    with (kb_dir / "manifest.toml").open("a", encoding="utf-8") as manifest:
        manifest.write(HOSTILE_MANIFEST)


def assert_literal(text: str) -> None:
    for raw in HOSTILE:
        assert raw not in text, f"{raw!r} would be parsed by Slack in: {text[:300]!r}"
    for entity in re.findall(r"<[^>]*>", text):
        assert entity == f"<@{USER}>", entity


def shown(body: Mapping[str, Any]) -> str:
    return Call("reply", "/", {}, dict(body), 0.0).all_text()


def quotes_as_recorded(timeline: Timeline) -> list[dict[str, Any]]:
    recorded: list[dict[str, Any]] = json.loads(json.dumps(timeline.audit_quotes()))
    return recorded


# --------------------------------------------------------------------------- first page


def test_timeline_is_private_paginated_and_audited(bot: Bot) -> None:
    full = bot.kb.timeline(None)
    assert len(full.events) > 10
    body = run_timeline(bot)
    blocks = body["blocks"]
    assert f"events 1–10 of {len(full.events)}" in header(blocks)
    texts = event_texts(blocks)
    assert len(texts) == 10
    # Oldest first, each with its verbatim sentence and its article.
    for text, event in zip(texts, full.events[:10], strict=True):
        assert text.startswith(f"*{event.date_label}*")
        assert event.text.replace("&", "&amp;") in text
        assert "\n— " in text
    assert "≈" in "".join(texts)
    assert len(find_button(blocks, MORE)["value"]) <= 2000
    assert json.loads(find_button(blocks, MORE)["value"])["o"] == 10
    find_button(blocks, POST)
    assert body["text"].startswith("Timeline: events 1–10")
    assert bot.fake.calls("chat.postMessage") == []

    (served,) = bot.audit_records("answer.served")
    assert served["surface"] == "timeline" and served["question"] is None
    assert served["kb_version"] == full.kb_version and served["answered"] is True
    assert served["quotes"] == quotes_as_recorded(full)
    assert (served["offset"], served["page_events"], served["total_events"]) == (
        0,
        10,
        len(full.events),
    )
    assert served["user"] == USER and served["channel"] == CHANNEL
    # Recorded once the ack has gone out, so just after the reply.
    assert bot.logs.wait_for("timeline.served")[0]["via"] == "ack"
    (delivered,) = bot.audit_records("answer.delivered")
    assert delivered["request_id"] == served["request_id"]
    assert delivered["outcome"] == "delivered" and delivered["surface"] == "timeline"
    # Audited before it was delivered.
    assert served["seq"] < delivered["seq"]


def test_show_more_answers_privately_with_the_next_page(bot: Bot) -> None:
    full = bot.kb.timeline(None)
    first = run_timeline(bot)
    bot.logs.wait_for("timeline.served")
    reply = bot.click(find_button(first["blocks"], MORE), ephemeral=True, response_key="more1")
    assert reply.status == 200
    (page,) = bot.fake.wait_for("response_url")
    assert page.path.endswith("/more1")
    assert page.body["response_type"] == "ephemeral"
    assert page.body["replace_original"] is False
    blocks = page.blocks()
    assert f"events 11–{len(full.events)} of {len(full.events)}" in header(blocks)
    assert [t.split("\n")[1] for t in event_texts(blocks)] == [
        "> " + e.text.replace("&", "&amp;") for e in full.events[10:]
    ]
    assert not has_button(blocks, MORE)
    find_button(blocks, POST)
    assert not any(b.get("block_id") == "timeline_note" for b in blocks)

    first_rec, second = bot.audit_records("answer.served")
    assert second["surface"] == "timeline" and second["page_of"] == first_rec["request_id"]
    assert (second["offset"], second["page_events"]) == (10, len(full.events) - 10)
    assert second["quotes"] == first_rec["quotes"]
    bot.logs.wait_for("timeline.served", 2)
    outcomes = [(r["request_id"], r["outcome"]) for r in bot.wait_audit("answer.delivered", 2)]
    assert outcomes == [(first_rec["request_id"], "delivered"), (second["request_id"], "delivered")]
    assert bot.fake.calls("chat.postMessage") == []


@pytest.mark.parametrize("topic", ["entity list", "Ren"])
def test_a_topic_keeps_only_its_events(bot: Bot, topic: str) -> None:
    expected = bot.kb.timeline(topic)
    assert 0 < len(expected.events) < len(bot.kb.timeline(None).events)
    body = run_timeline(bot, topic)
    assert f"*Timeline about “{topic}”*" in header(body["blocks"])
    texts = event_texts(body["blocks"])
    assert len(texts) == len(expected.events)
    for text, event in zip(texts, expected.events, strict=True):
        assert event.text.replace("&", "&amp;") in text
    (served,) = bot.audit_records("answer.served")
    assert served["question"] == topic
    assert served["quotes"] == quotes_as_recorded(expected)


@pytest.mark.parametrize("topic", ["", "Ren"])
def test_served_pages_replay_from_the_audit_trail(
    make_bot: BotFactory, tmp_path: Path, topic: str
) -> None:
    data_dir = tmp_path / "data"
    bot = make_bot(knowledge=KnowledgeBase.load(data_dir=data_dir))
    first = run_timeline(bot, topic)
    if has_button(first["blocks"], MORE):
        bot.click(find_button(first["blocks"], MORE), ephemeral=True, response_key="more")
        bot.fake.wait_for("response_url")
    records = bot.audit_records("answer.served")
    assert len(records) == (2 if not topic else 1)
    for record in records:
        result = replay_record(record, SavedVersions(data_dir))
        assert result.same, result.differences


def test_a_topic_that_matches_nothing_says_so(bot: Bot) -> None:
    body = run_timeline(bot, "sourdough pancakes")
    text = shown(body)
    assert "No event in the timeline" in text and "sourdough" in text
    assert "`/timeline` with no topic lists every event." in text
    assert event_texts(body["blocks"]) == []
    assert not has_button(body["blocks"], POST) and not has_button(body["blocks"], MORE)
    (served,) = bot.audit_records("answer.served")
    assert served["answered"] is False and served["quotes"] == []
    assert served["reason"].startswith("No event in the timeline")


def test_help_shows_usage_without_an_answer(bot: Bot) -> None:
    body = run_timeline(bot, "help")
    assert "/timeline" in body["text"] and "entity list" in shown(body)
    assert bot.audit_records("answer.served") == []


# --------------------------------------------------------------------------- sharing


def test_post_to_channel_shares_the_same_page_attributed_to_the_asker(bot: Bot) -> None:
    private = run_timeline(bot)
    reply = bot.click(find_button(private["blocks"], POST), ephemeral=True, response_key="eph")
    assert reply.status == 200
    (post,) = bot.fake.wait_for("chat.postMessage")
    assert post.body["channel"] == CHANNEL
    public = post.blocks()
    assert event_texts(public) == event_texts(private["blocks"])
    assert f"Shared by <@{USER}> with /timeline" in post.all_text()
    assert not has_button(public, POST)
    # Anyone in the channel can page on, privately.
    find_button(public, MORE)
    (confirmation,) = bot.fake.wait_for("response_url")
    assert confirmation.path.endswith("/eph")
    assert confirmation.body["replace_original"] is True
    assert "Posted to the channel" in confirmation.body["text"]

    first, shared = bot.audit_records("answer.served")
    assert shared["surface"] == "post_to_channel" and shared["content"] == "timeline"
    assert shared["shared_from"] == first["request_id"]
    assert shared["quotes"] == first["quotes"] and shared["offset"] == 0
    delivered = bot.audit_records("answer.delivered")[-1]
    assert delivered["request_id"] == shared["request_id"]
    assert delivered["surface"] == "post_to_channel" and delivered["outcome"] == "delivered"
    assert re.fullmatch(r"\d+\.\d+", str(delivered["message_ts"]))
    logged = bot.logs.wait_for("timeline.served", 2)[1]
    assert logged["via"] == "chat.postMessage" and logged["delivered"] is True


def test_show_more_page_can_be_posted_from_where_it_starts(bot: Bot) -> None:
    first = run_timeline(bot)
    bot.click(find_button(first["blocks"], MORE), ephemeral=True, response_key="p2")
    (page,) = bot.fake.wait_for("response_url")
    bot.click(find_button(page.blocks(), POST), ephemeral=True, response_key="p2post")
    (post,) = bot.fake.wait_for("chat.postMessage")
    assert event_texts(post.blocks()) == event_texts(page.blocks())
    assert "events 11–" in header(post.blocks())
    assert bot.audit_records("answer.served")[-1]["offset"] == 10


def test_post_outside_the_bots_channels_goes_through_response_url(bot: Bot) -> None:
    private = run_timeline(bot)
    bot.fake.api_error("chat.postMessage", "not_in_channel")
    bot.click(find_button(private["blocks"], POST), ephemeral=True, response_key="ext")
    public, confirmation = bot.fake.wait_for("response_url", 2)
    assert public.body["response_type"] == "in_channel"
    assert event_texts(public.body["blocks"]) == event_texts(private["blocks"])
    assert confirmation.body["replace_original"] is True
    assert bot.logs.wait_for("timeline.served", 2)[1]["via"] == "response_url"


# --------------------------------------------------------------------------- versions


def test_show_more_after_a_reload_says_so_and_shows_the_current_version(
    make_bot: BotFactory, tmp_path: Path
) -> None:
    kb_dir = copy_bundled_kb(tmp_path)
    bot = make_bot(knowledge=KnowledgeBase.load(kb_dir))
    old_version = bot.kb.kb_version
    first = run_timeline(bot)
    add_hostile_article(kb_dir)
    bot.kb.reload(by="test")
    new = bot.kb.timeline(None)
    assert new.kb_version != old_version

    bot.click(find_button(first["blocks"], MORE), ephemeral=True, response_key="after")
    (page,) = bot.fake.wait_for("response_url")
    blocks = page.blocks()
    (note,) = [b for b in blocks if b.get("block_id") == "timeline_note"]
    note_text = note["elements"][0]["text"]
    assert "knowledge base changed" in note_text
    assert old_version[:8] in note_text and new.kb_version[:8] in note_text
    assert f"events 11–{min(20, len(new.events))} of {len(new.events)}" in header(blocks)
    assert json.loads(find_button(blocks, POST)["value"])["v"] == new.kb_version
    served = bot.audit_records("answer.served")
    assert [r["kb_version"] for r in served] == [old_version, new.kb_version]
    assert served[1]["quotes"] == quotes_as_recorded(new)


def test_a_stale_offset_past_the_end_starts_over_with_a_note(bot: Bot) -> None:
    first = run_timeline(bot)
    button = dict(find_button(first["blocks"], MORE))
    ref = json.loads(button["value"])
    button["value"] = json.dumps({**ref, "o": 999})
    bot.click(button, ephemeral=True, response_key="stale")
    (page,) = bot.fake.wait_for("response_url")
    assert "events 1–10" in header(page.blocks())
    assert "fewer events" in page.all_text()


def test_show_more_with_an_expired_response_url_falls_back_to_an_ephemeral_post(
    bot: Bot,
) -> None:
    first = run_timeline(bot)
    bot.fake.fail("response_url", status=404, times=None, body="expired_url")
    bot.click(find_button(first["blocks"], MORE), ephemeral=True, response_key="expired")
    (ephemeral,) = bot.fake.wait_for("chat.postEphemeral")
    assert ephemeral.body["user"] == USER and ephemeral.body["channel"] == CHANNEL
    assert "events 11–" in header(ephemeral.blocks())
    assert bot.logs.wait_for("timeline.served", 2)[1]["via"] == "chat.postEphemeral"
    assert bot.audit_records("answer.delivered")[-1]["outcome"] == "delivered"


def test_a_tampered_button_gets_a_notice(bot: Bot) -> None:
    bot.click({"action_id": MORE, "value": "{broken"}, response_key="bad")
    (notice,) = bot.fake.wait_for("response_url")
    assert "no longer works" in notice.body["text"]
    assert bot.audit_records("answer.served") == []


# --------------------------------------------------------------------------- failures


class SwitchableAuditor(AnswerRecords):
    """Records in memory until ``broken`` is set, then fails like a full disk."""

    def __init__(self) -> None:
        self.broken = False
        self.records: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def record(self, event: str, **fields: Any) -> Mapping[str, Any]:
        if self.broken:
            raise AuditUnavailable("disk full")
        with self._lock:
            self.records.append({"event": event, **fields})
        return self.records[-1]


def test_no_audit_no_timeline(make_bot: BotFactory) -> None:
    auditor = SwitchableAuditor()
    bot = make_bot(audit=auditor)
    first = run_timeline(bot)
    assert event_texts(first["blocks"])
    bot.logs.wait_for("timeline.served")  # its delivery is recorded once the ack is out
    auditor.broken = True
    body = run_timeline(bot, response_key="refused")
    assert body["text"].startswith("I can't answer right now (ref ")
    assert event_texts(body["blocks"]) == []
    bot.click(find_button(first["blocks"], MORE), ephemeral=True, response_key="more")
    bot.click(find_button(first["blocks"], POST), ephemeral=True, response_key="post")
    notices = bot.fake.wait_for("response_url", 2)
    for notice in notices:
        assert notice.body["text"].startswith("I can't answer right now (ref ")
        assert not event_texts(notice.blocks())
    assert bot.fake.calls("chat.postMessage") == []
    assert len(bot.logs.wait_for("answer.withheld", 3)) == 3
    assert [r["event"] for r in auditor.records] == ["answer.served", "answer.delivered"]


class SlowKnowledgeBase(KnowledgeBase):
    """The real engine, building timelines after a delay (a large knowledge base)."""

    delay = 0.5

    def timeline(self, topic: str | None = None) -> Timeline:
        time.sleep(self.delay)
        return super().timeline(topic)


def test_slow_timeline_acks_a_placeholder_then_replaces_it(
    make_bot: BotFactory, kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    import handlers.commands

    monkeypatch.setattr(handlers.commands, "ACK_BUDGET_S", 0.1)
    bot = make_bot(knowledge=SlowKnowledgeBase(kb.snapshot))
    body = run_timeline(bot)
    assert "Building the timeline" in body["text"]
    (later,) = bot.fake.wait_for("response_url")
    assert later.body["replace_original"] is True
    assert later.body["response_type"] == "ephemeral"
    assert len(event_texts(later.blocks())) == 10
    assert bot.logs.wait_for("timeline.served")[0]["via"] == "response_url"
    assert bot.audit_records("answer.delivered")[0]["outcome"] == "delivered"


# --------------------------------------------------------------------------- safety


def test_hostile_article_text_renders_literally_in_every_copy(
    make_bot: BotFactory, tmp_path: Path
) -> None:
    kb_dir = copy_bundled_kb(tmp_path)
    add_hostile_article(kb_dir)
    bot = make_bot(knowledge=KnowledgeBase.load(kb_dir))
    hostile_events = [e for e in bot.kb.timeline(None).events if "Zebracorp" in e.text]
    assert hostile_events and hostile_events[0].date_label == "May 2019"

    body = run_timeline(bot)
    text = shown(body)
    assert_literal(text)
    assert "In May 2019, &lt;!channel&gt; Zebracorp" in text
    assert "&lt;@U123ABC&gt; &amp; &lt;https://evil.example/phish|partners&gt;" in text
    assert "Evil &amp; Co &lt;https://evil.example|news&gt;" in text

    # The topic comes back escaped too (should_escape: Slack sends "&lt;!channel&gt;").
    topical = run_timeline(bot, "zebracorp patents &lt;!here&gt;", response_key="topic")
    assert_literal(shown(topical))
    assert "&lt;!channel&gt;" in shown(topical)

    bot.click(find_button(body["blocks"], MORE), ephemeral=True, response_key="more")
    (page,) = bot.fake.wait_for("response_url")
    assert_literal(page.all_text())
    bot.click(find_button(body["blocks"], POST), ephemeral=True, response_key="post")
    (post,) = bot.fake.wait_for("chat.postMessage")
    assert "link_names" not in post.body and post.body.get("parse") in (None, "none")
    assert_literal(post.all_text())
    assert "&lt;!channel&gt;" in post.all_text()
