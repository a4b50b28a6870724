"""Knowledge-base administration: directory state, metadata parsing, atomic article add."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import threading
from pathlib import Path

import pytest

from knowledge.ingest.manifest import MANIFEST_NAME, read_manifest
from knowledge.service import KBInvalid, KnowledgeBase, ReloadStage, bundled_kb_dir
from knowledge.store import admin
from knowledge.store.admin import (
    LOCK_NAME,
    AddRefused,
    ArticleFields,
    add_article,
    dir_fingerprint,
    directory_version,
    doc_id_for,
    not_writable_reason,
    parse_fields,
)
from knowledge.store.saved import SavedVersions

ERICSSON = b"""Ericsson and Xiaomi sign global patent license agreement

Ericsson announced on Tuesday that it has signed a multi-year global patent license \
agreement with Xiaomi covering 2G, 3G, 4G and 5G cellular standards.

The agreement resolves a long-running dispute between the Swedish telecom equipment maker \
and the Chinese smartphone company, Ericsson said in a statement.
"""
ERICSSON_Q = "What patent agreement did Ericsson sign with Xiaomi?"


@pytest.fixture
def kb_dir(tmp_path: Path) -> Path:
    target = tmp_path / "kb"
    shutil.copytree(bundled_kb_dir(), target)
    return target


@pytest.fixture
def kb(kb_dir: Path) -> KnowledgeBase:
    return KnowledgeBase.load(kb_dir)


def listing(kb_dir: Path) -> dict[str, bytes]:
    """Every visible file and its bytes (the admin lock file is expected to linger)."""
    return {p.name: p.read_bytes() for p in kb_dir.iterdir() if p.name != LOCK_NAME}


# -- directory state ---------------------------------------------------------------------------


def test_fingerprint_sees_additions_edits_and_removals_but_not_dot_files(kb_dir: Path) -> None:
    first = dir_fingerprint(kb_dir)
    assert dir_fingerprint(kb_dir) == first
    (kb_dir / ".tmp-scratch").write_bytes(b"ignored")
    assert dir_fingerprint(kb_dir) == first
    (kb_dir / "new.txt").write_bytes(ERICSSON)
    added = dir_fingerprint(kb_dir)
    assert added != first
    (kb_dir / "new.txt").write_bytes(ERICSSON.replace(b"Tuesday", b"Monday!"))
    assert dir_fingerprint(kb_dir) not in {first, added}
    (kb_dir / "new.txt").unlink()
    assert dir_fingerprint(kb_dir) == first


def test_directory_version_matches_what_a_load_serves(kb_dir: Path, kb: KnowledgeBase) -> None:
    assert directory_version(kb_dir) == kb.kb_version
    (kb_dir / "new.txt").write_bytes(ERICSSON)
    changed = directory_version(kb_dir)
    assert changed != kb.kb_version
    assert kb.reload(by="test").new_version == changed


def test_bundled_kb_is_not_writable_with_a_clear_reason() -> None:
    reason = not_writable_reason(KnowledgeBase.load())
    assert reason is not None
    assert "bundled" in reason and "LICENSEBOT_KB_DIR" in reason


def test_a_missing_directory_is_not_writable(kb_dir: Path, kb: KnowledgeBase) -> None:
    assert not_writable_reason(kb) is None
    shutil.rmtree(kb_dir)
    reason = not_writable_reason(kb)
    assert reason is not None and "not writable" in reason


# -- metadata from the message ------------------------------------------------------------------


def test_parse_fields_reads_every_key_with_spaces_and_quotes() -> None:
    fields, errors = parse_fields(
        'add this please title=Ericsson and Xiaomi sign a deal publisher="Reuters" '
        "author=Jane Doe date=2019-10-22 url=https://example.com/a"
    )
    assert errors == []
    assert fields == ArticleFields(
        title="Ericsson and Xiaomi sign a deal",
        publisher="Reuters",
        author="Jane Doe",
        published=dt.date(2019, 10, 22),
        date_estimated=False,
        url="https://example.com/a",
    )


@pytest.mark.parametrize("mark", ["~", "≈"])
def test_parse_fields_marks_estimated_dates(mark: str) -> None:
    fields, errors = parse_fields(f"date={mark}2019-10-18")
    assert errors == []
    assert fields.published == dt.date(2019, 10, 18)
    assert fields.date_estimated


def test_parse_fields_without_keys_derives_everything() -> None:
    fields, errors = parse_fields("here is an article about Huawei")
    assert errors == []
    assert fields == ArticleFields()


def test_parse_fields_reports_each_mistake() -> None:
    _, errors = parse_fields("colour=blue title=A date=18/10/2019 title=B")
    assert any("unknown field 'colour'" in e for e in errors)
    assert any("not YYYY-MM-DD" in e for e in errors)
    assert any("title is given twice" in e for e in errors)


# -- file names ---------------------------------------------------------------------------------


def test_doc_id_for_keeps_a_clean_stem_and_lowercases_the_suffix() -> None:
    assert doc_id_for("Huawei 5G talks (Reuters).TXT") == (
        "Huawei-5G-talks-Reuters",
        "Huawei-5G-talks-Reuters.txt",
    )
    assert doc_id_for("../../etc/passwd.md") == ("passwd", "passwd.md")
    doc_id, name = doc_id_for("«».html")
    assert doc_id.startswith("upload-") and name == doc_id + ".html"


@pytest.mark.parametrize("name", ["report.pdf", "archive.zip", "noext"])
def test_doc_id_for_refuses_unsupported_types(name: str) -> None:
    with pytest.raises(AddRefused, match="not a supported file type"):
        doc_id_for(name)


# -- adding an article --------------------------------------------------------------------------


def test_add_writes_article_and_manifest_entry_and_serves_it(
    kb_dir: Path, kb: KnowledgeBase
) -> None:
    old_manifest = (kb_dir / MANIFEST_NAME).read_bytes()
    before = kb.answer(ERICSSON_Q)
    assert not any(q.doc_id == "ericsson-xiaomi" for q in before.quotes)
    stages: list[ReloadStage] = []
    fields = ArticleFields(publisher="Reuters", published=dt.date(2019, 10, 22))

    result = add_article(
        kb, "ericsson-xiaomi.txt", ERICSSON, fields, by="U123ADMIN", progress=stages.append
    )

    assert result.doc_id == "ericsson-xiaomi"
    assert (kb_dir / "ericsson-xiaomi.txt").read_bytes() == ERICSSON
    new_manifest = (kb_dir / MANIFEST_NAME).read_bytes()
    assert new_manifest.startswith(old_manifest)
    assert b"U123ADMIN" in new_manifest
    manifest, problems = read_manifest(kb_dir)
    assert problems == []
    entry = manifest.entries["ericsson-xiaomi"]
    assert (entry.publisher, entry.published, entry.title) == (
        "Reuters",
        dt.date(2019, 10, 22),
        None,
    )
    assert [s.name for s in stages] == ["validate", "index", "swap"]
    assert result.reload.added == ("ericsson-xiaomi",)
    assert kb.kb_version == result.reload.new_version == directory_version(kb_dir)
    meta = result.article.meta
    assert meta.publisher == "Reuters"
    assert meta.title == "Ericsson and Xiaomi sign global patent license agreement"
    assert meta.derived == frozenset({"title"})
    after = kb.answer(ERICSSON_Q)
    assert after.answered
    assert after.quotes[0].doc_id == "ericsson-xiaomi"
    assert after.quotes[0].publisher == "Reuters"


def test_add_to_a_directory_without_manifest_creates_one(tmp_path: Path) -> None:
    kb_dir = tmp_path / "kb"
    kb_dir.mkdir()
    (kb_dir / "first.txt").write_bytes(ERICSSON.replace(b"Xiaomi", b"Oppo"))
    kb = KnowledgeBase.load(kb_dir)
    add_article(kb, "second.md", ERICSSON, ArticleFields(), by="U1")
    manifest, problems = read_manifest(kb_dir)
    assert problems == []
    assert set(manifest.entries) == {"second"}
    assert kb.article("second") is not None


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"   \n\n", "empty file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary file"),
        ("Huawei licensing talks continue.\nCaf\xe9 owners".encode("latin-1"), "not UTF-8"),
    ],
)
def test_add_refuses_a_bad_file_and_leaves_nothing_behind(
    kb_dir: Path, kb: KnowledgeBase, data: bytes, reason: str
) -> None:
    files_before, version_before = listing(kb_dir), kb.kb_version
    with pytest.raises(AddRefused) as info:
        add_article(kb, "bad.txt", data, ArticleFields(), by="U1")
    assert any(reason in p.reason for p in info.value.problems)
    assert all(p.file == "bad.txt" for p in info.value.problems)
    assert listing(kb_dir) == files_before
    assert kb.kb_version == version_before


def test_non_utf8_problem_names_the_line(kb_dir: Path, kb: KnowledgeBase) -> None:
    data = b"Huawei licensing talks.\nMore text here.\nCaf\xe9\n"
    with pytest.raises(AddRefused) as info:
        add_article(kb, "bad.txt", data, ArticleFields(), by="U1")
    (problem,) = info.value.problems
    assert problem.line == 3


def test_add_refuses_an_existing_id(kb_dir: Path, kb: KnowledgeBase) -> None:
    existing = next(p.stem for p in kb_dir.glob("*.txt"))
    files_before = listing(kb_dir)
    with pytest.raises(AddRefused, match="already exists"):
        add_article(kb, f"{existing}.md", ERICSSON, ArticleFields(), by="U1")
    assert listing(kb_dir) == files_before


def test_add_refuses_the_bundled_kb_without_writing() -> None:
    kb = KnowledgeBase.load()
    before = sorted(p.name for p in bundled_kb_dir().iterdir())
    with pytest.raises(AddRefused, match="bundled"):
        add_article(kb, "x.txt", ERICSSON, ArticleFields(), by="U1")
    assert sorted(p.name for p in bundled_kb_dir().iterdir()) == before


def test_add_rolls_back_when_the_kb_with_it_does_not_load(kb_dir: Path, kb: KnowledgeBase) -> None:
    # Another file in the directory is broken: the reload that would serve ours is refused.
    (kb_dir / "stray.pdf").write_bytes(b"%PDF-1.4")
    files_before, version_before = listing(kb_dir), kb.kb_version
    with pytest.raises(AddRefused) as info:
        add_article(kb, "ericsson.txt", ERICSSON, ArticleFields(), by="U1")
    assert [p.file for p in info.value.problems] == ["stray.pdf"]
    assert listing(kb_dir) == files_before
    assert kb.kb_version == version_before
    assert kb.article("ericsson") is None
    assert kb.status().last_attempt_refused


def test_add_rolls_back_when_the_manifest_cannot_be_written(
    kb_dir: Path, kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    files_before = listing(kb_dir)
    real_write = admin._atomic_write

    def failing_write(path: Path, data: bytes) -> None:
        if path.name == MANIFEST_NAME:
            raise OSError(28, "No space left on device")
        real_write(path, data)

    monkeypatch.setattr(admin, "_atomic_write", failing_write)
    with pytest.raises(OSError, match="No space left"):
        add_article(kb, "ericsson.txt", ERICSSON, ArticleFields(), by="U1")
    assert listing(kb_dir) == files_before
    assert not [p for p in kb_dir.iterdir() if p.name.startswith(".tmp-")]


def test_add_rolls_back_when_another_reload_keeps_running(kb_dir: Path, kb: KnowledgeBase) -> None:
    files_before = listing(kb_dir)
    with kb._reload_lock, pytest.raises(AddRefused, match="another reload"):
        add_article(kb, "ericsson.txt", ERICSSON, ArticleFields(), by="U1", wait=0.05)
    assert listing(kb_dir) == files_before


def test_add_refuses_when_the_manifest_is_already_broken(kb_dir: Path, kb: KnowledgeBase) -> None:
    manifest = kb_dir / MANIFEST_NAME
    manifest.write_bytes(manifest.read_bytes() + b"\n[articles.broken\n")
    files_before = listing(kb_dir)
    with pytest.raises(AddRefused, match="manifest is invalid") as info:
        add_article(kb, "ericsson.txt", ERICSSON, ArticleFields(), by="U1")
    assert info.value.problems[0].file == MANIFEST_NAME
    assert info.value.problems[0].line is not None
    assert listing(kb_dir) == files_before


def test_concurrent_adds_of_different_files_both_land(kb_dir: Path, kb: KnowledgeBase) -> None:
    errors: list[BaseException] = []

    def add(name: str, data: bytes) -> None:
        try:
            add_article(kb, name, data, ArticleFields(), by="U1")
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=add, args=("one.txt", ERICSSON)),
        threading.Thread(target=add, args=("two.txt", ERICSSON.replace(b"Xiaomi", b"Vivo"))),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    manifest, problems = read_manifest(kb_dir)
    assert problems == []
    assert {"one", "two"} <= set(manifest.entries)
    assert kb.article("one") is not None and kb.article("two") is not None


# -- service additions: status, progress, waiting -----------------------------------------------


def test_status_reports_served_version_and_last_reload(kb_dir: Path, kb: KnowledgeBase) -> None:
    status = kb.status()
    assert (status.kb_version, status.articles, status.loaded_by) == (
        kb.kb_version,
        5,
        "startup",
    )
    assert status.passages == len(kb.snapshot.passages)
    assert status.last_reload is None and not status.last_attempt_refused
    assert not status.bundled and not status.reloading

    (kb_dir / "broken.txt").write_bytes(b"")
    with pytest.raises(KBInvalid):
        kb.reload(by="U9")
    status = kb.status()
    assert status.last_attempt_refused
    assert status.last_refusal is not None and status.last_refusal.by == "U9"
    assert [p.file for p in status.last_refusal.problems] == ["broken.txt"]

    (kb_dir / "broken.txt").unlink()
    kb.reload(by="U8")
    status = kb.status()
    assert not status.last_attempt_refused
    assert status.last_reload is not None and status.last_reload.by == "U8"
    assert status.loaded_by == "U8"


def test_a_failing_progress_callback_does_not_stop_the_reload(
    kb_dir: Path, kb: KnowledgeBase
) -> None:
    (kb_dir / "ericsson.txt").write_bytes(ERICSSON)

    def broken(stage: ReloadStage) -> None:
        raise ConnectionError("slack unreachable")

    result = kb.reload(by="test", progress=broken)
    assert result.added == ("ericsson",)
    assert kb.article("ericsson") is not None


def test_reload_with_wait_runs_after_the_running_one(kb: KnowledgeBase) -> None:
    done: list[str] = []
    kb._reload_lock.acquire()
    waiter = threading.Thread(target=lambda: done.append(kb.reload(by="second", wait=10).by))
    waiter.start()
    waiter.join(0.2)
    assert done == []
    kb._reload_lock.release()
    waiter.join(10)
    assert done == ["second"]


def test_os_replace_leaves_no_temporary_files(kb_dir: Path, kb: KnowledgeBase) -> None:
    add_article(kb, "ericsson.txt", ERICSSON, ArticleFields(), by="U1")
    leftovers = [p.name for p in kb_dir.iterdir() if p.name.startswith(".tmp-")]
    assert leftovers == []
    assert oct((kb_dir / "ericsson.txt").stat().st_mode & 0o777) == oct(0o644)
    assert os.access(kb_dir / LOCK_NAME, os.R_OK)


def test_every_reloaded_version_is_stored_for_replay(kb_dir: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    kb = KnowledgeBase.load(kb_dir, data_dir=data_dir)
    result = add_article(kb, "ericsson.txt", ERICSSON, ArticleFields(), by="U1")
    store = SavedVersions(data_dir)
    assert set(store.versions()) == {result.reload.old_version, result.reload.new_version}
    assert store.verify(result.reload.new_version) == []
    stored = store.path(result.reload.new_version)
    assert stored is not None and (stored / "ericsson.txt").read_bytes() == ERICSSON
