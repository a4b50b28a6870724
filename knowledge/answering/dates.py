"""Date expressions in article text, and their resolution to calendar ranges.

``find_date_expressions`` reads an expression off the text without interpreting
anything it does not say; ``resolve`` turns it into a ``ResolvedDate`` using the
article's publication date for everything that is relative to "now" ("last
month", "In May", "on Friday"). Conventions, chosen so that every resolved date
is grounded in the text plus the manifest:

- Absolute expressions ("November 2016", "since 2009", "2019-10-22") need no
  publication date and are never estimated.
- Everything else needs a publication date: without one ``resolve`` returns
  ``None`` (the caller lists the event as undated). A resolved date inherits the
  publication date's ``estimated`` flag.
- A month or weekday on its own is the latest one not after the publication date
  ("In May" in an October article is May of the same year; "on Friday" in an
  article published on a Friday is that day). News reports the past; "last"
  means strictly before, "next" strictly after, "this" the same year or week.
- Weeks are calendar weeks, Monday to Sunday; a week-precision date is written as
  the first day of its range.

Forms read: full dates ("November 5, 2016", "5 November 2016", "2019-10-22"), a day
without a year ("Sept. 19"), month + year ("May 2019"), a year or a month after a
cue word ("since 2009", "In May", "mid-September", "last May"), weekdays ("on
Friday"), "yesterday", "last/this/next week|month|year" (also "earlier this
month"), and "N days|weeks|months|years ago". Left out on purpose: "today" and
"now" (as often "nowadays" as a date), vague spans ("a few weeks ago",
"recently"), and durations ("two weeks old", "over the last year").
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Callable
from enum import StrEnum
from typing import Literal

from knowledge.models import Frozen


class Precision(StrEnum):
    YEAR = "year"
    MONTH = "month"
    WEEK = "week"
    DAY = "day"


class ExpressionKind(StrEnum):
    ABSOLUTE = "absolute"  # a year, month + year, or full date
    MONTH_DAY = "month_day"  # "Sept. 19": a day without a year
    MONTH = "month"  # "In May", "mid-September", "last May"
    WEEKDAY = "weekday"  # "on Friday", "last Tuesday"
    RELATIVE = "relative"  # "last month", "this year", "yesterday", "two weeks ago"


Relation = Literal["last", "this", "next"]
Unit = Literal["day", "week", "month", "year"]


class DateExpression(Frozen):
    """One date expression as written; offsets point into the text searched."""

    text: str
    start: int
    end: int
    kind: ExpressionKind
    year: int | None = None
    month: int | None = None
    day: int | None = None
    weekday: int | None = None  # Monday == 0
    relation: Relation | None = None
    unit: Unit | None = None
    offset: int = 0  # RELATIVE: units from the publication date's unit (last month == -1)
    # A labelled publication date at the start of a line ("date 2019-10-22"): it
    # dates the article, not something the article reports.
    dateline: bool = False

    @property
    def is_absolute(self) -> bool:
        return self.kind is ExpressionKind.ABSOLUTE


class ResolvedDate(Frozen):
    """A calendar range [start, end] with the precision the text gave it."""

    start: dt.date
    end: dt.date
    precision: Precision
    estimated: bool = False

    @property
    def iso(self) -> str:
        """``YYYY`` / ``YYYY-MM`` / ``YYYY-MM-DD`` (a week is written as its first day)."""
        if self.precision is Precision.YEAR:
            return f"{self.start.year:04d}"
        if self.precision is Precision.MONTH:
            return f"{self.start.year:04d}-{self.start.month:02d}"
        return self.start.isoformat()

    @property
    def label(self) -> str:
        """Human wording, e.g. ``≈ week of 16 Sep 2019`` or ``≈ 21 Sep 2019 – 27 Sep 2019``."""
        if self.precision is Precision.YEAR:
            text = f"{self.start.year}"
        elif self.precision is Precision.MONTH:
            text = f"{calendar.month_name[self.start.month]} {self.start.year}"
        elif self.precision is Precision.WEEK and self.start.weekday() == 0:
            text = f"week of {_day_label(self.start)}"
        elif self.precision is Precision.WEEK:
            # A news window (seven days up to publication) is not a calendar week.
            text = f"{_day_label(self.start)} – {_day_label(self.end)}"
        else:
            text = _day_label(self.start)
        return f"≈ {text}" if self.estimated else text

    def overlaps(self, other: ResolvedDate) -> bool:
        return self.start <= other.end and other.start <= self.end

    @property
    def span_days(self) -> int:
        return (self.end - self.start).days + 1


def _day_label(day: dt.date) -> str:
    return f"{day.day} {calendar.month_abbr[day.month]} {day.year}"


# --------------------------------------------------------------------------- parsing

_MONTHS: dict[str, int] = {}
for _n in range(1, 13):
    _MONTHS[calendar.month_name[_n].lower()] = _n
    _MONTHS[calendar.month_abbr[_n].lower()] = _n
_MONTHS["sept"] = 9

_WEEKDAYS = {calendar.day_name[i].lower(): i for i in range(7)}

_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
}  # fmt: skip

# Month names are matched case-sensitively: "may" the verb is not "May" the month.
_MONTH_FULL = "|".join(calendar.month_name[1:])
_MONTH_ABBR = r"Sept|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
_MONTH = rf"(?P<mon>(?:{_MONTH_FULL})(?![^\W\d_])|(?:{_MONTH_ABBR})(?:\.|(?![^\W\d_])))"
_MONTH_NAME_ONLY = rf"(?P<mon>(?:{_MONTH_FULL})(?![^\W\d_]))"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?(?![\w])"
_YEAR = r"(?P<year>(?:1[89]|20)\d\d)(?![\w-]|[.,]\d)"
_WEEKDAY = "|".join(calendar.day_name)

_Builder = Callable[[re.Match[str]], dict[str, object] | None]


def _absolute(m: re.Match[str]) -> dict[str, object] | None:
    groups = m.groupdict()
    year = int(groups["year"])
    month = _MONTHS[groups["mon"].rstrip(".").lower()] if groups.get("mon") else None
    day = int(groups["day"]) if groups.get("day") else None
    if month is not None and day is not None and not _valid_day(year, month, day):
        return None
    return {"kind": ExpressionKind.ABSOLUTE, "year": year, "month": month, "day": day}


def _iso(m: re.Match[str]) -> dict[str, object] | None:
    year, month, day = int(m["year"]), int(m["m"]), int(m["day"])
    if not 1 <= month <= 12 or not _valid_day(year, month, day):
        return None
    return {"kind": ExpressionKind.ABSOLUTE, "year": year, "month": month, "day": day}


def _month_day(m: re.Match[str]) -> dict[str, object] | None:
    month, day = _MONTHS[m["mon"].rstrip(".").lower()], int(m["day"])
    # Any leap year will do: only whether the day can exist in that month matters here.
    if not _valid_day(2000, month, day):
        return None
    return {"kind": ExpressionKind.MONTH_DAY, "month": month, "day": day}


def _month_only(m: re.Match[str]) -> dict[str, object] | None:
    return {"kind": ExpressionKind.MONTH, "month": _MONTHS[m["mon"].lower()]}


def _year_only(m: re.Match[str]) -> dict[str, object] | None:
    return {"kind": ExpressionKind.ABSOLUTE, "year": int(m["year"])}


def _relative(m: re.Match[str]) -> dict[str, object] | None:
    rel = m["rel"].lower()
    return {
        "kind": ExpressionKind.RELATIVE,
        "unit": m["unit"].lower(),
        "offset": {"last": -1, "this": 0, "next": 1}[rel],
    }


def _ago(m: re.Match[str]) -> dict[str, object] | None:
    raw = m["n"].lower()
    n = int(raw) if raw.isdigit() else _NUMBER_WORDS[raw]
    if n <= 0:
        return None
    return {"kind": ExpressionKind.RELATIVE, "unit": m["unit"].lower(), "offset": -n}


def _yesterday(m: re.Match[str]) -> dict[str, object] | None:
    return {"kind": ExpressionKind.RELATIVE, "unit": "day", "offset": -1}


def _weekday(m: re.Match[str]) -> dict[str, object] | None:
    return {"kind": ExpressionKind.WEEKDAY, "weekday": _WEEKDAYS[m["wd"].lower()]}


# Each form is matched separately; where matches overlap the longest one wins.
# ``cue`` says whether the form needs a preceding word that makes it a date
# ("since 2009", "In May"): a bare "2009" or "May" is too often something else.
_FORMS: tuple[tuple[re.Pattern[str], _Builder, bool], ...] = (
    (re.compile(r"(?<![\w-])(?P<year>\d{4})-(?P<m>\d{2})-(?P<day>\d{2})(?![\w-])"), _iso, False),
    (re.compile(rf"(?<![\w]){_MONTH}\s+{_DAY},?\s+{_YEAR}"), _absolute, False),
    (re.compile(rf"(?<![\w]){_DAY}\s+(?:of\s+)?{_MONTH},?\s+{_YEAR}"), _absolute, False),
    (re.compile(rf"(?<![\w]){_MONTH},?\s+(?:of\s+)?{_YEAR}"), _absolute, False),
    (re.compile(rf"(?<![\w]){_MONTH}\s+{_DAY}"), _month_day, False),
    (re.compile(rf"(?<![\w]){_DAY}\s+(?:of\s+)?{_MONTH}"), _month_day, False),
    (re.compile(rf"(?<![\w]){_MONTH_NAME_ONLY}"), _month_only, True),
    (re.compile(rf"(?<![\w.,-]){_YEAR}"), _year_only, True),
    (
        re.compile(
            r"(?i:(?<![\w])(?:(?:earlier|later)\s+)?(?P<rel>last|this|next)\s+"
            r"(?P<unit>week|month|year)(?![\w]))"
        ),
        _relative,
        False,
    ),
    (
        re.compile(
            r"(?i:(?<![\w])(?P<n>\d{1,2}|an?|one|two|three|four|five|six|seven|eight|nine|ten"
            r"|eleven|twelve)\s+(?P<unit>day|week|month|year)s?\s+ago(?![\w]))"
        ),
        _ago,
        False,
    ),
    (re.compile(r"(?i:(?<![\w])yesterday(?![\w]))"), _yesterday, False),
    (re.compile(rf"(?<![\w])(?P<wd>{_WEEKDAY})(?![\w])"), _weekday, False),
)

# Words that may precede an expression and belong to it: a preposition, a
# "last/this/next" relation (months and weekdays only) and early/mid/late.
_PREP = (
    r"(?:(?<![\w])(?P<prep>in|since|on|by|until|till|during|from|through|throughout"
    r"|before|after|as\s+of)\s+)?"
)
_REL = r"(?:(?<![\w])(?P<rel>last|this|next)\s+)?"
_PART = r"(?:(?<![\w])(?P<part>early|late|mid)(?:-|\s+))?"
_CUE_WITH_RELATION_RE = re.compile(rf"(?i:{_PREP}{_REL}{_PART})\Z")
_CUE_RE = re.compile(rf"(?i:{_PREP}{_PART})\Z")
_CUE_PREP_ONLY_RE = re.compile(rf"(?i:{_PREP})\Z")
_CUE_WINDOW = 40

# A label that makes a date at the start of a line the article's own date.
_DATELINE_RE = re.compile(
    r"(?i:(?:^|\n)[ \t]*(?:dated?|published|posted|updated|last\s+updated)[ \t]*:?[ \t]*)\Z"
)

# "the last week of June", "the next month": a duration or a position, not a date.
_ARTICLE_BEFORE_RE = re.compile(r"(?i:(?<![\w])the\s+)\Z")


def find_date_expressions(text: str) -> list[DateExpression]:
    """All date expressions in ``text``, in order, without overlaps."""
    candidates: list[tuple[int, int, int, tuple[int, int], dict[str, object]]] = []
    # "February 30, 2019" is no date, and neither is the "February" inside it.
    impossible: list[tuple[int, int]] = []
    for priority, (pattern, build, needs_cue) in enumerate(_FORMS):
        for m in pattern.finditer(text):
            fields = build(m)
            if fields is None:
                impossible.append(m.span())
                continue
            start = _extend_with_cue(text, m, fields, needs_cue=needs_cue)
            if start is None:
                continue
            candidates.append((start, m.end(), priority, m.span(), fields))
    # Longest first, then the more specific form; keep each one that overlaps nothing kept.
    candidates.sort(key=lambda c: (-(c[1] - c[0]), c[2], c[0]))
    taken: list[tuple[int, int, dict[str, object]]] = []
    for start, end, _priority, core, fields in candidates:
        if any(s <= core[0] and core[1] <= e for s, e in impossible):
            continue
        if all(end <= s or start >= e for s, e, _ in taken):
            taken.append((start, end, fields))
    taken.sort(key=lambda t: t[0])
    return [
        DateExpression(
            text=text[start:end],
            start=start,
            end=end,
            dateline=_is_dateline(text, start, fields),
            **fields,
        )
        for start, end, fields in taken
    ]


def _is_dateline(text: str, start: int, fields: dict[str, object]) -> bool:
    full_date = fields["kind"] is ExpressionKind.ABSOLUTE and fields.get("day") is not None
    return full_date and _DATELINE_RE.search(text, 0, start) is not None


def _extend_with_cue(
    text: str, m: re.Match[str], fields: dict[str, object], *, needs_cue: bool
) -> int | None:
    """Start of the expression including its cue words; None when it is not a date."""
    kind = fields["kind"]
    if kind in (ExpressionKind.MONTH, ExpressionKind.WEEKDAY):
        cue_re = _CUE_WITH_RELATION_RE
    elif kind is ExpressionKind.RELATIVE:
        if _ARTICLE_BEFORE_RE.search(text, 0, m.start()):
            return None
        cue_re = _CUE_PREP_ONLY_RE
    else:
        cue_re = _CUE_RE
    window_start = max(0, m.start() - _CUE_WINDOW)
    cue = cue_re.search(text, window_start, m.start())
    assert cue is not None  # every part of the pattern is optional
    groups = cue.groupdict()
    prep, rel, part = groups.get("prep"), groups.get("rel"), groups.get("part")
    if rel is not None:
        fields["relation"] = rel.lower()
    if kind is ExpressionKind.WEEKDAY and not _weekday_is_date(text, m.start(), prep, rel):
        return None
    if needs_cue and not (prep or rel or part):
        return None
    return cue.start() if cue.group() else m.start()


def _weekday_is_date(text: str, start: int, prep: str | None, rel: str | None) -> bool:
    if prep is not None or rel is not None:
        return True
    # "Black Friday", "Good Friday": a capitalised word right before makes it a name.
    before = text[max(0, start - 30) : start]
    return re.search(r"[A-Z][\w'’-]*[ \t]+\Z", before) is None


def _valid_day(year: int, month: int, day: int) -> bool:
    return 1 <= day <= calendar.monthrange(year, month)[1]


# ------------------------------------------------------------------------- resolution


def resolve(
    expr: DateExpression, published: dt.date | None, *, date_estimated: bool = False
) -> ResolvedDate | None:
    """The calendar range ``expr`` refers to, or None when it needs a missing anchor."""
    if expr.kind is ExpressionKind.ABSOLUTE:
        assert expr.year is not None
        return _absolute_range(expr.year, expr.month, expr.day)
    if published is None:
        return None
    resolved = _relative_range(expr, published)
    if resolved is None:
        return None
    return resolved.model_copy(update={"estimated": date_estimated})


def news_window(published: dt.date) -> ResolvedDate:
    """The week up to and including ``published``: when an article's own news happened.

    Always estimated: the article dates the news only by being published.
    """
    return ResolvedDate(
        start=published - dt.timedelta(days=6),
        end=published,
        precision=Precision.WEEK,
        estimated=True,
    )


def _absolute_range(year: int, month: int | None, day: int | None) -> ResolvedDate:
    if month is None:
        return ResolvedDate(
            start=dt.date(year, 1, 1), end=dt.date(year, 12, 31), precision=Precision.YEAR
        )
    if day is None:
        return _month_range(year, month)
    day_date = dt.date(year, month, day)
    return ResolvedDate(start=day_date, end=day_date, precision=Precision.DAY)


def _month_range(year: int, month: int) -> ResolvedDate:
    last = calendar.monthrange(year, month)[1]
    return ResolvedDate(
        start=dt.date(year, month, 1), end=dt.date(year, month, last), precision=Precision.MONTH
    )


def _week_range(day: dt.date) -> ResolvedDate:
    monday = day - dt.timedelta(days=day.weekday())
    return ResolvedDate(start=monday, end=monday + dt.timedelta(days=6), precision=Precision.WEEK)


def _day_range(day: dt.date) -> ResolvedDate:
    return ResolvedDate(start=day, end=day, precision=Precision.DAY)


def _relative_range(expr: DateExpression, pub: dt.date) -> ResolvedDate | None:
    if expr.kind is ExpressionKind.MONTH_DAY:
        assert expr.month is not None and expr.day is not None
        for year in (pub.year, pub.year - 1, pub.year - 2):
            if _valid_day(year, expr.month, expr.day):
                candidate = dt.date(year, expr.month, expr.day)
                if candidate <= pub:
                    return _day_range(candidate)
        return None
    if expr.kind is ExpressionKind.MONTH:
        assert expr.month is not None
        return _month_range(_month_year(expr.month, expr.relation, pub), expr.month)
    if expr.kind is ExpressionKind.WEEKDAY:
        assert expr.weekday is not None
        return _day_range(_weekday_date(expr.weekday, expr.relation, pub))
    assert expr.kind is ExpressionKind.RELATIVE and expr.unit is not None
    if expr.unit == "day":
        return _day_range(pub + dt.timedelta(days=expr.offset))
    if expr.unit == "week":
        return _week_range(pub + dt.timedelta(weeks=expr.offset))
    if expr.unit == "month":
        index = pub.year * 12 + (pub.month - 1) + expr.offset
        return _month_range(index // 12, index % 12 + 1)
    return _absolute_range(pub.year + expr.offset, None, None)


def _month_year(month: int, relation: Relation | None, pub: dt.date) -> int:
    if relation == "this":
        return pub.year
    if relation == "last":
        return pub.year if month < pub.month else pub.year - 1
    if relation == "next":
        return pub.year if month > pub.month else pub.year + 1
    return pub.year if month <= pub.month else pub.year - 1


def _weekday_date(weekday: int, relation: Relation | None, pub: dt.date) -> dt.date:
    if relation == "this":
        return pub + dt.timedelta(days=weekday - pub.weekday())
    if relation == "last":
        return pub - dt.timedelta(days=(pub.weekday() - weekday - 1) % 7 + 1)
    if relation == "next":
        return pub + dt.timedelta(days=(weekday - pub.weekday() - 1) % 7 + 1)
    return pub - dt.timedelta(days=(pub.weekday() - weekday) % 7)
