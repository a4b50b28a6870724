"""Stored versions: a warm start reads no article, a reload analyses only what changed,
and either gives exactly what loading the directory from scratch gives."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import knowledge.ingest.jobs as jobs_module
import knowledge.store.versions as versions_module
from knowledge.ingest.jobs import ArticleJob, ArticleResult
from knowledge.service import KBInvalid, KnowledgeBase, bundled_kb_dir, load_snapshot
from knowledge.store import packed as packed_module
from knowledge.store.loaded import Snapshot
from knowledge.store.saved import SavedVersions

FIXTURES = Path(__file__).parents[1] / "ingest" / "fixtures" / "scifact"
QUESTIONS = (
    "Which US companies is Huawei talking to about licensing its 5G technology?",
    "What did Vincent Pang say about the talks?",
    "How were food and nutrient intakes of young adolescents assessed?",
    "Who wrote about the history of antipsychotics?",
)
NEW_ARTICLE = b"""Ericsson and Xiaomi sign a patent licence

Ericsson and Xiaomi signed a global patent license agreement covering 5G technology on \
Tuesday, ending talks that lasted two years. Huawei was not part of the agreement.
"""


@pytest.fixture
def kb_dir(tmp_path: Path) -> Path:
    target = tmp_path / "kb"
    shutil.copytree(bundled_kb_dir(), target)
    for path in FIXTURES.glob("*.txt"):
        shutil.copy(path, target / path.name)
    return target


@pytest.fixture
def analysed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The names of the article files read and analysed (not taken from a stored version)."""
    names: list[str] = []
    real = jobs_module.run_jobs

    def counting(jobs: list[ArticleJob], *args: Any, **kwargs: Any) -> list[ArticleResult]:
        names.extend(j.name for j in jobs)
        return real(jobs, *args, **kwargs)

    monkeypatch.setattr(versions_module, "run_jobs", counting)
    yield names


def assert_same_version(a: Snapshot, b: Snapshot) -> None:
    """Two snapshots hold the same arrays, articles and index, and answer alike."""
    assert a.kb_version == b.kb_version
    assert a.contents.doc_ids == b.contents.doc_ids
    for name, array in a.contents.arrays().items():
        assert np.array_equal(array, b.contents.arrays()[name]), name
    for name, array in a.table.arrays().items():
        assert np.array_equal(array, b.table.arrays()[name]), name
    assert list(a.index._vocab.items()) == list(b.index._vocab.items())
    for name, array in a.index._arrays().items():
        other = b.index._arrays()[name]
        assert array.dtype == other.dtype and np.array_equal(array, other), name
    assert a.index._average_idf == b.index._average_idf
    assert dict(a.articles.items()) == dict(b.articles.items())
    assert list(a.passages) == list(b.passages)
    # The same vocabulary: first occurrences pick how a name is written and its
    # instances' order, whichever articles a reload took unchanged.
    va, vb = a.vocabulary, b.vocabulary
    assert va.names == vb.names and va.places == vb.places
    assert dict(va.surfaces) == dict(vb.surfaces)
    assert dict(va.instances) == dict(vb.instances)
    assert dict(va.words) == dict(vb.words)
    assert dict(a.subjects) == dict(b.subjects)
    assert a.synonyms == b.synonyms
    kb_a, kb_b = KnowledgeBase(a), KnowledgeBase(b)
    for q in QUESTIONS:
        assert kb_a.answer(q, 5) == kb_b.answer(q, 5)


def test_a_warm_start_reads_no_article_and_loads_what_a_cold_build_does(
    kb_dir: Path, tmp_path: Path, analysed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    first = KnowledgeBase.load(kb_dir, data_dir=data).snapshot
    assert len(analysed) == 7
    stored = packed_module.kept_versions(data)
    assert stored == [f"{first.kb_version}-{stored[0].rsplit('-', 1)[1]}"]
    analysed.clear()

    def no_reading(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("an article file was read")

    # Hashing is trusted from the last scan once it is older than the racy window.
    monkeypatch.setattr("knowledge.store.scan.RACY_NS", -(10**18))
    with monkeypatch.context() as patch:
        patch.setattr(jobs_module, "build_article", no_reading)
        warm = KnowledgeBase.load(kb_dir, data_dir=data).snapshot
    assert analysed == []
    assert_same_version(warm, first)
    assert_same_version(warm, load_snapshot(kb_dir))


def test_a_reload_analyses_only_the_changed_files_and_equals_a_fresh_load(
    kb_dir: Path, tmp_path: Path, analysed: list[str]
) -> None:
    kb = KnowledgeBase.load(kb_dir, data_dir=tmp_path / "data")
    analysed.clear()
    edited = sorted(kb_dir.glob("00*.txt"))[2]
    edited.write_bytes(edited.read_bytes() + b"\nHuawei said the offer still stands.\n")
    (kb_dir / "ericsson-xiaomi.txt").write_bytes(NEW_ARTICLE)
    (kb_dir / "80109277.txt").unlink()
    result = kb.reload("test")
    assert sorted(analysed) == sorted([edited.name, "ericsson-xiaomi.txt"])
    assert result.added == ("ericsson-xiaomi",) and result.removed == ("80109277",)
    assert result.changed == (edited.stem,)
    assert_same_version(kb.snapshot, load_snapshot(kb_dir))
    # kb_version is still the content hash of the whole directory.
    assert kb.kb_version == load_snapshot(kb_dir).kb_version


def assert_tokens_read_as_analysed(snap: Snapshot) -> None:
    """Every passage's stored tokens are what tokenizing its text again gives."""
    read = 0
    for i, passage in enumerate(snap.passages):
        tokens = snap.analysed(i)
        assert tokens == snap.analyzer.analyze(passage.text), passage.passage_id
        read += len(tokens)
    assert read == snap.contents.tokens.size


def test_a_passages_tokens_are_read_from_the_stored_version_as_analysed(
    kb_dir: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    kb = KnowledgeBase.load(kb_dir, data_dir=data)
    assert_tokens_read_as_analysed(kb.snapshot)
    assert_tokens_read_as_analysed(KnowledgeBase.load(kb_dir, data_dir=data).snapshot)
    # A reload joins the stored tokens of unchanged articles to those analysed now.
    (kb_dir / "ericsson-xiaomi.txt").write_bytes(NEW_ARTICLE)
    (kb_dir / "80109277.txt").unlink()
    kb.reload("test")
    assert_tokens_read_as_analysed(kb.snapshot)


def test_a_manifest_change_reanalyses_only_the_articles_it_changes(
    kb_dir: Path, tmp_path: Path, analysed: list[str]
) -> None:
    kb = KnowledgeBase.load(kb_dir, data_dir=tmp_path / "data")
    analysed.clear()
    manifest = kb_dir / "manifest.toml"
    manifest.write_text(
        manifest.read_text(encoding="utf-8")
        + '\n[articles.4857093]\npublisher = "Public Health Nutrition"\n',
        encoding="utf-8",
    )
    result = kb.reload("test")
    assert analysed == ["4857093.txt"] and result.changed == ("4857093",)
    assert kb.article("4857093").meta.publisher == "Public Health Nutrition"  # type: ignore[union-attr]
    assert_same_version(kb.snapshot, load_snapshot(kb_dir))
    # New cleaning patterns change every article's cleaned text: all are analysed again.
    analysed.clear()
    manifest.write_text(
        manifest.read_text(encoding="utf-8") + '\n[cleaning]\nextra_patterns = ["^Nothing"]\n',
        encoding="utf-8",
    )
    kb.reload("test")
    assert len(analysed) == 7
    assert_same_version(kb.snapshot, load_snapshot(kb_dir))


def test_a_start_after_changes_takes_the_unchanged_articles_from_the_stored_version(
    kb_dir: Path, tmp_path: Path, analysed: list[str]
) -> None:
    data = tmp_path / "data"
    KnowledgeBase.load(kb_dir, data_dir=data)
    analysed.clear()
    (kb_dir / "ericsson-xiaomi.txt").write_bytes(NEW_ARTICLE)
    kb = KnowledgeBase.load(kb_dir, data_dir=data)
    assert analysed == ["ericsson-xiaomi.txt"]
    assert_same_version(kb.snapshot, load_snapshot(kb_dir))


def test_an_edit_keeping_size_and_times_is_still_seen(kb_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    kb = KnowledgeBase.load(kb_dir, data_dir=data)
    path = sorted(kb_dir.glob("00*.txt"))[0]
    st = path.stat()
    data_bytes = bytearray(path.read_bytes())
    data_bytes[-2:-1] = b"!" if data_bytes[-2:-1] != b"!" else b"?"
    path.write_bytes(bytes(data_bytes))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size, same mtime
    result = kb.reload("test")
    assert result.changed == (path.stem,)


def test_a_damaged_stored_version_is_built_again(kb_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = KnowledgeBase.load(kb_dir, data_dir=data).snapshot
    (stored,) = (data / packed_module.PACKED_DIR).glob(f"{first.kb_version}-*")
    (stored / "tokens.npy").write_bytes(b"not an array")
    again = KnowledgeBase.load(kb_dir, data_dir=data).snapshot
    assert_same_version(again, load_snapshot(kb_dir))


def test_an_unwritable_data_directory_still_serves(kb_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / packed_module.PACKED_DIR).write_text("a file where a directory should be")
    kb = KnowledgeBase.load(kb_dir, data_dir=data)
    assert_same_version(kb.snapshot, load_snapshot(kb_dir))


def test_a_refused_reload_keeps_its_analyses_for_the_next_attempt(
    kb_dir: Path, tmp_path: Path, analysed: list[str]
) -> None:
    kb = KnowledgeBase.load(kb_dir, data_dir=tmp_path / "data")
    (kb_dir / "ericsson-xiaomi.txt").write_bytes(NEW_ARTICLE)
    (kb_dir / "broken.txt").write_bytes(b"\x00\x01binary")
    analysed.clear()
    with pytest.raises(KBInvalid) as err:
        kb.reload("test")
    assert [p.file for p in err.value.problems] == ["broken.txt"]
    assert sorted(analysed) == ["broken.txt", "ericsson-xiaomi.txt"]
    analysed.clear()
    with pytest.raises(KBInvalid):
        kb.reload("test")  # nothing changed: neither file is read again
    assert analysed == []
    (kb_dir / "broken.txt").unlink()
    analysed.clear()
    result = kb.reload("test")
    assert analysed == [] and result.added == ("ericsson-xiaomi",)


def test_skip_invalid_serves_the_valid_articles_and_lists_the_others(
    kb_dir: Path, tmp_path: Path
) -> None:
    (kb_dir / "broken.txt").write_bytes(b"\x00\x01binary")
    (kb_dir / "empty.md").write_bytes(b"")
    with pytest.raises(KBInvalid):
        KnowledgeBase.load(kb_dir, data_dir=tmp_path / "data")
    kb = KnowledgeBase.load(kb_dir, data_dir=tmp_path / "data", skip_invalid=True)
    assert sorted(p.file for p in kb.snapshot.skipped) == ["broken.txt", "empty.md"]
    assert len(kb.snapshot.articles) == 7 and "broken" not in kb.snapshot.articles
    assert kb.status().skipped == kb.snapshot.skipped
    # kb_version is the content hash of the whole directory, invalid files included.
    assert kb.kb_version == SavedVersions(tmp_path / "data").versions()[0]
    stored = SavedVersions(tmp_path / "data").path(kb.kb_version)
    assert stored is not None and (stored / "broken.txt").exists()
    # The stored version (all problems recorded) is not served without the choice.
    with pytest.raises(KBInvalid) as err:
        KnowledgeBase.load(kb_dir, data_dir=tmp_path / "data")
    assert sorted(p.file for p in err.value.problems) == ["broken.txt", "empty.md"]
    # A reload that does not skip is refused and the version served stays.
    with pytest.raises(KBInvalid):
        kb.reload("test")
    (kb_dir / "broken.txt").unlink()
    result = kb.reload("test", skip_invalid=True)
    assert [p.file for p in result.skipped] == ["empty.md"]


def test_skip_invalid_cannot_skip_an_unreadable_manifest_or_everything(
    kb_dir: Path, tmp_path: Path
) -> None:
    (kb_dir / "manifest.toml").write_text("[articles.x\nbroken = ", encoding="utf-8")
    with pytest.raises(KBInvalid, match="invalid TOML"):
        KnowledgeBase.load(kb_dir, data_dir=tmp_path / "data", skip_invalid=True)
    only_bad = tmp_path / "bad"
    only_bad.mkdir()
    (only_bad / "a.txt").write_bytes(b"")
    with pytest.raises(KBInvalid, match="empty file"):
        KnowledgeBase.load(only_bad, skip_invalid=True)


def test_an_article_with_an_invalid_manifest_entry_is_skipped_with_it(
    kb_dir: Path, tmp_path: Path
) -> None:
    manifest = kb_dir / "manifest.toml"
    manifest.write_text(
        manifest.read_text(encoding="utf-8") + '\n[articles.4857093]\npublished = "soon"\n',
        encoding="utf-8",
    )
    kb = KnowledgeBase.load(kb_dir, skip_invalid=True)
    assert "4857093" not in kb.snapshot.articles
    assert [p.file for p in kb.snapshot.skipped] == ["manifest.toml"]


def test_a_restart_with_an_invalid_directory_can_serve_its_last_valid_version(
    kb_dir: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    assert KnowledgeBase.load_last_good(kb_dir, data_dir=data) is None
    good = KnowledgeBase.load(kb_dir, data_dir=data).snapshot
    (kb_dir / "broken.txt").write_bytes(b"\x00\x01binary")
    with pytest.raises(KBInvalid):
        KnowledgeBase.load(kb_dir, data_dir=data)
    kb = KnowledgeBase.load_last_good(kb_dir, data_dir=data)
    assert kb is not None and kb.kb_version == good.kb_version and kb.kb_dir == kb_dir
    assert_same_version(kb.snapshot, good)
    # Reloads read the directory, not the stored copy.
    (kb_dir / "broken.txt").unlink()
    (kb_dir / "ericsson-xiaomi.txt").write_bytes(NEW_ARTICLE)
    assert kb.reload("test").added == ("ericsson-xiaomi",)


def test_audited_answers_of_an_old_version_replay_after_incremental_reloads(
    kb_dir: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    kb = KnowledgeBase.load(kb_dir, data_dir=data)
    old_version, old_answer = kb.kb_version, kb.answer(QUESTIONS[0])
    (kb_dir / "ericsson-xiaomi.txt").write_bytes(NEW_ARTICLE)
    kb.reload("test")
    stored = SavedVersions(data).path(old_version)
    assert stored is not None and SavedVersions(data).verify(old_version) == []
    replayed = KnowledgeBase.load(stored)
    assert replayed.kb_version == old_version
    assert replayed.answer(QUESTIONS[0]) == old_answer


def test_many_articles_are_analysed_in_worker_processes_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kb_dir = tmp_path / "kb"
    kb_dir.mkdir()
    sources = sorted(bundled_kb_dir().glob("*.txt")) + sorted(FIXTURES.glob("*.txt"))
    for i in range(24):
        source = sources[i % len(sources)]
        (kb_dir / f"a{i:02d}.txt").write_bytes(source.read_bytes())
    (kb_dir / "bad.txt").write_bytes(b"")
    monkeypatch.setattr(jobs_module, "PARALLEL_FROM", 10)
    monkeypatch.setattr(jobs_module, "_CHUNK", 4)
    monkeypatch.setattr(jobs_module, "_default_workers", lambda n: 2)
    parallel = KnowledgeBase.load(kb_dir, data_dir=tmp_path / "data", skip_invalid=True)
    monkeypatch.setattr(jobs_module, "_default_workers", lambda n: 1)
    serial = KnowledgeBase.load(kb_dir, skip_invalid=True)
    assert_same_version(parallel.snapshot, serial.snapshot)
    assert parallel.snapshot.skipped == serial.snapshot.skipped


def test_stored_versions_are_pruned_to_the_newest(kb_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    kb = KnowledgeBase.load(kb_dir, data_dir=data)
    for i in range(packed_module.KEEP_VERSIONS + 2):
        (kb_dir / f"note{i}.txt").write_bytes(NEW_ARTICLE.replace(b"Tuesday", f"day {i}".encode()))
        kb.reload("test")
    kept = packed_module.kept_versions(data)
    assert len(kept) == packed_module.KEEP_VERSIONS
    assert any(name.startswith(kb.kb_version) for name in kept)
    # The stored copies for replay are all kept; their files are stored once each.
    assert len(SavedVersions(data).versions()) == packed_module.KEEP_VERSIONS + 3
    header = json.loads((data / "kb" / f"{kb.kb_version}.json").read_text(encoding="utf-8"))
    first_file = sorted(header["files"])[0]
    inode = (data / "kb" / kb.kb_version / first_file).stat().st_ino
    for version in SavedVersions(data).versions():
        assert (data / "kb" / version / first_file).stat().st_ino == inode


def test_a_warm_start_keeps_the_manifests_synonyms_without_reading_it(
    kb_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = kb_dir / "manifest.toml"
    manifest.write_text(
        manifest.read_text(encoding="utf-8")
        + '\n[synonyms]\nrules = ["blacklist => entity list"]\n',
        encoding="utf-8",
    )
    data = tmp_path / "data"
    cold = KnowledgeBase.load(kb_dir, data_dir=data).snapshot
    assert cold.synonyms.lookup(("blacklist",))

    def unread(*_: Any) -> Any:
        raise AssertionError("a warm start parsed the manifest")

    monkeypatch.setattr(versions_module, "parse_manifest", unread)
    warm = KnowledgeBase.load(kb_dir, data_dir=data).snapshot
    assert warm.synonyms == cold.synonyms
    assert_same_version(warm, cold)


def test_a_reload_adjusts_the_word_sums_when_the_first_article_showing_a_word_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kb_dir = tmp_path / "kb"
    kb_dir.mkdir()
    texts = {
        # "a" is first: it shows "Orbitex" and the run "Orbitex Labs" first, and
        # "ZURICH" as the first way "Zurich" is written.
        "a.txt": "Orbitex news\n\nOrbitex Labs of ZURICH said on Monday that Orbitex "
        "will license its radios. Analysts in ZURICH agreed.\n",
        "b.txt": "Zurich deal\n\nThe Orbitex Labs team in Zurich met Acme. Acme and "
        "Orbitex signed in Zurich on Friday.\n",
        "c.txt": "Acme plans\n\nAcme said Orbitex licensed radios to Acme in Geneva, and "
        "licensors in Geneva agreed.\n",
    }
    for name, text in texts.items():
        (kb_dir / name).write_text(text, encoding="utf-8")
    data = tmp_path / "data"
    kb = KnowledgeBase.load(kb_dir, data_dir=data)
    assert kb.snapshot.name_surfaces["zurich"] == "ZURICH"  # two each: the first seen

    def no_sum(*_: Any) -> Any:
        raise AssertionError("a reload added up every article again")

    monkeypatch.setattr(versions_module.WordSums, "of", no_sum)
    for change in (
        lambda: (kb_dir / "a.txt").write_text(texts["b.txt"].replace("Acme", "Vega"), "utf-8"),
        (kb_dir / "a.txt").unlink,
        lambda: (kb_dir / "0.txt").write_text(texts["a.txt"], encoding="utf-8"),
        (kb_dir / "b.txt").unlink,
    ):
        change()
        kb.reload("test")
        monkeypatch.undo()
        assert_same_version(kb.snapshot, load_snapshot(kb_dir))
        monkeypatch.setattr(versions_module.WordSums, "of", no_sum)


def test_a_servers_other_processes_serve_the_last_valid_version_of_an_invalid_directory(
    kb_dir: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    good = KnowledgeBase.load(kb_dir, data_dir=data).kb_version
    (kb_dir / "broken.md").write_bytes(b"\x00\x01binary")
    assert KnowledgeBase.load_serving(kb_dir, data_dir=data).kb_version == good
    skipping = KnowledgeBase.load_serving(kb_dir, data_dir=data, skip_invalid=True)
    assert skipping.snapshot.skipped and skipping.kb_version != good
    with pytest.raises(KBInvalid):
        KnowledgeBase.load_serving(kb_dir, data_dir=tmp_path / "other")
