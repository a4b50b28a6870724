"""The timeline of reported events: one compact block per event (date · sentence ·
sources), paginated with "Show more", privately shown with "Post to channel".
"""

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
from handlers.blocks.literal import escape, fallback_text, literal, literal_label
from handlers.blocks.quotes import quote_mrkdwn, source_line, source_name
from handlers.blocks.refs import (
    ACTION_FULL_ARTICLE,
    ACTION_TIMELINE_MORE,
    ACTION_TIMELINE_POST,
    ArticleRef,
    TimelineRef,
    encode_article,
    encode_timeline_ref,
)
from knowledge.answering.timeline import Timeline, TimelineEvent

# Events per page, and the rendered characters a page may take: well under what Slack
# accepts in one message, so a page of long sentences is cut short, never refused.
TIMELINE_PAGE_EVENTS = 10
TIMELINE_PAGE_CHARS = 12_000
# A topic is carried in the buttons verbatim (a cut topic would select other events), so
# it is bounded up front: even fully JSON-escaped it leaves the button value room.
TIMELINE_TOPIC_MAX_CHARS = 300
# Room for the blocks around the events: header, two notes, "more", actions, footer.
_TIMELINE_FRAME_BLOCKS = 8
_TIMELINE_SOURCES_CHARS = 700
_TIMELINE_CONFLICT_CHARS = 700
_TIMELINE_FALLBACK_EVENTS = 5

TIMELINE_USAGE_TEXT = (
    "*Timeline* — the events the articles report, oldest first, each with its date, "
    "a verbatim sentence and every article that reports it.\n"
    "• `/timeline`: every event\n"
    "• `/timeline entity list` or `/timeline Ren`: only the events about a topic\n"
    "Dates marked ≈ are estimated; only you see the timeline until you post it."
)
TIMELINE_NO_TOPIC_HINT = "`/timeline` with no topic lists every event."


def timeline_date_line(event: TimelineEvent) -> str:
    """The event's date in bold, with how the text put it: ``*≈ week of 16 Sep 2019* · “last
    week”``. Escaped mrkdwn."""
    if event.date is None:
        said = f"“{literal(event.date_text)}”: " if event.date_text else ""
        return f"*undated* · _{said}the article gives no publication date to place it_"
    label = f"*{escape(event.date_label)}*"
    if event.basis == "lead":
        return f"{label} · _the article's lead: news of the week before it was published_"
    return f"{label} · _“{literal(event.date_text)}”_" if event.date_text else label


def timeline_conflict_line(event: TimelineEvent) -> str | None:
    """``⚠ sources disagree: …`` with every other date and who gives it, or None."""
    if not event.conflict or not event.alternatives:
        return None
    names = {s.doc_id: source_name(s) for s in event.sources}
    elsewhere = {d for alt in event.alternatives for d in alt.doc_ids}
    own = [source_name(s) for s in event.sources if s.doc_id not in elsewhere]
    parts: list[str] = []
    for alt in event.alternatives:
        who = ", ".join(dict.fromkeys(names.get(d, d) for d in alt.doc_ids))
        said = f" (“{alt.date_text}”)" if alt.date_text else ""
        parts.append(f"{alt.date.label}{said} according to {who}")
    said = f" (“{event.date_text}”)" if event.date_text else ""
    first = f"{event.date_label}{said} according to {', '.join(dict.fromkeys(own))}" if own else ""
    line = "; ".join([first, *parts] if first else parts)
    return cut_rendered(f"⚠ *sources disagree:* {literal_label(line)}", _TIMELINE_CONFLICT_CHARS)


def timeline_sources_line(event: TimelineEvent) -> str:
    """``— title · publisher · date · also: …``: the event's sentence's article, then every
    other article reporting the event. Escaped mrkdwn, at most a few hundred characters."""
    first, *others = event.sources
    return source_line(first, others, also="also:", limit=_TIMELINE_SOURCES_CHARS)


def timeline_event_block(event: TimelineEvent, index: int, kb_version: str) -> Block:
    """One event as one section: date line, the sentence quoted, the conflict, the sources;
    "Full article" opens the first source with the sentence marked."""
    head = timeline_date_line(event)
    tail = [line for line in (timeline_conflict_line(event), timeline_sources_line(event)) if line]
    room = MAX_SECTION_TEXT - SLACK_MARGIN - len(head) - sum(len(t) + 1 for t in tail) - 1
    quote, cut = quote_mrkdwn(event.text, limit=max(200, room - 80))
    if cut:
        quote += "\n_Sentence shortened — *Full article* shows all of it._"
    first = event.sources[0]
    button = button_element(
        "Full article",
        ACTION_FULL_ARTICLE,
        encode_article(
            ArticleRef(doc_id=first.doc_id, start=first.start, end=first.end, kb_version=kb_version)
        ),
    )
    return section_block(
        "\n".join([head, quote, *tail]), block_id=f"event_{index}", accessory=button
    )


def _timeline_page(timeline: Timeline, offset: int, page_events: int) -> tuple[list[Block], int]:
    """The event blocks from ``offset``: at most ``page_events`` and ``TIMELINE_PAGE_CHARS``
    rendered characters, never fewer than one; and the offset after them."""
    blocks: list[Block] = []
    size = 0
    end = offset
    for index in range(offset, len(timeline.events)):
        if len(blocks) >= page_events:
            break
        block = timeline_event_block(timeline.events[index], index, timeline.kb_version)
        cost = len(block["text"]["text"])
        if blocks and size + cost > TIMELINE_PAGE_CHARS:
            break
        blocks.append(block)
        size += cost
        end = index + 1
    return blocks, end


def timeline_page_span(
    timeline: Timeline, offset: int = 0, page_events: int = TIMELINE_PAGE_EVENTS
) -> tuple[int, int]:
    """The events ``[start, end)`` the page at ``offset`` shows (as ``timeline_message``)."""
    if not timeline.events:
        return 0, 0
    start = min(max(0, offset), len(timeline.events) - 1)
    return start, _timeline_page(timeline, start, _page_events(page_events))[1]


def _page_events(page_events: int) -> int:
    return max(1, min(page_events, MAX_MESSAGE_BLOCKS - _TIMELINE_FRAME_BLOCKS))


def _timeline_topic(topic: str | None) -> str:
    return f" about “{literal(shorten(topic, QUESTION_DISPLAY_CHARS))}”" if topic else ""


def _timeline_count(total: int, start: int, end: int) -> str:
    """ "16 events" when the page holds them all, else "events 11–16 of 16"."""
    if (start, end) == (0, total):
        return f"{total} event{'s' if total != 1 else ''}"
    return f"events {start + 1}–{end} of {total}"


def _timeline_fallback(timeline: Timeline, start: int, end: int) -> str:
    about = f" about “{shorten(timeline.topic, 200)}”" if timeline.topic else ""
    if not timeline.events:
        text = f"Timeline{about}: {timeline.reason or 'no events.'}"
        return cut_rendered(fallback_text(text), MAX_FALLBACK_TEXT)
    lines = [f"Timeline{about}: {_timeline_count(len(timeline.events), start, end)}, oldest first"]
    for event in timeline.events[start : min(end, start + _TIMELINE_FALLBACK_EVENTS)]:
        sentence = shorten(" ".join(event.text.split()), FALLBACK_QUOTE_CHARS)
        source = source_name(event.sources[0])
        more = f" +{len(event.sources) - 1}" if len(event.sources) > 1 else ""
        flag = " ⚠ dates disagree" if event.conflict else ""
        lines.append(f"{event.date_label}{flag}: “{sentence}” — {source}{more}")
    if end - start > _TIMELINE_FALLBACK_EVENTS:
        lines.append(f"…and {end - start - _TIMELINE_FALLBACK_EVENTS} more on this page")
    return cut_rendered(fallback_text("\n".join(lines)), MAX_FALLBACK_TEXT)


def timeline_message(
    timeline: Timeline,
    *,
    request_id: str,
    offset: int = 0,
    page_events: int = TIMELINE_PAGE_EVENTS,
    shareable: bool = False,
    asked_by: str | None = None,
    note: str | None = None,
    truncated: bool = False,
) -> Message:
    """One page of the timeline, events ``offset`` onwards, as a chat message.

    "Show more" (when events remain) carries the topic, the next offset and the
    kb_version; ``shareable`` adds "Post to channel" for this page (private copies);
    ``asked_by`` attributes a shared copy; ``note`` is shown above the events.
    """
    total = len(timeline.events)
    start = min(max(0, offset), max(0, total - 1))
    page_events = _page_events(page_events)
    about = _timeline_topic(timeline.topic)
    blocks: list[Block] = []
    notes: list[Block] = []
    if note:
        notes.append(context_block(escape(note), block_id="timeline_note"))
    if truncated:
        notes.append(context_block("Your topic was long, so only its beginning was used."))
    end = start
    if not timeline.events:
        blocks.append(section_block(f"*Timeline{about}*", block_id="timeline_header"))
        blocks.extend(notes)
        lines = [literal(timeline.reason or "The articles report no events.")]
        if timeline.hint:
            lines.append(escape(timeline.hint))
        elif timeline.topic:
            lines.append(TIMELINE_NO_TOPIC_HINT)
        blocks.append(section_block("\n".join(lines), block_id="timeline_empty"))
    else:
        events, end = _timeline_page(timeline, start, page_events)
        count = _timeline_count(total, start, end)
        head = f"*Timeline{about}* — {count}, oldest first · ≈ marks an estimated date"
        blocks.append(section_block(head, block_id="timeline_header"))
        blocks.extend(notes)
        if timeline.unmatched_terms:
            terms = ", ".join(literal(t) for t in timeline.unmatched_terms)
            blocks.append(context_block(f"Not found in any article: {terms}"))
        blocks.extend(events)
        if end < total:
            blocks.append(
                context_block(
                    f"{total - end} more event{'s' if total - end != 1 else ''}: *Show more*.",
                    block_id="timeline_more",
                )
            )
    elements: list[Block] = []
    if end < total:
        ref = TimelineRef(timeline.topic, end, timeline.kb_version, request_id)
        elements.append(button_element("Show more", ACTION_TIMELINE_MORE, encode_timeline_ref(ref)))
    if shareable and timeline.events:
        ref = TimelineRef(timeline.topic, start, timeline.kb_version, request_id)
        elements.append(
            button_element(
                "Post to channel", ACTION_TIMELINE_POST, encode_timeline_ref(ref), style="primary"
            )
        )
    if elements:
        blocks.append({"type": "actions", "block_id": "timeline_actions", "elements": elements})
    footer: list[str] = []
    if asked_by is not None:
        # A user id from Slack's signed payload, so a real mention, not untrusted text.
        footer.append(f"Shared by <@{asked_by}> with /timeline")
    footer.append(f"kb {escape(timeline.kb_version[:8])} · ref {escape(request_id)}")
    blocks.append(context_block(" · ".join(footer), block_id="timeline_footer"))
    return Message(
        text=_timeline_fallback(timeline, start, end), blocks=blocks[:MAX_MESSAGE_BLOCKS]
    )


def timeline_usage_message() -> Message:
    return Message(
        text=escape("Timeline: /timeline for every event, /timeline TOPIC for one topic"),
        blocks=[section_block(TIMELINE_USAGE_TEXT, block_id="timeline_usage")],
    )
