"""SavedVersions: every loaded knowledge-base version kept whole, by content address."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from knowledge.ingest.loader import load_kb_dir
from knowledge.service import KnowledgeBase, bundled_kb_dir
from knowledge.store.saved import SavedVersionError, SavedVersions, kb_files


@pytest.fixture
def kb_dir(tmp_path: Path) -> Path:
    target = tmp_path / "kb"
    shutil.copytree(bundled_kb_dir(), target)
    return target


def _version(kb_dir: Path) -> str:
    return load_kb_dir(kb_dir).kb_version


def test_save_copies_the_version_and_it_loads_as_the_same_version(
    kb_dir: Path, tmp_path: Path
) -> None:
    version = _version(kb_dir)
    store = SavedVersions(tmp_path / "data")
    saved = store.save(kb_dir, version)
    assert saved == tmp_path / "data" / "kb" / version
    assert store.path(version) == saved and store.versions() == [version]
    assert kb_files(saved) == kb_files(kb_dir)
    assert "manifest.toml" in kb_files(saved)
    assert KnowledgeBase.load(saved).kb_version == version
    assert store.verify(version) == []
    # Nothing half-built is left behind.
    assert [p.name for p in store.root.iterdir() if p.name.startswith(".")] == []


def test_save_is_idempotent(kb_dir: Path, tmp_path: Path) -> None:
    version = _version(kb_dir)
    store = SavedVersions(tmp_path / "data")
    first = store.save(kb_dir, version)
    stamp = (first / "manifest.toml").stat().st_mtime_ns
    assert store.save(kb_dir, version) == first
    assert (first / "manifest.toml").stat().st_mtime_ns == stamp


def test_concurrent_saves_end_with_one_copy(kb_dir: Path, tmp_path: Path) -> None:
    version = _version(kb_dir)
    store = SavedVersions(tmp_path / "data")
    results: list[Path] = []
    errors: list[BaseException] = []

    def save() -> None:
        try:
            results.append(store.save(kb_dir, version))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=save) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert set(results) == {store.root / version}
    assert store.verify(version) == []
    assert sorted(p.name for p in store.root.iterdir()) == [version, f"{version}.json"]


def test_exact_bytes_can_be_passed_instead_of_rereading(kb_dir: Path, tmp_path: Path) -> None:
    files = kb_files(kb_dir)
    version = _version(kb_dir)
    shutil.rmtree(kb_dir)  # the directory is not needed when the bytes are given
    saved = SavedVersions(tmp_path / "data").save(None, version, files=files)
    assert KnowledgeBase.load(saved).kb_version == version


def test_content_that_changed_since_loading_is_refused(kb_dir: Path, tmp_path: Path) -> None:
    version = _version(kb_dir)
    article = sorted(kb_dir.glob("*.txt"))[0]
    article.write_text(article.read_text() + "\nAn added sentence.\n")
    store = SavedVersions(tmp_path / "data")
    with pytest.raises(SavedVersionError, match="hashes to"):
        store.save(kb_dir, version)
    assert store.path(version) is None


@pytest.mark.parametrize("bad", ["../../etc", "ABC", "", "c2de55be/x"])
def test_version_names_are_checked(kb_dir: Path, tmp_path: Path, bad: str) -> None:
    store = SavedVersions(tmp_path / "data")
    with pytest.raises(SavedVersionError, match="not a kb_version"):
        store.save(kb_dir, bad)
    assert store.path(bad) is None


def test_file_names_are_checked(tmp_path: Path) -> None:
    with pytest.raises(SavedVersionError, match="plain file name"):
        SavedVersions(tmp_path).save(None, "0123456789abcdef", files={"../x.txt": b"x"})


def test_verify_names_altered_missing_and_extra_files(kb_dir: Path, tmp_path: Path) -> None:
    version = _version(kb_dir)
    store = SavedVersions(tmp_path / "data")
    saved = store.save(kb_dir, version)
    articles = sorted(saved.glob("*.txt"))
    articles[0].write_text("rewritten")
    articles[1].unlink()
    (saved / "extra.txt").write_text("smuggled in")
    problems = store.verify(version)
    assert f"{articles[0].name}: content changed" in problems
    assert f"{articles[1].name}: missing" in problems
    assert "extra.txt: not part of the version" in problems
    assert store.verify("0123456789abcdef") == ["0123456789abcdef: not stored"]
