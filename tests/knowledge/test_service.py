from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from knowledge.models import Answer
from knowledge.service import (
    KBInvalid,
    KnowledgeBase,
    ReloadInProgress,
    ReloadStage,
    bundled_kb_dir,
    check_kb_dir,
)

ARTICLES = {
    "alpha": "Acme Widgets will license its battery patents to three rival carmakers.\n"
    "The deal is worth two billion dollars over a decade, the company said.\n",
    "beta": "Orbit Telecom opened its modem patents to every handset maker.\n"
    "Regulators in Brussels welcomed the royalty rate of two percent.\n",
    "gamma": "Zenith Foods licensed its bread recipes to franchisees in Europe.\n"
    "The franchise fee will be waived for the first year, the bakery chain said.\n",
}


def make_kb(root: Path, articles: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for doc_id, text in articles.items():
        (root / f"{doc_id}.txt").write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def kb_dir(tmp_path: Path) -> Path:
    return make_kb(tmp_path / "kb", ARTICLES)


def quoted_docs(answer: Answer) -> set[str]:
    return {q.doc_id for q in answer.quotes}


# ------------------------------------------------------------------ load


def test_bundled_kb_dir_holds_the_articles() -> None:
    kb_dir = bundled_kb_dir()
    assert (kb_dir / "manifest.toml").is_file()
    assert len(list(kb_dir.glob("*.txt"))) == 5
    assert check_kb_dir(kb_dir) == []


def test_load_without_a_directory_loads_the_bundled_kb() -> None:
    kb = KnowledgeBase.load()
    assert kb.kb_dir == bundled_kb_dir()
    assert len(kb.snapshot.articles) == 5
    assert len(kb.snapshot.passages) == kb.snapshot.index.n_docs
    assert kb.snapshot.loaded_by == "startup"
    assert kb.snapshot.loaded_at.tzinfo is dt.UTC


def test_load_records_who_loaded(kb_dir: Path) -> None:
    assert KnowledgeBase.load(kb_dir, loaded_by="admin:U123").snapshot.loaded_by == "admin:U123"


def test_article_lookup(kb_dir: Path) -> None:
    kb = KnowledgeBase.load(kb_dir)
    article = kb.article("alpha")
    assert article is not None
    assert article.text.startswith("Acme Widgets")
    assert kb.article("nope") is None


def test_load_of_an_invalid_directory_raises_with_every_problem(kb_dir: Path) -> None:
    (kb_dir / "bin.txt").write_bytes(b"\x00\x01")
    (kb_dir / "empty.txt").write_bytes(b"")
    with pytest.raises(KBInvalid) as err:
        KnowledgeBase.load(kb_dir)
    assert sorted(p.file for p in err.value.problems) == ["bin.txt", "empty.txt"]
    assert "bin.txt" in str(err.value)
    assert check_kb_dir(kb_dir) == list(err.value.problems)


def test_load_of_a_missing_directory_raises(tmp_path: Path) -> None:
    with pytest.raises(KBInvalid) as err:
        KnowledgeBase.load(tmp_path / "missing")
    assert err.value.problems


# ------------------------------------------------------------------ empty KB


def test_an_empty_kb_answers_that_it_is_empty(tmp_path: Path) -> None:
    kb = KnowledgeBase.load(tmp_path)
    assert kb.snapshot.passages == ()
    for question in ["Huawei", "What did Pang say?", "x" * 5000]:
        answer = kb.answer(question)
        assert answer.answered is False
        assert answer.reason is not None
        assert "knowledge base is empty" in answer.reason.casefold()
        assert answer.quotes == ()
    assert kb.answer("").answered is False


def test_an_empty_manifest_only_kb_answers_that_it_is_empty(tmp_path: Path) -> None:
    (tmp_path / "manifest.toml").write_text("# nothing yet\n", encoding="utf-8")
    answer = KnowledgeBase.load(tmp_path).answer("licensing")
    assert answer.answered is False
    assert answer.reason is not None
    assert "knowledge base is empty" in answer.reason.casefold()


def test_reload_to_an_empty_kb_and_back(kb_dir: Path) -> None:
    kb = KnowledgeBase.load(kb_dir)
    for path in kb_dir.iterdir():
        path.unlink()
    result = kb.reload()
    assert result.removed == ("alpha", "beta", "gamma")
    assert result.passages_after == 0
    answer = kb.answer("battery patents")
    assert answer.answered is False
    assert answer.reason is not None
    assert "knowledge base is empty" in answer.reason.casefold()
    make_kb(kb_dir, ARTICLES)
    assert kb.reload().added == ("alpha", "beta", "gamma")
    assert kb.answer("battery patents").answered


# ------------------------------------------------------------------ reload


def test_reload_picks_up_added_changed_and_removed_files(kb_dir: Path) -> None:
    kb = KnowledgeBase.load(kb_dir)
    old_version = kb.kb_version
    assert quoted_docs(kb.answer("bread recipes franchisees")) == {"gamma"}
    assert kb.answer("satellite spectrum").answered is False

    (kb_dir / "gamma.txt").unlink()
    (kb_dir / "beta.txt").write_text(
        "Orbit Telecom withdrew its modem patents from the pool.\n", encoding="utf-8"
    )
    (kb_dir / "delta.txt").write_text(
        "Nova Space will license satellite spectrum to rural operators.\n", encoding="utf-8"
    )
    result = kb.reload(by="test")

    assert result.added == ("delta",)
    assert result.changed == ("beta",)
    assert result.removed == ("gamma",)
    assert result.old_version == old_version
    assert result.new_version == kb.kb_version != old_version
    assert result.unchanged is False
    assert result.by == "test"
    assert result.articles_after == 3
    assert result.passages_after == len(kb.snapshot.passages)
    assert result.passages_before == 6
    assert kb.snapshot.loaded_by == "test"

    assert quoted_docs(kb.answer("satellite spectrum")) == {"delta"}
    assert kb.answer("bread recipes franchisees").answered is False
    withdrew = kb.answer("Orbit withdrew modem patents")
    assert quoted_docs(withdrew) == {"beta"}
    assert "withdrew" in withdrew.quotes[0].text


def test_reload_without_changes(kb_dir: Path) -> None:
    kb = KnowledgeBase.load(kb_dir)
    result = kb.reload()
    assert result.unchanged is True
    assert (result.added, result.changed, result.removed) == ((), (), ())
    assert result.new_version == result.old_version == kb.kb_version


def test_a_manifest_change_is_a_new_version(kb_dir: Path) -> None:
    kb = KnowledgeBase.load(kb_dir)
    (kb_dir / "manifest.toml").write_text(
        '[articles.alpha]\ntitle = "Acme shares patents"\n', encoding="utf-8"
    )
    result = kb.reload()
    assert result.unchanged is False
    article = kb.article("alpha")
    assert article is not None
    assert article.meta.title == "Acme shares patents"
    assert kb.answer("battery patents").quotes[0].title == "Acme shares patents"


def test_an_invalid_directory_on_reload_keeps_the_old_snapshot(kb_dir: Path) -> None:
    kb = KnowledgeBase.load(kb_dir)
    before = kb.snapshot
    expected = kb.answer("battery patents carmakers")
    assert expected.answered

    (kb_dir / "broken.txt").write_bytes(b"caf\xe9 society")
    (kb_dir / "alpha.txt").write_text("Acme changed everything about its plans.\n")
    with pytest.raises(KBInvalid) as err:
        kb.reload(by="test")
    assert [p.file for p in err.value.problems] == ["broken.txt"]

    assert kb.snapshot is before
    assert kb.kb_version == before.kb_version
    assert kb.answer("battery patents carmakers") == expected
    assert kb.last_reload_error is err.value

    (kb_dir / "broken.txt").unlink()
    result = kb.reload()
    assert result.changed == ("alpha",)
    assert kb.last_reload_error is None


def test_a_held_snapshot_is_not_changed_by_a_reload(kb_dir: Path) -> None:
    kb = KnowledgeBase.load(kb_dir)
    held = kb.snapshot
    passages = held.passages
    (kb_dir / "gamma.txt").unlink()
    kb.reload()
    assert kb.snapshot is not held
    assert held.passages == passages
    assert "gamma" in held.articles
    assert "gamma" not in kb.snapshot.articles


def test_a_concurrent_reload_is_refused(kb_dir: Path) -> None:
    kb = KnowledgeBase.load(kb_dir)
    inside = threading.Event()
    release = threading.Event()

    def stall(stage: ReloadStage) -> None:
        if stage.name == "validate":
            inside.set()
            assert release.wait(10)

    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(kb.reload, "first", progress=stall)
        assert inside.wait(10)
        try:
            with pytest.raises(ReloadInProgress):
                kb.reload("second")
            assert kb.reloading is True
        finally:
            release.set()
        assert first.result(timeout=10).by == "first"
    assert kb.reloading is False
    assert kb.reload("third").by == "third"  # the lock was released


def test_answers_stay_consistent_while_reloading(kb_dir: Path) -> None:
    kb = KnowledgeBase.load(kb_dir)
    versions = {kb.kb_version}
    stop = threading.Event()
    errors: list[BaseException] = []

    def ask() -> int:
        count = 0
        while not stop.is_set():
            answer = kb.answer("battery patents carmakers")
            if not answer.answered or quoted_docs(answer) != {"alpha"}:
                errors.append(AssertionError(answer))
            count += 1
        return count

    with ThreadPoolExecutor(max_workers=3) as pool:
        askers = [pool.submit(ask) for _ in range(2)]
        try:
            for i in range(10):
                (kb_dir / "beta.txt").write_text(f"Orbit Telecom said {i} things today.\n")
                versions.add(kb.reload().new_version)
        finally:
            stop.set()
        assert all(f.result(timeout=10) > 0 for f in askers)
    assert errors == []
    assert len(versions) == 11


def test_a_one_passage_kb_answers(tmp_path: Path) -> None:
    # BM25 idf goes negative when every document holds a term; that must not hide it.
    kb = KnowledgeBase.load(make_kb(tmp_path, {"one": ARTICLES["alpha"].splitlines()[0]}))
    answer = kb.answer("battery patents")
    assert answer.answered
    assert [q.passage_id for q in answer.quotes] == ["one#1"]


def test_identical_articles_corroborate_each_other(tmp_path: Path) -> None:
    kb = KnowledgeBase.load(make_kb(tmp_path, {"one": ARTICLES["alpha"], "two": ARTICLES["alpha"]}))
    (quote,) = kb.answer("battery patents carmakers", 10).quotes
    assert [r.doc_id for r in quote.also_reported_by] == ["two" if quote.doc_id == "one" else "one"]


def test_a_large_index_starts_compiling_its_search_in_the_background(
    kb_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import knowledge.service as service_module
    from knowledge.retrieval.index import Bm25Index

    calls: list[bool] = []
    monkeypatch.setattr(Bm25Index, "prepare", lambda self, wait=True: calls.append(wait))
    KnowledgeBase.load(kb_dir)
    assert calls == []  # small: queries never reach the compiled search
    monkeypatch.setattr(service_module, "PREPARE_FROM_POSTINGS", 1)
    KnowledgeBase.load(kb_dir)
    assert calls == [False]


def test_answer_skip_leaves_out_the_quotes_already_shown() -> None:
    kb = KnowledgeBase.load()
    question = "When was Huawei added to the Entity List?"
    full = kb.answer(question, 6)
    page = kb.answer(question, 6, skip=3)
    assert page.quotes == full.quotes[3:]
    assert page.answered and page.kb_version == full.kb_version
    assert kb.answer(question, 3, skip=10).quotes == ()


def test_a_long_reload_reports_running_stages_with_counts_and_logs_each_stage(
    kb_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import structlog.testing

    from knowledge import service

    kb = KnowledgeBase.load(kb_dir)
    for i in range(3):
        (kb_dir / f"more{i}.txt").write_text(
            f"Acme item {i}\n\nAcme Widgets said item {i} will be licensed to carmakers.\n",
            encoding="utf-8",
        )
    stages: list[ReloadStage] = []
    monkeypatch.setattr(service, "PROGRESS_AFTER_S", 0.0)
    monkeypatch.setattr(service, "PROGRESS_EVERY_S", 0.0)
    saved = dict(structlog.get_config())
    structlog.reset_defaults()  # info lines too, whatever an earlier test configured
    try:
        with structlog.testing.capture_logs() as logs:
            kb.reload("test", progress=stages.append)
    finally:
        structlog.configure(**saved)
    running = [s for s in stages if not s.finished]
    assert any(s.name == "validate" and s.total == 3 and s.done == 3 for s in running)
    assert [s.name for s in stages if s.finished] == ["validate", "index", "swap"]
    assert [e["stage"] for e in logs if e["event"] == "kb.stage"] == ["validate", "index", "swap"]
    # Short reloads stay quiet: running stages wait a second.
    monkeypatch.setattr(service, "PROGRESS_AFTER_S", 60.0)
    stages.clear()
    (kb_dir / "more0.txt").unlink()
    kb.reload("test", progress=stages.append)
    assert all(s.finished for s in stages)
