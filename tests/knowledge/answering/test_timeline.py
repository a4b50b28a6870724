from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from knowledge.answering.dates import Precision
from knowledge.answering.timeline import (
    NO_WORDS_REASON,
    Timeline,
    TimelineEvent,
    build_timeline,
    filter_timeline,
)
from knowledge.service import KnowledgeBase
from knowledge.store.loaded import Snapshot

ENTITY_LIST_DOCS = {"000_9ce69e5facb87b11", "001_f90f437b07126a50", "003_d70c0c6fd59800df"}


@pytest.fixture(scope="module")
def bundled() -> Snapshot:
    return KnowledgeBase.load().snapshot


@pytest.fixture(scope="module")
def timeline(bundled: Snapshot) -> Timeline:
    return build_timeline(bundled)


def event_with(timeline: Timeline, fragment: str) -> TimelineEvent:
    """The one event any of whose sentences contains ``fragment``."""
    found = [e for e in timeline.events if any(fragment in s.text for s in e.sources)]
    assert len(found) == 1, [e.text for e in found]
    return found[0]


def write_kb(root: Path, articles: dict[str, str], manifest: str) -> Path:
    root.mkdir()
    for doc_id, body in articles.items():
        (root / f"{doc_id}.txt").write_text(body, encoding="utf-8")
    (root / "manifest.toml").write_text(manifest, encoding="utf-8")
    return root


def load_timeline(root: Path) -> tuple[Snapshot, Timeline]:
    snap = KnowledgeBase.load(root).snapshot
    return snap, build_timeline(snap)


# ------------------------------------------------------------- the bundled articles


@pytest.mark.parametrize(
    ("fragment", "month", "precision"),
    [
        ("since 2009", "2009", Precision.YEAR),
        ("Nokia acquired Alcatel-Lucent", "2016-11", Precision.MONTH),
        ("Entity List", "2019-05", Precision.MONTH),
        ("“timely” licensing decisions", "2019-07", Precision.MONTH),
        ("The New York Times and The Economist last month", "2019-09", Precision.MONTH),
        ("livestreamed from China", "2019-09", Precision.WEEK),
        ("Mate 30 flagship phone", "2019-09", Precision.WEEK),
        ("Mobile Broadband Forum (MBBF) in Zurich", "2019-10", Precision.WEEK),
        ("told Reuters on Friday", "2019-10", Precision.DAY),
    ],
)
def test_the_issue_events_are_on_the_timeline_in_their_month(
    timeline: Timeline, fragment: str, month: str, precision: Precision
) -> None:
    event = event_with(timeline, fragment)
    assert event.iso_date is not None and event.iso_date.startswith(month)
    assert event.precision is precision
    assert not event.conflict


def test_entity_list_is_one_event_reported_by_three_articles(timeline: Timeline) -> None:
    event = event_with(timeline, "Entity List")
    assert {s.doc_id for s in event.sources} == ENTITY_LIST_DOCS
    assert len(event.sources) == 3
    # 001 states its publication date, so its "In May" is not an estimate.
    assert event.doc_id == "001_f90f437b07126a50"
    assert not event.estimated
    assert {s.date_text for s in event.sources} == {"In May", "since May 2019"}


def test_pangs_remarks_to_reuters_are_dated_on_the_friday_and_estimated(
    timeline: Timeline,
) -> None:
    event = event_with(timeline, "told Reuters on Friday")
    assert (event.iso_date, event.estimated, event.date_text) == ("2019-10-18", True, "on Friday")
    # The two later reports lead with the same news; their week contains the Friday.
    assert {s.doc_id[:3] for s in event.sources} == {"000", "001", "002"}
    assert [s.basis for s in event.sources] == ["text", "lead", "lead"]


def test_rens_interviews_are_merged_across_the_articles_that_report_them(
    timeline: Timeline,
) -> None:
    event = event_with(timeline, "The New York Times and The Economist last month")
    assert {s.doc_id[:3] for s in event.sources} == {"000", "001", "002"}
    assert all(s.date is not None and s.date.iso == "2019-09" for s in event.sources)


def test_relative_weeks_resolve_against_the_publication_date(timeline: Timeline) -> None:
    mate = event_with(timeline, "Mate 30 flagship phone")
    assert (mate.iso_date, mate.date_text, mate.estimated) == ("2019-09-16", "last week", True)
    assert mate.date is not None and mate.date.end == dt.date(2019, 9, 22)
    zurich = event_with(timeline, "in Zurich")
    assert (zurich.iso_date, zurich.date_text) == ("2019-10-14", "Last week")


def test_an_undated_lead_is_placed_in_the_week_before_publication(timeline: Timeline) -> None:
    event = event_with(timeline, "livestreamed from China")
    assert event.basis == "lead"
    assert event.date_text == ""
    assert event.estimated
    assert event.date is not None
    assert (event.date.start, event.date.end) == (dt.date(2019, 9, 21), dt.date(2019, 9, 27))


def test_month_alone_and_this_year_resolve_with_the_estimate(timeline: Timeline) -> None:
    mid = event_with(timeline, "Ren told the Times in mid-September")
    assert (mid.iso_date, mid.precision, mid.estimated) == ("2019-09", Precision.MONTH, True)
    hit = event_with(timeline, "$10bn hit to revenue this year")
    assert (hit.iso_date, hit.precision, hit.estimated) == ("2019", Precision.YEAR, True)
    spending = event_with(timeline, "since 2009")
    assert not spending.estimated  # an absolute year needs no publication date


def test_events_are_chronological(timeline: Timeline) -> None:
    starts = [e.date.start for e in timeline.events if e.date is not None]
    assert starts == sorted(starts)
    assert len(starts) == len(timeline.events)  # every bundled article has a date


def test_every_event_sentence_is_verbatim_in_its_passage(
    bundled: Snapshot, timeline: Timeline
) -> None:
    for event in timeline.events:
        assert event.text == event.sources[0].text
        assert len({s.doc_id for s in event.sources}) == len(event.sources)
        for source in event.sources:
            article = bundled.articles[source.doc_id]
            assert article.text[source.start : source.end] == source.text
            passage = bundled.passage(source.passage_id)
            assert passage is not None and passage.doc_id == source.doc_id
            assert passage.start <= source.start < passage.end
            if source.basis == "text":
                assert source.date_text in source.text
            assert source.title == article.meta.title
            assert source.published == article.meta.published


def test_sentences_without_a_date_are_not_events(timeline: Timeline) -> None:
    texts = " ".join(s.text for e in timeline.events for s in e.sources)
    assert "Qualcomm is a US company" not in texts
    assert "Huawei has repeatedly denied this claim" not in texts


def test_json_shape(timeline: Timeline) -> None:
    data = timeline.to_json_dict()
    json.dumps(data)  # serialisable as is
    assert data["topic"] is None
    assert data["kb_version"] == timeline.kb_version
    events = data["events"]
    assert isinstance(events, list) and events
    required = {"date", "precision", "estimated", "date_text", "text", "sources", "conflict"}
    for event in events:
        assert required <= event.keys()
        assert event["precision"] in {"year", "month", "week", "day"}
        assert (
            len(event["date"]) == {"year": 4, "month": 7, "week": 10, "day": 10}[event["precision"]]
        )
        assert isinstance(event["estimated"], bool) and isinstance(event["conflict"], bool)
        for source in event["sources"]:
            assert {"doc_id", "passage_id", "title", "publisher"} <= source.keys()
    entity = next(e for e in events if "Entity List" in e["text"])
    assert entity["date"] == "2019-05"
    assert {s["doc_id"] for s in entity["sources"]} == ENTITY_LIST_DOCS


# -------------------------------------------------------------------- topic filter


def test_topic_keeps_only_events_about_it(bundled: Snapshot, timeline: Timeline) -> None:
    result = filter_timeline(timeline, "entity list", bundled)
    assert result.topic == "entity list"
    assert [e.iso_date for e in result.events] == ["2019-05"]
    assert {s.doc_id for s in result.events[0].sources} == ENTITY_LIST_DOCS
    assert set(result.events[0].matched_terms) == {"entity", "list"}
    assert result.events[0].score is not None and result.events[0].score > 0


def test_topic_ren(bundled: Snapshot, timeline: Timeline) -> None:
    result = filter_timeline(timeline, "Ren", bundled)
    texts = [e.text for e in result.events]
    assert any("The Economist" in t for t in texts)
    assert any("livestreamed" in t for t in texts)
    assert not any("Zurich" in t or "Mate 30" in t for t in texts)
    starts = [e.date.start for e in result.events if e.date is not None]
    assert starts == sorted(starts)
    for event in result.events:
        assert any("Ren" in s.text for s in event.sources)


def test_no_topic_keeps_every_event(bundled: Snapshot, timeline: Timeline) -> None:
    assert filter_timeline(timeline, None, bundled) == timeline
    assert filter_timeline(timeline, "   ", bundled).events == timeline.events


def test_a_topic_that_matches_nothing_says_so(bundled: Snapshot, timeline: Timeline) -> None:
    result = filter_timeline(timeline, "Apple", bundled)
    assert result.events == ()
    assert result.reason is not None and "Apple" in result.reason
    assert result.unmatched_terms == ("Apple",)
    known = filter_timeline(timeline, "smartphone antennas", bundled)
    assert known.events == ()
    assert known.reason is not None and "smartphone antennas" in known.reason


def test_a_topic_without_words_asks_for_words(bundled: Snapshot, timeline: Timeline) -> None:
    result = filter_timeline(timeline, "the of", bundled)
    assert (result.events, result.reason) == ((), NO_WORDS_REASON)
    assert result.hint is not None


# ------------------------------------------------------------ merging rules, in small


ACME_A = """Acme to buy Widget

Acme Corp agreed to buy Widget Networks for $2bn, the companies said on Tuesday.

Acme Corp acquired the Widget Networks patent portfolio for $300m in November 2016, \
according to filings.

In May, regulators opened a review of the Widget deal.

In May, the Widget deal review was opened by regulators in Brussels.
"""
ACME_B = """Widget deal draws scrutiny

Regulators will examine the Widget Networks takeover by Acme Corp closely.

Acme Corp acquired the Widget Networks patent portfolio for $300m in December 2016, \
according to filings.

Last month, unrelated storms closed three factories in Texas.
"""
UNDATED = """Undated note

Analysts said last month that the licensing market was shrinking.

The standard was first published in 2015.
"""
MANIFEST = """
[articles.a]
title = "Acme to buy Widget"
publisher = "Example News"
published = 2019-06-12
date = "stated"

[articles.b]
title = "Widget deal draws scrutiny"
published = 2019-06-14
date = "estimated"
"""


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Snapshot, Timeline]:
    root = tmp_path_factory.mktemp("small") / "kb"
    return load_timeline(write_kb(root, {"a": ACME_A, "b": ACME_B, "c": UNDATED}, MANIFEST))


def test_conflicting_dates_for_one_event_are_flagged_side_by_side(
    small: tuple[Snapshot, Timeline],
) -> None:
    _, timeline = small
    event = event_with(timeline, "patent portfolio")
    assert event.conflict
    assert (event.iso_date, event.doc_id) == ("2016-11", "a")
    assert [(a.date.iso, a.date_text, a.doc_ids) for a in event.alternatives] == [
        ("2016-12", "in December 2016", ("b",))
    ]
    data = event.to_json_dict()
    assert data["conflict"] is True
    assert data["alternatives"] == [
        {
            "date": "2016-12",
            "precision": "month",
            "estimated": False,
            "date_text": "in December 2016",
            "doc_ids": ["b"],
        },
    ]


def test_same_month_alone_does_not_merge_unrelated_events(
    small: tuple[Snapshot, Timeline],
) -> None:
    _, timeline = small
    review = event_with(timeline, "regulators opened a review")
    storms = event_with(timeline, "storms closed three factories")
    assert review is not storms
    assert review.iso_date == storms.iso_date == "2019-05"
    assert (review.estimated, storms.estimated) == (False, True)


def test_one_article_never_counts_twice_for_an_event(small: tuple[Snapshot, Timeline]) -> None:
    _, timeline = small
    # Two near-identical sentences of article a, same month: two entries, not one.
    assert event_with(timeline, "regulators opened a review") is not event_with(
        timeline, "review was opened by regulators"
    )


def test_a_lead_joins_the_dated_report_inside_its_week(small: tuple[Snapshot, Timeline]) -> None:
    _, timeline = small
    event = event_with(timeline, "said on Tuesday")
    assert (event.iso_date, event.precision) == ("2019-06-11", Precision.DAY)
    assert [(s.doc_id, s.basis) for s in event.sources] == [("a", "text"), ("b", "lead")]


def test_without_a_publication_date_relative_expressions_are_undated(
    small: tuple[Snapshot, Timeline],
) -> None:
    _, timeline = small
    undated = event_with(timeline, "Analysts said last month")
    assert undated.date is None and undated.precision is None
    assert undated.date_label == "undated"
    assert timeline.events[-1] is undated
    assert timeline.undated == (undated,)
    data = undated.to_json_dict()
    assert (data["date"], data["precision"], data["estimated"]) == (None, None, False)
    # An absolute year in the same article needs no publication date; no lead is guessed.
    assert event_with(timeline, "first published in 2015").iso_date == "2015"
    assert not any(
        s.doc_id == "c" and s.basis == "lead" for e in timeline.events for s in e.sources
    )


def test_the_lead_is_the_first_paragraph_up_to_two_sentences(tmp_path: Path) -> None:
    body = (
        "Acme news\n\n"
        "Acme signed a codec licensing deal with Widget. The agreement covers every codec "
        "patent Acme holds. It runs for five years.\n\n"
        "Analysts welcomed the agreement.\n"
    )
    other = "Widget news\n\nWidget expects higher margins.\n\nIts shares rose.\n"
    manifest = (
        '[articles.lead]\npublished = 2020-03-06\ndate = "stated"\n'
        '[articles.short]\npublished = 2020-03-06\ndate = "stated"\n'
    )
    _, timeline = load_timeline(write_kb(tmp_path / "kb", {"lead": body, "short": other}, manifest))
    leads = sorted((s.doc_id, s.text) for e in timeline.events for s in e.sources)
    assert leads == [
        ("lead", "Acme signed a codec licensing deal with Widget."),
        ("lead", "The agreement covers every codec patent Acme holds."),
        ("short", "Widget expects higher margins."),
    ]
    for event in timeline.events:
        assert (event.basis, event.date_text, event.estimated) == ("lead", "", True)
        assert event.date is not None
        assert (event.date.start, event.date.end) == (dt.date(2020, 2, 29), dt.date(2020, 3, 6))


def test_a_date_on_its_own_is_not_an_event(tmp_path: Path) -> None:
    body = (
        "Quiet week\n\nNothing happened to the widget market.\n\n"
        "That was on October 22, 2019.\n\nWidget prices rose in March 2018.\n"
    )
    manifest = '[articles.q]\npublished = 2019-10-23\ndate = "stated"\n'
    snap, timeline = load_timeline(write_kb(tmp_path / "kb", {"q": body}, manifest))
    assert "That was on October 22, 2019." in snap.articles["q"].text
    assert [e.text for e in timeline.events if e.basis == "text"] == [
        "Widget prices rose in March 2018."
    ]


def test_an_empty_knowledge_base_has_an_empty_timeline(tmp_path: Path) -> None:
    root = tmp_path / "kb"
    root.mkdir()
    snap = KnowledgeBase.load(root).snapshot
    timeline = build_timeline(snap)
    assert timeline.events == () and timeline.reason is not None
    assert filter_timeline(timeline, "Huawei", snap).events == ()
