from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from knowledge.ingest.cleaning import ELLIPSIS, clean_text
from knowledge.ingest.derive import derive, parse_date, title_from_lead
from knowledge.ingest.loader import load_kb_dir
from knowledge.models import ArticleMeta
from knowledge.service import KnowledgeBase

BODY = [
    "Acme Widgets said on Tuesday that it will license its solid-state battery patents to "
    "three rival carmakers for a flat annual fee.",
    "The company's chief executive told analysts last month that the deal could be worth more "
    "than two billion dollars over a decade.",
]


def load_one(tmp_path: Path, text: str, name: str = "acme.txt") -> ArticleMeta:
    """Load a knowledge base of one article without a manifest entry."""
    (tmp_path / name).write_text(text, encoding="utf-8")
    loaded = load_kb_dir(tmp_path)
    assert loaded.problems == ()
    (article,) = loaded.articles
    return article.meta


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2019-10-22", dt.date(2019, 10, 22)),
        ("March 3, 2020", dt.date(2020, 3, 3)),
        ("March 3 2020", dt.date(2020, 3, 3)),
        ("Mar. 3, 2020", dt.date(2020, 3, 3)),
        ("Sept. 19, 2019", dt.date(2019, 9, 19)),
        ("3 March 2020", dt.date(2020, 3, 3)),
        ("3 Mar 2020", dt.date(2020, 3, 3)),
        (" October 18, 2019, ", dt.date(2019, 10, 18)),
    ],
)
def test_parse_date_reads_stated_dates(text: str, expected: dt.date) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    "text", ["February 30, 2020", "2019-13-01", "Smarch 3, 2020", "last Friday", "2020", ""]
)
def test_parse_date_refuses_what_is_not_a_full_date(text: str) -> None:
    assert parse_date(text) is None


def test_title_from_lead_cuts_at_a_clause_after_enough_words() -> None:
    body = (
        "Huawei is in early-stage talks with US firms about its 5G technology, a Huawei "
        "executive told Reuters on Friday. More follows."
    )
    assert title_from_lead(body) == (
        "Huawei is in early-stage talks with US firms about its 5G technology"
    )
    # A comma too early to make a title is not a cut point.
    assert title_from_lead("In May, Huawei was placed on a US blacklist. More.") == (
        "In May, Huawei was placed on a US blacklist"
    )


def test_title_from_lead_shortens_a_long_lead_at_a_word_boundary() -> None:
    body = " ".join(["Word"] * 60) + "."
    title = title_from_lead(body)
    assert title is not None
    assert title.endswith(ELLIPSIS)
    assert len(title) <= 101
    assert body.startswith(title.removesuffix(ELLIPSIS))
    assert not title.removesuffix(ELLIPSIS).endswith(" ")


def test_title_from_lead_keeps_a_short_lead_whole() -> None:
    assert title_from_lead("Acme licenses patents. Then more.") == "Acme licenses patents"
    assert title_from_lead("") is None


@pytest.mark.parametrize(
    ("line", "author"),
    [
        ("By Jane Doe", "Jane Doe"),
        ("by Jane Q. Doe", "Jane Q. Doe"),
        ("By Jane Doe, Technology Reporter", "Jane Doe"),
        ("By Jane Doe | Example News", "Jane Doe"),
    ],
)
def test_derive_reads_a_byline(line: str, author: str) -> None:
    raw = "\n".join([line, *BODY])
    assert derive(raw, None, None, "\n\n".join(BODY)).author == author


@pytest.mark.parametrize(
    ("line", "publisher"),
    [
        ("© 2020 Example News", "Example News"),
        ("© 2020 Example News. All rights reserved.", "Example News"),
        ("Copyright 2021 Widget Weekly", "Widget Weekly"),
        ("Sign up to the Widget Weekly newsletter to get stories like this.", "Widget Weekly"),
        ("Sign up for the Example News e-mail", "Example News"),
    ],
)
def test_derive_reads_the_publisher_where_the_page_states_it(line: str, publisher: str) -> None:
    raw = "\n".join([*BODY, line])
    assert derive(raw, None, None, "\n\n".join(BODY)).publisher == publisher


def test_derive_reads_author_and_publisher_from_an_author_bio() -> None:
    bio = "Jane Doe is Widget Weekly's senior technology writer, covering batteries."
    found = derive("\n".join([*BODY, bio]), None, None, "\n\n".join(BODY))
    assert found.author == "Jane Doe"
    assert found.publisher == "Widget Weekly"


def test_derive_uses_headline_then_lead_sentence() -> None:
    body = "\n\n".join(BODY)
    assert derive(body, "A headline", None, body).title == "A headline"
    assert derive(body, None, None, body).title == title_from_lead(body)
    assert derive(body, None, "2020-03-03", body).published == dt.date(2020, 3, 3)


def test_derive_states_nothing_the_text_does_not() -> None:
    body = "\n\n".join(BODY)
    found = derive(body, None, None, body)
    assert found.publisher is None
    assert found.author is None
    assert found.published is None


@pytest.mark.parametrize(
    "headline",
    [
        "Acme shares battery patents",
        # Most headlines are longer than seven words.
        "Acme Widgets agrees to license its solid-state battery patents to three rivals",
    ],
)
def test_unmanifested_article_derives_what_the_text_states(tmp_path: Path, headline: str) -> None:
    text = "\n".join(
        [headline, "By Jane Doe", "Published: March 3, 2020", *BODY, "© 2020 Example News"]
    )
    meta = load_one(tmp_path, text)
    assert meta.title == headline
    assert meta.author == "Jane Doe"
    assert meta.published == dt.date(2020, 3, 3)
    assert meta.date_estimated is False
    assert meta.publisher == "Example News"
    assert meta.derived == {"title", "author", "published", "publisher"}


def test_unmanifested_article_body_excludes_byline_and_dateline(tmp_path: Path) -> None:
    text = "\n".join(
        ["Acme shares battery patents", "By Jane Doe", "Published: March 3, 2020", *BODY]
    )
    (tmp_path / "acme.txt").write_text(text, encoding="utf-8")
    (article,) = load_kb_dir(tmp_path).articles
    assert article.text.split("\n\n") == BODY


def test_unmanifested_article_states_nothing_so_fields_stay_empty(tmp_path: Path) -> None:
    meta = load_one(tmp_path, "\n".join(BODY))
    assert meta.publisher is None
    assert meta.author is None
    assert meta.published is None
    assert meta.date_estimated is False
    assert meta.url is None
    # A title is derived from the lead sentence, and marked as such.
    assert meta.title is not None
    assert BODY[0].startswith(meta.title.removesuffix(ELLIPSIS))
    assert meta.derived == {"title"}


def test_relative_and_body_dates_are_never_taken_as_the_publication_date(tmp_path: Path) -> None:
    text = "\n".join(
        [
            *BODY,
            "The two firms first discussed a deal on March 3, 2017, according to a filing.",
            "A final agreement is expected next Friday, the company said on Tuesday.",
        ]
    )
    meta = load_one(tmp_path, text)
    assert meta.published is None
    assert "published" not in meta.derived


def test_a_date_after_the_body_started_is_not_a_dateline() -> None:
    raw = "\n".join([*BODY, "Published: March 3, 2020"])
    assert clean_text(raw).dateline is None


def test_manifest_values_win_and_are_not_marked_derived(tmp_path: Path) -> None:
    (tmp_path / "manifest.toml").write_text(
        '[articles.acme]\ntitle = "Given title"\npublisher = "Given News"\n'
        'published = 2021-01-02\ndate = "estimated"\n',
        encoding="utf-8",
    )
    text = "\n".join(
        ["A headline", "By Jane Doe", "Published: March 3, 2020", *BODY, "© 2020 Example News"]
    )
    meta = load_one(tmp_path, text)
    assert meta.title == "Given title"
    assert meta.publisher == "Given News"
    assert meta.published == dt.date(2021, 1, 2)
    assert meta.date_estimated is True
    assert meta.author == "Jane Doe"
    assert meta.derived == {"author"}


def test_bundled_001_title_is_derived_from_its_lead_sentence() -> None:
    article = KnowledgeBase.load().article("001_f90f437b07126a50")
    assert article is not None
    title = article.meta.title
    assert title is not None
    assert "title" in article.meta.derived
    assert article.text.startswith(title.removesuffix(ELLIPSIS))
    assert title.startswith("Chinese vendor Huawei Technologies is in early-stage negotiations")
