from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

import pytest

from knowledge.ingest.manifest import (
    MANIFEST_NAME,
    ManifestEntry,
    read_manifest,
    render_entry,
    valid_doc_id,
)
from knowledge.models import Problem
from knowledge.service import bundled_kb_dir


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / MANIFEST_NAME).write_text(text, encoding="utf-8")
    return tmp_path


def only_problem(tmp_path: Path, text: str) -> Problem:
    _, problems = read_manifest(write(tmp_path, text))
    assert len(problems) == 1, problems
    assert problems[0].file == MANIFEST_NAME
    return problems[0]


def test_bundled_manifest_parses_cleanly() -> None:
    manifest, problems = read_manifest(bundled_kb_dir())
    assert problems == []
    assert sorted(manifest.entries) == [
        "000_9ce69e5facb87b11",
        "001_f90f437b07126a50",
        "002_98cfeea8a68944c7",
        "003_d70c0c6fd59800df",
        "004_85910a5829b53819",
    ]
    assert manifest.extra_patterns == ()


@pytest.mark.parametrize(
    ("doc_id", "title", "publisher", "published", "estimated"),
    [
        (
            "000_9ce69e5facb87b11",
            "Huawei is in early talks with US companies to license the 5G platform",
            None,
            dt.date(2019, 10, 18),
            True,
        ),
        ("001_f90f437b07126a50", None, None, dt.date(2019, 10, 22), False),
        (
            "002_98cfeea8a68944c7",
            "Huawei 'in talks' over 5G licensing with US firm",
            "TechRadar Pro",
            dt.date(2019, 10, 21),
            True,
        ),
        (
            "003_d70c0c6fd59800df",
            "Huawei CEO: company willing to license 5G tech to US firms",
            "E&T (IET)",
            dt.date(2019, 9, 26),
            True,
        ),
        ("004_85910a5829b53819", None, None, dt.date(2019, 9, 27), True),
    ],
)
def test_bundled_manifest_entries(
    doc_id: str,
    title: str | None,
    publisher: str | None,
    published: dt.date,
    estimated: bool,
) -> None:
    entry = read_manifest(bundled_kb_dir())[0].entries[doc_id]
    assert entry.title == title
    assert entry.publisher == publisher
    assert entry.published == published
    assert entry.date_estimated is estimated
    assert entry.date_note  # every bundled date says where it comes from


def test_missing_manifest_is_empty_not_an_error(tmp_path: Path) -> None:
    manifest, problems = read_manifest(tmp_path)
    assert problems == []
    assert manifest.entries == {}
    assert manifest.extra_patterns == ()


def test_broken_toml_reports_its_line(tmp_path: Path) -> None:
    problem = only_problem(
        tmp_path, '[articles.a]\ntitle = "x"\npublished = 2019-10-10\nbroken = = 3\n'
    )
    assert problem.line == 4
    assert "TOML" in problem.reason
    assert str(problem).startswith("manifest.toml:4: ")


def test_unterminated_string_reports_its_line(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, '\n\n[articles.a]\ntitle = "no end\n')
    assert problem.line == 4


def test_unknown_article_key_is_named_with_its_line(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, '# comment\n[articles.a]\ntitle = "x"\ncolour = "blue"\n')
    assert "colour" in problem.reason
    assert "articles.a" in problem.reason
    assert problem.line == 2


def test_unknown_top_level_key_is_named(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, '[sources]\nx = 1\n[articles.a]\ntitle = "x"\n')
    assert "sources" in problem.reason


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ('"2019-13-45"', "2019-13-45"),
        ('"18 October 2019"', "18 October 2019"),
        ("20191018", "date"),
        ("true", "date"),
    ],
)
def test_bad_published_date_is_named(tmp_path: Path, value: str, words: str) -> None:
    problem = only_problem(tmp_path, f"[articles.a]\npublished = {value}\n")
    assert "published" in problem.reason
    assert words in problem.reason
    assert problem.line == 1


def test_a_date_toml_cannot_parse_is_a_toml_problem(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, '[articles.a]\ntitle = "x"\npublished = 2019-02-30\n')
    assert problem.line == 3


def test_date_status_must_be_stated_or_estimated(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, '[articles.a]\npublished = 2019-10-18\ndate = "guessed"\n')
    assert "stated" in problem.reason
    assert "estimated" in problem.reason


def test_published_date_without_status_is_stated(tmp_path: Path) -> None:
    manifest, problems = read_manifest(write(tmp_path, "[articles.a]\npublished = 2019-10-18\n"))
    assert problems == []
    assert manifest.entries["a"].published == dt.date(2019, 10, 18)
    assert manifest.entries["a"].date_estimated is False


def test_published_may_be_an_iso_string(tmp_path: Path) -> None:
    text = '[articles.a]\npublished = "2019-10-18"\ndate = "estimated"\n'
    manifest, problems = read_manifest(write(tmp_path, text))
    assert problems == []
    assert manifest.entries["a"].published == dt.date(2019, 10, 18)
    assert manifest.entries["a"].date_estimated is True


@pytest.mark.parametrize("key", ["title", "publisher", "author", "url", "via", "date_note"])
def test_text_fields_must_be_strings(tmp_path: Path, key: str) -> None:
    problem = only_problem(tmp_path, f"[articles.a]\n{key} = 42\n")
    assert key in problem.reason


def test_blank_strings_mean_unknown(tmp_path: Path) -> None:
    manifest, problems = read_manifest(write(tmp_path, '[articles.a]\ntitle = "  "\n'))
    assert problems == []
    assert manifest.entries["a"].title is None


def test_invalid_article_id_is_a_problem(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, '[articles."bad id"]\ntitle = "x"\n')
    assert "bad id" in problem.reason


def test_articles_must_be_tables(tmp_path: Path) -> None:
    assert "articles" in only_problem(tmp_path, 'articles = "x"\n').reason
    assert "articles.a" in only_problem(tmp_path, '[articles]\na = "x"\n').reason


def test_every_problem_is_reported_not_just_the_first(tmp_path: Path) -> None:
    text = (
        '[articles.a]\ncolour = "blue"\n\n'
        '[articles.b]\npublished = "yesterday"\n\n'
        '[cleaning]\nextra_patterns = ["(unclosed"]\n'
    )
    _, problems = read_manifest(write(tmp_path, text))
    assert len(problems) == 3
    assert sorted(p.line for p in problems if p.line is not None) == [1, 4]


def test_extra_patterns_are_read(tmp_path: Path) -> None:
    text = '[cleaning]\nextra_patterns = ["^Editor\'s note", "(?i)^correction:"]\n'
    manifest, problems = read_manifest(write(tmp_path, text))
    assert problems == []
    assert manifest.extra_patterns == ("^Editor's note", "(?i)^correction:")


@pytest.mark.parametrize(
    "text",
    [
        '[cleaning]\nextra_patterns = "^Editor"\n',
        "[cleaning]\nextra_patterns = [1, 2]\n",
        'cleaning = "x"\n',
    ],
)
def test_malformed_cleaning_section_is_a_problem(tmp_path: Path, text: str) -> None:
    assert "cleaning" in only_problem(tmp_path, text).reason


def test_bad_cleaning_pattern_is_named(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, '[cleaning]\nextra_patterns = ["ok", "(unclosed"]\n')
    assert "(unclosed" in problem.reason


def test_manifest_that_is_not_utf8(tmp_path: Path) -> None:
    (tmp_path / MANIFEST_NAME).write_bytes(b'[articles.a]\ntitle = "Caf\xe9"\n')
    _, problems = read_manifest(tmp_path)
    assert len(problems) == 1
    assert problems[0].file == MANIFEST_NAME
    assert "UTF-8" in problems[0].reason


@pytest.mark.parametrize(
    ("doc_id", "valid"),
    [
        ("000_9ce69e5facb87b11", True),
        ("acme-1.v2", True),
        ("A", True),
        ("", False),
        ("-leading-dash", False),
        (".hidden", False),
        ("has space", False),
        ("slash/inside", False),
        ("x" * 129, False),
    ],
)
def test_valid_doc_id(doc_id: str, valid: bool) -> None:
    assert valid_doc_id(doc_id) is valid


def test_render_entry_round_trips(tmp_path: Path) -> None:
    entry = ManifestEntry(
        doc_id="acme-1",
        title='Acme "licenses" patents',
        publisher="Example News",
        author="Jane Doe",
        published=dt.date(2020, 3, 3),
        date_estimated=True,
        date_note="From the dateline.",
        url="https://example.com/a",
        via="Reuters",
    )
    text = render_entry(entry)
    assert tomllib.loads(text)["articles"]["acme-1"]["date"] == "estimated"
    manifest, problems = read_manifest(write(tmp_path, text))
    assert problems == []
    assert manifest.entries["acme-1"] == entry


def test_render_entry_leaves_unknown_fields_out() -> None:
    text = render_entry(ManifestEntry(doc_id="a"))
    assert tomllib.loads(text) == {"articles": {"a": {}}}
