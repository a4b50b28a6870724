from __future__ import annotations

import datetime as dt

import pytest

from knowledge.answering.dates import (
    DateExpression,
    ExpressionKind,
    Precision,
    ResolvedDate,
    find_date_expressions,
    news_window,
    resolve,
)

FRI = dt.date(2019, 10, 18)  # a Friday
THU = dt.date(2019, 9, 26)  # a Thursday


def only(text: str) -> DateExpression:
    found = find_date_expressions(text)
    assert len(found) == 1, found
    return found[0]


def resolved(text: str, pub: dt.date | None = FRI, *, est: bool = False) -> ResolvedDate:
    r = resolve(only(text), pub, date_estimated=est)
    assert r is not None
    return r


# ------------------------------------------------------------------- what is found


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Nokia acquired Alcatel-Lucent in November 2016.", "in November 2016"),
        ("It has been on the list since May 2019, over concerns.", "since May 2019"),
        ("Huawei has spent billions developing 5G technology since 2009.", "since 2009"),
        ("In May, Huawei was placed on a US blacklist.", "In May"),
        ("Ren told the Times in mid-September.", "in mid-September"),
        ("The rules were due earlier this month.", "earlier this month"),
        ("He gave interviews last month.", "last month"),
        ("Last week at the forum in Zurich, Huawei spoke.", "Last week"),
        ("An executive told Reuters on Friday.", "on Friday"),
        ("It expects a hit to revenue this year.", "this year"),
        ("The deal closed on November 5, 2016, in Paris.", "on November 5, 2016"),
        ("The deal closed on 5 November 2016 in Paris.", "on 5 November 2016"),
        ("The phone was unveiled on Sept. 19 in Munich.", "on Sept. 19"),
        ("Talks started two weeks ago.", "two weeks ago"),
        ("The company said yesterday that it would appeal.", "yesterday"),
        ("Filed 2019-10-22 with the court.", "2019-10-22"),
        ("Growth slowed in early 2019.", "in early 2019"),
        ("The ban could end next May.", "next May"),
    ],
)
def test_finds_the_expression_with_its_cue_words(sentence: str, expected: str) -> None:
    expr = only(sentence)
    assert expr.text == expected
    assert sentence[expr.start : expr.end] == expected


@pytest.mark.parametrize(
    "sentence",
    [
        "Companies may license the technology.",  # the verb, not the month
        "It sold 2019 units.",  # a number without a date cue
        "Shoppers queued on Black Friday.",  # a name, not a weekday date
        "Prices rose over the last year.",  # a duration
        "The talks are only two weeks old.",  # an age, not a date
        "Negotiations had started a few weeks ago.",  # too vague to place
        "It will build 600,000 base stations.",
        "Huawei makes 5G modems.",
    ],
)
def test_ignores_what_is_not_a_date(sentence: str) -> None:
    assert find_date_expressions(sentence) == []


def test_bare_month_needs_a_cue_but_month_with_year_does_not() -> None:
    assert find_date_expressions("August companies met.") == []
    assert only("The May 2019 order banned sales.").text == "May 2019"


def test_longest_expression_wins_over_its_parts() -> None:
    expr = only("It was signed on Sept. 19, 2019 in Beijing.")
    assert expr.kind is ExpressionKind.ABSOLUTE
    assert (expr.year, expr.month, expr.day) == (2019, 9, 19)


def test_several_expressions_come_back_in_text_order() -> None:
    texts = [
        e.text for e in find_date_expressions("In May it was listed; in July 2019 it was not.")
    ]
    assert texts == ["In May", "in July 2019"]


def test_impossible_calendar_dates_are_not_dates() -> None:
    assert find_date_expressions("Filed 2019-02-30 and on February 30, 2019.") == []


def test_a_labelled_date_at_the_start_of_a_line_is_a_dateline() -> None:
    found = find_date_expressions(" date 2019-10-22 Chinese vendor Huawei is in talks.")
    assert [e.dateline for e in found] == [True]
    assert not only("The order was signed 2019-10-22 in Washington.").dateline
    assert [e.dateline for e in find_date_expressions(" Published: 2019-10-22\nHuawei talks.")] == [
        True
    ]


# ------------------------------------------------------------------------ resolution


def test_absolute_dates_need_no_publication_date_and_are_never_estimated() -> None:
    r = resolved("since 2009", None, est=True)
    assert (r.iso, r.precision, r.estimated) == ("2009", Precision.YEAR, False)
    r = resolved("in November 2016", None)
    assert (r.iso, r.precision) == ("2016-11", Precision.MONTH)
    assert (r.start, r.end) == (dt.date(2016, 11, 1), dt.date(2016, 11, 30))
    r = resolved("on November 5, 2016", None)
    assert (r.iso, r.precision) == ("2016-11-05", Precision.DAY)


def test_relative_expressions_without_publication_date_are_unresolved() -> None:
    for text in ("In May", "last month", "on Friday", "this year", "Sept. 19", "yesterday"):
        assert resolve(only(text), None) is None, text


def test_month_alone_is_the_latest_such_month_not_after_publication() -> None:
    assert resolved("In May").iso == "2019-05"
    assert resolved("In July").iso == "2019-07"
    assert resolved("In October").iso == "2019-10"
    assert resolved("In November").iso == "2018-11"
    assert resolved("in mid-September", dt.date(2019, 9, 27)).iso == "2019-09"


def test_month_relations() -> None:
    assert resolved("last October").iso == "2018-10"
    assert resolved("last May").iso == "2019-05"
    assert resolved("this December").iso == "2019-12"
    assert resolved("next May").iso == "2020-05"
    assert resolved("next December").iso == "2019-12"


def test_relative_months_weeks_and_years() -> None:
    assert resolved("last month").iso == "2019-09"
    assert resolved("earlier this month").iso == "2019-10"
    assert resolved("last month", dt.date(2020, 1, 3)).iso == "2019-12"
    assert resolved("next month", dt.date(2019, 12, 3)).iso == "2020-01"
    r = resolved("this year")
    assert (r.iso, r.precision) == ("2019", Precision.YEAR)
    assert resolved("last year").iso == "2018"


def test_weeks_are_calendar_weeks_written_as_their_monday() -> None:
    r = resolved("last week", THU)
    assert (r.iso, r.precision) == ("2019-09-16", Precision.WEEK)
    assert (r.start, r.end) == (dt.date(2019, 9, 16), dt.date(2019, 9, 22))
    assert r.start.weekday() == 0
    # Published on a Monday: last week is the whole of the previous week.
    assert resolved("Last week", dt.date(2019, 10, 21)).iso == "2019-10-14"
    assert resolved("this week", FRI).iso == "2019-10-14"
    assert resolved("two weeks ago", FRI).iso == "2019-09-30"


def test_weekdays() -> None:
    on_friday = resolved("on Friday", FRI, est=True)
    assert (on_friday.iso, on_friday.precision, on_friday.estimated) == (
        "2019-10-18",
        Precision.DAY,
        True,
    )
    assert resolved("on Tuesday", FRI).iso == "2019-10-15"
    assert resolved("last Friday", FRI).iso == "2019-10-11"
    assert resolved("last Thursday", FRI).iso == "2019-10-17"
    assert resolved("next Monday", FRI).iso == "2019-10-21"
    assert resolved("this Wednesday", FRI).iso == "2019-10-16"
    assert resolved("yesterday", FRI).iso == "2019-10-17"
    assert resolved("three days ago", FRI).iso == "2019-10-15"


def test_day_without_year_is_the_latest_such_day_not_after_publication() -> None:
    assert resolved("on Sept. 19", THU).iso == "2019-09-19"
    assert resolved("on 30 September", THU).iso == "2018-09-30"
    leap = resolved("on February 29", dt.date(2021, 3, 1))
    assert leap.iso == "2020-02-29"


def test_estimation_follows_the_publication_date() -> None:
    assert resolved("In May", est=True).estimated
    assert not resolved("In May", est=False).estimated
    assert not resolved("since May 2019", est=True).estimated


def test_news_window_is_the_week_up_to_publication() -> None:
    w = news_window(dt.date(2019, 9, 27))
    assert (w.start, w.end, w.precision, w.estimated) == (
        dt.date(2019, 9, 21),
        dt.date(2019, 9, 27),
        Precision.WEEK,
        True,
    )
    assert w.overlaps(resolved("in mid-September", dt.date(2019, 9, 27)))
    assert not w.overlaps(resolved("last week", dt.date(2019, 9, 20)))


def test_labels_show_precision_and_estimation() -> None:
    assert resolved("since 2009", None).label == "2009"
    assert resolved("in November 2016", None).label == "November 2016"
    assert resolved("last week", THU, est=True).label == "≈ week of 16 Sep 2019"
    assert resolved("on Friday", FRI).label == "18 Oct 2019"
    assert news_window(dt.date(2019, 9, 27)).label == "≈ 21 Sep 2019 – 27 Sep 2019"
