from __future__ import annotations

import datetime as dt
import hashlib
import re
import shutil
from pathlib import Path

import pytest

from knowledge.ingest.loader import (
    MAX_ARTICLE_BYTES,
    build_article,
    check_bytes,
    kb_version_of,
    load_kb_dir,
)
from knowledge.ingest.manifest import ManifestEntry
from knowledge.models import Problem
from knowledge.service import bundled_kb_dir

BODY = (
    "Acme Widgets said on Tuesday that it will license its battery patents to three rival "
    "carmakers.\nThe company expects the deal to be worth more than two billion dollars.\n"
)


def copy_bundled(tmp_path: Path) -> Path:
    target = tmp_path / "kb"
    shutil.copytree(bundled_kb_dir(), target)
    return target


def problems_of(kb_dir: Path) -> list[Problem]:
    return list(load_kb_dir(kb_dir).problems)


def one_problem(kb_dir: Path) -> Problem:
    problems = problems_of(kb_dir)
    assert len(problems) == 1, problems
    return problems[0]


def test_bundled_kb_loads_five_articles_without_problems() -> None:
    loaded = load_kb_dir(bundled_kb_dir())
    assert loaded.problems == ()
    assert len(loaded.articles) == 5
    assert [a.doc_id for a in loaded.articles] == sorted(a.doc_id for a in loaded.articles)
    for article in loaded.articles:
        assert article.meta.source_file == f"{article.doc_id}.txt"
        assert article.text.strip() == article.text
        assert article.text


def test_bundled_000_meta() -> None:
    raw = next(bundled_kb_dir().glob("000_*.txt")).read_text(encoding="utf-8")
    (article,) = [a for a in load_kb_dir(bundled_kb_dir()).articles if a.doc_id[:3] == "000"]
    m = article.meta
    assert m.title == raw.splitlines()[0].strip()
    assert m.publisher is None
    assert m.published == dt.date(2019, 10, 18)
    assert m.date_estimated is True
    assert m.derived == frozenset()


def test_bundled_001_meta() -> None:
    (article,) = [a for a in load_kb_dir(bundled_kb_dir()).articles if a.doc_id[:3] == "001"]
    m = article.meta
    assert m.published == dt.date(2019, 10, 22)
    assert m.date_estimated is False
    assert m.publisher is None
    assert m.title is not None
    assert article.text.startswith(m.title.rstrip("…"))
    assert "title" in m.derived
    assert "published" not in m.derived  # the manifest states it


def test_bundled_002_meta() -> None:
    (article,) = [a for a in load_kb_dir(bundled_kb_dir()).articles if a.doc_id[:3] == "002"]
    m = article.meta
    assert m.publisher == "TechRadar Pro"
    assert m.author == "Steve McCaskill"
    assert m.published == dt.date(2019, 10, 21)
    assert m.date_estimated is True
    assert m.derived == frozenset()


def test_bundled_003_meta() -> None:
    (article,) = [a for a in load_kb_dir(bundled_kb_dir()).articles if a.doc_id[:3] == "003"]
    m = article.meta
    assert m.title == "Huawei CEO: company willing to license 5G tech to US firms"
    assert m.publisher == "E&T (IET)"
    assert m.published == dt.date(2019, 9, 26)
    assert m.date_estimated is True


def test_bundled_004_meta() -> None:
    (article,) = [a for a in load_kb_dir(bundled_kb_dir()).articles if a.doc_id[:3] == "004"]
    m = article.meta
    assert m.publisher is None
    assert m.published == dt.date(2019, 9, 27)
    assert m.date_estimated is True
    assert m.title is not None
    assert "title" in m.derived
    assert "publisher" not in m.derived


def test_content_hash_is_the_sha256_of_the_raw_file() -> None:
    for article in load_kb_dir(bundled_kb_dir()).articles:
        data = (bundled_kb_dir() / article.meta.source_file).read_bytes()
        assert article.content_hash == hashlib.sha256(data).hexdigest()


# ----------------------------------------------------------------- file problems


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"   \n\t\n  \r\n", "empty"),
        (b"Some text\x00with a NUL byte in it", "binary"),
        (bytes(range(0, 32)) * 20, "binary"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
    ],
)
def test_check_bytes_refuses_what_is_not_text(data: bytes, words: str) -> None:
    text, problem = check_bytes("x.txt", data)
    assert text is None
    assert problem is not None
    assert problem.file == "x.txt"
    assert words in problem.reason


def test_check_bytes_reports_where_utf8_breaks() -> None:
    text, problem = check_bytes("x.txt", b"line one\nline two\nCaf\xe9 au lait\n")
    assert text is None
    assert problem is not None
    assert problem.line == 3
    assert "UTF-8" in problem.reason
    assert "0xe9" in problem.reason


def test_check_bytes_refuses_oversized_files() -> None:
    text, problem = check_bytes("big.txt", b"a" * (MAX_ARTICLE_BYTES + 1))
    assert text is None
    assert problem is not None
    assert "too large" in problem.reason


def test_check_bytes_accepts_utf8_text() -> None:
    text, problem = check_bytes("x.txt", "Ünïcödé text — “quoted”.\n".encode())
    assert problem is None
    assert text == "Ünïcödé text — “quoted”.\n"


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("latin1.txt", "Café society licenses its recipes.\n".encode("latin-1"), "UTF-8"),
        ("binary.txt", b"PK\x03\x04\x00\x00binary zip header", "binary"),
        ("empty.txt", b"", "empty"),
        ("blank.txt", b" \n\n\t \n", "empty"),
        ("furniture.txt", b"Advertisement\nShare this article\nWe use cookies.\n", "no article"),
        ("notes.pdf", b"%PDF-1.4", "unsupported"),
        ("bad name.txt", BODY.encode(), "article id"),
    ],
)
def test_each_bad_file_is_one_problem_naming_it(
    tmp_path: Path, name: str, data: bytes, words: str
) -> None:
    (tmp_path / "good.txt").write_text(BODY, encoding="utf-8")
    (tmp_path / name).write_bytes(data)
    problem = one_problem(tmp_path)
    assert problem.file == name
    assert words in problem.reason
    assert name in str(problem)


def test_manifest_entry_without_its_file(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text(BODY, encoding="utf-8")
    (tmp_path / "manifest.toml").write_text('[articles.gone]\ntitle = "Gone"\n', encoding="utf-8")
    problem = one_problem(tmp_path)
    assert problem.file == "manifest.toml"
    assert "gone" in problem.reason
    assert "no article file" in problem.reason


def test_broken_manifest_is_reported_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text(BODY, encoding="utf-8")
    (tmp_path / "manifest.toml").write_text('[articles.good]\ntitle = "x\n', encoding="utf-8")
    problem = one_problem(tmp_path)
    assert problem.file == "manifest.toml"
    assert problem.line == 2


def test_unknown_manifest_key_and_bad_date(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text(BODY, encoding="utf-8")
    (tmp_path / "manifest.toml").write_text(
        '[articles.good]\nheadline = "x"\npublished = "2019-02-30"\n', encoding="utf-8"
    )
    problems = problems_of(tmp_path)
    assert len(problems) == 2
    assert all(p.file == "manifest.toml" and p.line == 1 for p in problems)
    assert any("unknown key 'headline'" in p.reason for p in problems)
    assert any("2019-02-30" in p.reason for p in problems)


def test_same_article_id_twice(tmp_path: Path) -> None:
    (tmp_path / "acme.md").write_text(BODY, encoding="utf-8")
    (tmp_path / "acme.txt").write_text(BODY, encoding="utf-8")
    problem = one_problem(tmp_path)
    assert "acme" in problem.file
    assert "same article id" in problem.reason


def test_all_problems_are_collected(tmp_path: Path) -> None:
    kb = copy_bundled(tmp_path)
    (kb / "bin.txt").write_bytes(b"\x00\x01\x02")
    (kb / "empty.txt").write_bytes(b"")
    (kb / "latin.txt").write_bytes(b"caf\xe9")
    (kb / "manifest.toml").write_text(
        (kb / "manifest.toml").read_text(encoding="utf-8") + '\n[articles.ghost]\ntitle = "x"\n',
        encoding="utf-8",
    )
    loaded = load_kb_dir(kb)
    assert sorted(p.file for p in loaded.problems) == [
        "bin.txt",
        "empty.txt",
        "latin.txt",
        "manifest.toml",
    ]
    assert len(loaded.articles) == 5  # the good ones still load, for the report


def test_hidden_files_and_directories_are_ignored(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text(BODY, encoding="utf-8")
    (tmp_path / ".DS_Store").write_bytes(b"\x00\x01")
    (tmp_path / ".good.txt.swp").write_bytes(b"\x00")
    (tmp_path / "drafts").mkdir()
    (tmp_path / "drafts" / "x.txt").write_bytes(b"\x00")
    loaded = load_kb_dir(tmp_path)
    assert loaded.problems == ()
    assert [a.doc_id for a in loaded.articles] == ["good"]


def test_not_a_directory(tmp_path: Path) -> None:
    problem = one_problem(tmp_path / "missing")
    assert "not a directory" in problem.reason
    assert "missing" in problem.file


def test_an_empty_directory_is_a_valid_empty_kb(tmp_path: Path) -> None:
    loaded = load_kb_dir(tmp_path)
    assert loaded.problems == ()
    assert loaded.articles == ()
    assert re.fullmatch(r"[0-9a-f]{16}", loaded.kb_version)


def test_article_without_manifest_entry_is_valid(tmp_path: Path) -> None:
    kb = copy_bundled(tmp_path)
    (kb / "extra-article.txt").write_text(BODY, encoding="utf-8")
    loaded = load_kb_dir(kb)
    assert loaded.problems == ()
    assert "extra-article" in [a.doc_id for a in loaded.articles]


def test_build_article_uses_the_manifest_entry() -> None:
    entry = ManifestEntry(doc_id="acme", title="T", publisher="P", url="https://e.x/a")
    article, problems = build_article("acme.txt", BODY.encode(), entry)
    assert problems == []
    assert article is not None
    assert (article.meta.title, article.meta.publisher, article.meta.url) == (
        "T",
        "P",
        "https://e.x/a",
    )
    assert article.meta.derived == frozenset()


# ----------------------------------------------------------------- kb_version


def test_kb_version_is_a_16_hex_content_hash_and_stable() -> None:
    first = load_kb_dir(bundled_kb_dir()).kb_version
    assert re.fullmatch(r"[0-9a-f]{16}", first)
    assert load_kb_dir(bundled_kb_dir()).kb_version == first
    files = [(p.name, p.read_bytes()) for p in bundled_kb_dir().iterdir() if p.is_file()]
    assert kb_version_of(files) == first
    assert kb_version_of(reversed(files)) == first


def test_kb_version_follows_content_not_location(tmp_path: Path) -> None:
    kb = copy_bundled(tmp_path)
    original = load_kb_dir(bundled_kb_dir()).kb_version
    assert load_kb_dir(kb).kb_version == original
    article = next(kb.glob("002_*.txt"))
    article.write_bytes(article.read_bytes() + b"\n")
    changed = load_kb_dir(kb).kb_version
    assert changed != original
    manifest = kb / "manifest.toml"
    manifest.write_text(manifest.read_text(encoding="utf-8") + "\n# note\n", encoding="utf-8")
    assert load_kb_dir(kb).kb_version not in {original, changed}


def test_kb_version_depends_on_file_names() -> None:
    assert kb_version_of([("a.txt", b"x")]) != kb_version_of([("b.txt", b"x")])
    assert kb_version_of([("a.txt", b"x"), ("b.txt", b"y")]) != kb_version_of(
        [("a.txt", b"y"), ("b.txt", b"x")]
    )
