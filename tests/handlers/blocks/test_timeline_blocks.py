"""The timeline's Block Kit builders: one block per event, labels, escaping, pages, limits."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest

from handlers.blocks.kit import (
    MAX_BUTTON_VALUE,
    MAX_FALLBACK_TEXT,
    MAX_MESSAGE_BLOCKS,
    MAX_SECTION_TEXT,
)
from handlers.blocks.refs import (
    ACTION_FULL_ARTICLE,
    ACTION_TIMELINE_MORE,
    ACTION_TIMELINE_POST,
    TimelineRef,
    decode_article,
    decode_timeline_ref,
    encode_timeline_ref,
)
from handlers.blocks.timeline import (
    TIMELINE_NO_TOPIC_HINT,
    TIMELINE_PAGE_CHARS,
    TIMELINE_PAGE_EVENTS,
    TIMELINE_TOPIC_MAX_CHARS,
    timeline_conflict_line,
    timeline_date_line,
    timeline_event_block,
    timeline_message,
    timeline_page_span,
    timeline_sources_line,
    timeline_usage_message,
)
from knowledge.answering.dates import Precision, ResolvedDate
from knowledge.answering.timeline import DateAlternative, Timeline, TimelineEvent, TimelineSource
from knowledge.service import KnowledgeBase

KB_VERSION = "0123456789abcdef"
SENTENCE = "Huawei offered to license its 5G technology to a US company."


def rdate(
    start: dt.date, precision: Precision, *, end: dt.date | None = None, estimated: bool = False
) -> ResolvedDate:
    if end is None:
        if precision is Precision.YEAR:
            end = dt.date(start.year, 12, 31)
        elif precision is Precision.MONTH:
            end = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
            end -= dt.timedelta(days=1)
        elif precision is Precision.WEEK:
            end = start + dt.timedelta(days=6)
        else:
            end = start
    return ResolvedDate(start=start, end=end, precision=precision, estimated=estimated)


MAY_2019 = rdate(dt.date(2019, 5, 1), Precision.MONTH)


def source(
    doc_id: str = "doc_a",
    *,
    text: str = SENTENCE,
    date: ResolvedDate | None = MAY_2019,
    date_text: str = "In May 2019",
    **kw: Any,
) -> TimelineSource:
    fields: dict[str, Any] = {
        "doc_id": doc_id,
        "passage_id": f"{doc_id}#3",
        "title": f"Title of {doc_id}",
        "publisher": f"Publisher {doc_id[-1].upper()}",
        "published": dt.date(2019, 10, 18),
        "date_estimated": False,
        "text": text,
        "start": 120,
        "end": 120 + len(text),
        "date_text": date_text,
        "basis": "text",
        "date": date,
    }
    fields.update(kw)
    return TimelineSource(**fields)


def event(*sources: TimelineSource, **kw: Any) -> TimelineEvent:
    sources = sources or (source(),)
    first = sources[0]
    fields: dict[str, Any] = {
        "date": first.date,
        "date_text": first.date_text,
        "basis": first.basis,
        "text": first.text,
        "sources": sources,
    }
    fields.update(kw)
    return TimelineEvent(**fields)


def timeline(events: list[TimelineEvent] | None = None, **kw: Any) -> Timeline:
    return Timeline(
        kb_version=KB_VERSION, events=tuple(events if events is not None else [event()]), **kw
    )


def numbered(n: int, *, text: str = SENTENCE) -> Timeline:
    return timeline(
        [
            event(source(f"doc_{i:03d}", text=f"{i}: {text}", start=i, end=i + len(text)))
            for i in range(n)
        ]
    )


def texts(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        if node.get("type") in ("mrkdwn", "plain_text") and "text" in node:
            found.append(node["text"])
        for value in node.values():
            found.extend(texts(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(texts(item))
    return found


def buttons(blocks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for block in blocks:
        for element in [*block.get("elements", []), block.get("accessory") or {}]:
            if element.get("type") == "button" and element["action_id"] != ACTION_FULL_ARTICLE:
                found[element["action_id"]] = element
    return found


def event_blocks(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [b for b in blocks if str(b.get("block_id", "")).startswith("event_")]


def assert_within_limits(blocks: list[dict[str, Any]], text: str) -> None:
    assert len(blocks) <= MAX_MESSAGE_BLOCKS
    assert 0 < len(text) <= MAX_FALLBACK_TEXT
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= MAX_SECTION_TEXT
        for element in [*block.get("elements", []), block.get("accessory") or {}]:
            if element.get("type") == "button":
                assert len(element["value"]) <= MAX_BUTTON_VALUE


# --------------------------------------------------------------------------- one event


@pytest.mark.parametrize(
    ("date", "date_text", "label"),
    [
        (
            rdate(dt.date(2019, 9, 16), Precision.WEEK, estimated=True),
            "last week",
            "≈ week of 16 Sep 2019",
        ),
        (MAY_2019, "In May 2019", "May 2019"),
        (rdate(dt.date(2009, 1, 1), Precision.YEAR), "since 2009", "2009"),
        (rdate(dt.date(2019, 10, 18), Precision.DAY, estimated=True), "on Friday", "≈ 18 Oct 2019"),
    ],
    ids=["estimated-week", "month", "year", "estimated-day"],
)
def test_date_line_shows_precision_estimate_and_wording(
    date: ResolvedDate, date_text: str, label: str
) -> None:
    line = timeline_date_line(event(source(date=date, date_text=date_text)))
    assert line == f"*{label}* · _“{date_text}”_"


def test_lead_and_undated_events_say_how_they_are_placed() -> None:
    window = rdate(dt.date(2019, 10, 12), Precision.WEEK, end=dt.date(2019, 10, 18), estimated=True)
    lead = timeline_date_line(event(source(date=window, date_text="", basis="lead")))
    assert lead.startswith("*≈ 12 Oct 2019 – 18 Oct 2019*") and "lead" in lead
    undated = timeline_date_line(event(source(date=None, date_text="last month")))
    assert undated.startswith("*undated*") and "“last month”" in undated


def test_sources_line_names_the_article_then_every_other_one() -> None:
    e = event(
        source("doc_a"),
        source("doc_b", date_estimated=True, published=dt.date(2019, 10, 21)),
        source("doc_c", publisher=None, published=None),
    )
    line = timeline_sources_line(e)
    assert line == (
        "— Title of doc_a · Publisher A · 2019-10-18 · also: "
        "Publisher B (≈ 2019-10-21), Title of doc_c"
    )
    assert timeline_sources_line(event(source(title=None, publisher=None, published=None))) == (
        "— untitled"
    )


def test_many_sources_are_counted_not_listed_past_the_budget() -> None:
    many = [source(f"doc_{i:03d}", publisher=f"Publisher number {i:03d} " * 3) for i in range(200)]
    line = timeline_sources_line(event(*many))
    assert len(line) <= 700
    assert re.search(r"…and \d+ more$", line)


def test_conflicting_dates_are_flagged_with_every_alternative() -> None:
    june = rdate(dt.date(2019, 6, 1), Precision.MONTH)
    e = event(
        source("doc_a"),
        source("doc_b", date=june, date_text="in June"),
        conflict=True,
        alternatives=(DateAlternative(date=june, date_text="in June", doc_ids=("doc_b",)),),
    )
    line = timeline_conflict_line(e)
    assert line == (
        "⚠ *sources disagree:* May 2019 (“In May 2019”) according to Publisher A; "
        "June 2019 (“in June”) according to Publisher B"
    )
    block = timeline_event_block(e, 0, KB_VERSION)
    assert line in block["text"]["text"]
    assert timeline_conflict_line(event()) is None
    message = timeline_message(timeline([e]), request_id="r")
    assert "dates disagree" in message.text


def test_event_block_is_compact_date_sentence_sources_with_full_article() -> None:
    block = timeline_event_block(event(), 7, KB_VERSION)
    assert block["block_id"] == "event_7"
    lines = block["text"]["text"].split("\n")
    assert lines == [
        "*May 2019* · _“In May 2019”_",
        f"> {SENTENCE}",
        "— Title of doc_a · Publisher A · 2019-10-18",
    ]
    ref = decode_article(block["accessory"]["value"])
    assert (ref.doc_id, ref.start, ref.end, ref.kb_version) == (
        "doc_a",
        120,
        120 + len(SENTENCE),
        KB_VERSION,
    )


def test_hostile_article_text_renders_literally() -> None:
    hostile = "In May 2019, <!channel> & <@U123ABC> saw <https://evil.example|this>."
    e = event(
        source(
            text=hostile,
            title="<!here> title",
            publisher="Evil & Co <https://evil.example|news>",
            date_text="In May <!subteam^S1>",
        ),
        source("doc_b", publisher="<@U999BAD>"),
        conflict=True,
        alternatives=(
            DateAlternative(date=MAY_2019, date_text="<!channel> May", doc_ids=("doc_b",)),
        ),
    )
    message = timeline_message(
        timeline([e], topic="<!channel> news", unmatched_terms=("<!here>",)),
        request_id="r",
        shareable=True,
        note="<!everyone> note",
    )
    shown = "\n".join([message.text, *texts(message.blocks)])
    assert (
        "&lt;!channel&gt;" in shown and "Evil &amp; Co &lt;https://evil.example|news&gt;" in shown
    )
    assert re.findall(r"<[^>]*>", shown) == []
    for block in message.blocks:
        for obj in texts(block):
            assert "<" not in obj
        if block["type"] in ("section", "context"):
            objs = [block["text"]] if block["type"] == "section" else block["elements"]
            assert all(o.get("verbatim") is True for o in objs)


# --------------------------------------------------------------------------- messages


def test_first_page_has_header_events_show_more_and_post() -> None:
    t = numbered(23)
    message = timeline_message(t, request_id="ref1", shareable=True)
    blocks = message.blocks
    assert blocks[0]["block_id"] == "timeline_header"
    assert "events 1–10 of 23" in blocks[0]["text"]["text"]
    shown = event_blocks(blocks)
    assert [b["block_id"] for b in shown] == [f"event_{i}" for i in range(TIMELINE_PAGE_EVENTS)]
    found = buttons(blocks)
    assert set(found) == {ACTION_TIMELINE_MORE, ACTION_TIMELINE_POST}
    assert decode_timeline_ref(found[ACTION_TIMELINE_MORE]["value"]) == TimelineRef(
        topic=None, offset=10, kb_version=KB_VERSION, request_id="ref1"
    )
    assert decode_timeline_ref(found[ACTION_TIMELINE_POST]["value"]).offset == 0
    assert found[ACTION_TIMELINE_POST]["style"] == "primary"
    assert "ref ref1" in texts(blocks[-1])[0] and "kb 01234567" in texts(blocks[-1])[0]
    assert message.text.startswith("Timeline: events 1–10 of 23, oldest first")
    assert_within_limits(blocks, message.text)


def test_pages_cover_every_event_once_in_order() -> None:
    t = numbered(23)
    seen: list[str] = []
    offset: int | None = 0
    while offset is not None:
        message = timeline_message(t, request_id="r", offset=offset, shareable=True)
        seen.extend(b["block_id"] for b in event_blocks(message.blocks))
        assert timeline_page_span(t, offset) == (offset, len(seen))
        more = buttons(message.blocks).get(ACTION_TIMELINE_MORE)
        offset = decode_timeline_ref(more["value"]).offset if more else None
    assert seen == [f"event_{i}" for i in range(23)]
    last = timeline_message(t, request_id="r", offset=20)
    assert "events 21–23 of 23" in last.blocks[0]["text"]["text"]
    assert ACTION_TIMELINE_MORE not in buttons(last.blocks)


def test_a_short_timeline_is_one_page_without_show_more() -> None:
    message = timeline_message(numbered(3), request_id="r", shareable=True)
    assert "— 3 events, oldest first" in message.blocks[0]["text"]["text"]
    assert set(buttons(message.blocks)) == {ACTION_TIMELINE_POST}


def test_huge_events_stay_inside_slacks_limits() -> None:
    long_text = "In May 2019 " + ("Huawei <licensed> & shared " * 400)
    many = [source(f"doc_{i:03d}", publisher="P & <Q> " * 20) for i in range(60)]
    events = [event(source(f"big_{i}", text=long_text), *many) for i in range(60)]
    t = timeline(events, topic="x" * TIMELINE_TOPIC_MAX_CHARS)
    message = timeline_message(t, request_id="r", shareable=True, page_events=500)
    assert_within_limits(message.blocks, message.text)
    shown = event_blocks(message.blocks)
    assert 1 <= len(shown) < len(events)
    assert sum(len(b["text"]["text"]) for b in shown) <= TIMELINE_PAGE_CHARS + MAX_SECTION_TEXT
    assert "Sentence shortened" in shown[0]["text"]["text"]
    # The cut sentence stays valid markup: no half-written entity before the "…".
    assert not re.search(r"&[a-z]*…", shown[0]["text"]["text"])


def test_worst_case_topic_fits_the_buttons() -> None:
    topic = "\x01" * TIMELINE_TOPIC_MAX_CHARS  # each character JSON-escaped to six
    ref = TimelineRef(topic=topic, offset=10_000, kb_version="f" * 64, request_id="r" * 32)
    value = encode_timeline_ref(ref)
    assert len(value) <= MAX_BUTTON_VALUE
    assert decode_timeline_ref(value) == ref


@pytest.mark.parametrize(
    "value",
    [
        "{not json",
        "[]",
        json.dumps({"t": None, "o": -1, "v": KB_VERSION, "r": "r"}),
        json.dumps({"t": None, "o": True, "v": KB_VERSION, "r": "r"}),
        json.dumps({"t": 5, "o": 0, "v": KB_VERSION, "r": "r"}),
        json.dumps({"t": None, "o": 0, "r": "r"}),
    ],
)
def test_tampered_button_values_are_rejected(value: str) -> None:
    with pytest.raises(ValueError):
        decode_timeline_ref(value)


def test_no_events_says_why_with_the_hint_and_no_buttons() -> None:
    empty = timeline(
        [],
        topic="sourdough",
        reason="No event in the timeline: no article mentions “sourdough”.",
    )
    message = timeline_message(empty, request_id="r", shareable=True)
    body = [b for b in message.blocks if b.get("block_id") == "timeline_empty"]
    assert body and "no article mentions “sourdough”" in body[0]["text"]["text"]
    assert TIMELINE_NO_TOPIC_HINT in body[0]["text"]["text"]
    assert buttons(message.blocks) == {}
    assert message.text == (
        "Timeline about “sourdough”: No event in the timeline: no article mentions “sourdough”."
    )
    hinted = timeline_message(
        timeline([], topic="the", reason="The topic has no words.", hint="Give a `/timeline` x"),
        request_id="r",
    )
    assert "Give a `/timeline` x" in texts(hinted.blocks)[1]


def test_shared_copy_is_attributed_keeps_show_more_and_has_no_post() -> None:
    message = timeline_message(
        numbered(12), request_id="r", asked_by="U0ASKER1", note="The knowledge base changed."
    )
    assert "Shared by <@U0ASKER1> with /timeline" in texts(message.blocks[-1])[0]
    assert set(buttons(message.blocks)) == {ACTION_TIMELINE_MORE}
    assert message.blocks[1]["block_id"] == "timeline_note"


def test_unmatched_topic_words_are_named() -> None:
    t = timeline([event()], topic="Huawei zebra", unmatched_terms=("zebra",))
    shown = texts(timeline_message(t, request_id="r").blocks)
    assert "*Timeline about “Huawei zebra”*" in shown[0]
    assert "Not found in any article: zebra" in shown


def test_usage_message_names_the_command() -> None:
    message = timeline_usage_message()
    assert "/timeline" in message.text and "`/timeline entity list`" in texts(message.blocks)[0]


def test_bundled_timeline_pages_stay_in_limits() -> None:
    t = KnowledgeBase.load().timeline(None)
    offset, covered = 0, 0
    while covered < len(t.events):
        message = timeline_message(t, request_id="r", offset=offset, shareable=True)
        assert_within_limits(message.blocks, message.text)
        covered += len(event_blocks(message.blocks))
        offset = covered
    assert covered == len(t.events) > TIMELINE_PAGE_EVENTS
