"""Replicas sharing one knowledge-base directory converge through polling."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from knowledge.service import KBInvalid, KnowledgeBase, ReloadResult, bundled_kb_dir
from knowledge.store import admin
from knowledge.store.admin import ArticleFields, add_article
from knowledge.store.watch import KBPoller

ARTICLE = b"""Nokia renews patent licence with a Chinese handset maker

Nokia said on Monday it had renewed its patent licence agreement with a Chinese handset \
maker covering 5G technology, ending litigation in several countries.
"""


@pytest.fixture
def kb_dir(tmp_path: Path) -> Path:
    target = tmp_path / "kb"
    shutil.copytree(bundled_kb_dir(), target)
    return target


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def test_two_replicas_on_one_directory_converge(kb_dir: Path) -> None:
    replica_a = KnowledgeBase.load(kb_dir)
    replica_b = KnowledgeBase.load(kb_dir)
    poller_b = KBPoller(replica_b, 1.0)
    assert poller_b.poll_once() == "same_version"
    assert poller_b.poll_once() == "unchanged"

    added = add_article(replica_a, "nokia.txt", ARTICLE, ArticleFields(), by="U1")

    assert replica_b.kb_version != replica_a.kb_version
    assert poller_b.poll_once() == "reloaded"
    assert replica_b.kb_version == replica_a.kb_version == added.reload.new_version
    assert replica_b.status().loaded_by == "poll"
    assert poller_b.poll_once() == "unchanged"
    answer = replica_b.answer("Which licence did Nokia renew?")
    assert answer.answered and answer.quotes[0].doc_id == "nokia"


def test_the_replica_that_reloaded_does_not_reload_again(kb_dir: Path) -> None:
    kb = KnowledgeBase.load(kb_dir)
    poller = KBPoller(kb, 1.0)
    assert poller.poll_once() == "same_version"
    (kb_dir / "nokia.txt").write_bytes(ARTICLE)
    kb.reload(by="U1")
    loaded_at = kb.snapshot.loaded_at
    assert poller.poll_once() == "same_version"
    assert kb.snapshot.loaded_at == loaded_at


def test_touching_a_file_does_not_rebuild_the_index(kb_dir: Path) -> None:
    kb = KnowledgeBase.load(kb_dir)
    poller = KBPoller(kb, 1.0)
    poller.poll_once()
    snapshot = kb.snapshot
    some_file = next(kb_dir.glob("*.txt"))
    st = some_file.stat()
    os.utime(some_file, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    assert poller.poll_once() == "same_version"
    assert kb.snapshot is snapshot


def test_a_broken_directory_is_reported_once_and_retried_after_a_fix(kb_dir: Path) -> None:
    kb = KnowledgeBase.load(kb_dir)
    version = kb.kb_version
    refusals: list[KBInvalid] = []
    reloads: list[ReloadResult] = []
    poller = KBPoller(kb, 1.0, on_reloaded=reloads.append, on_refused=refusals.append)
    poller.poll_once()

    (kb_dir / "blank.txt").write_bytes(b"\n\n")
    assert poller.poll_once() == "refused"
    assert poller.poll_once() == "unchanged"
    assert poller.poll_once() == "unchanged"
    assert len(refusals) == 1
    assert [p.reason for p in refusals[0].problems] == ["empty file"]
    assert kb.kb_version == version
    assert kb.answer("Who is Huawei talking to about 5G licensing?").answered

    (kb_dir / "blank.txt").write_bytes(ARTICLE)
    assert poller.poll_once() == "reloaded"
    assert [r.added for r in reloads] == [("blank",)]
    assert refusals[0] is not None and len(refusals) == 1


def test_a_poll_during_a_reload_retries_later(kb_dir: Path) -> None:
    kb = KnowledgeBase.load(kb_dir)
    poller = KBPoller(kb, 1.0)
    poller.poll_once()
    (kb_dir / "nokia.txt").write_bytes(ARTICLE)
    with kb._reload_lock:
        assert poller.poll_once() == "busy"
    assert poller.poll_once() == "reloaded"
    assert kb.article("nokia") is not None


def test_no_poll_reload_while_an_article_is_being_added(kb_dir: Path) -> None:
    kb = KnowledgeBase.load(kb_dir)
    poller = KBPoller(kb, 1.0)
    poller.poll_once()
    (kb_dir / "nokia.txt").write_bytes(ARTICLE)
    # Another writer holds the directory between writing the article and its manifest entry.
    with admin._directory_lock(kb_dir):
        assert poller.poll_once() == "busy"
        assert kb.article("nokia") is None
    assert poller.poll_once() == "reloaded"


def test_a_failing_callback_does_not_stop_polling(kb_dir: Path) -> None:
    kb = KnowledgeBase.load(kb_dir)

    def explode(result: ReloadResult) -> None:
        raise RuntimeError("audit down")

    poller = KBPoller(kb, 1.0, on_reloaded=explode)
    poller.poll_once()
    (kb_dir / "nokia.txt").write_bytes(ARTICLE)
    assert poller.poll_once() == "reloaded"
    (kb_dir / "nokia.txt").unlink()
    assert poller.poll_once() == "reloaded"
    assert kb.article("nokia") is None


def test_an_unreadable_directory_is_an_error_not_a_crash(kb_dir: Path) -> None:
    kb = KnowledgeBase.load(kb_dir)
    poller = KBPoller(kb, 1.0)
    moved = kb_dir.with_name("elsewhere")
    kb_dir.rename(moved)
    assert poller.poll_once() == "error"
    assert poller.poll_once() == "error"
    moved.rename(kb_dir)
    assert poller.poll_once() == "same_version"


def test_the_poller_thread_picks_up_changes_and_stops(kb_dir: Path) -> None:
    replica_a = KnowledgeBase.load(kb_dir)
    replica_b = KnowledgeBase.load(kb_dir)
    poller = KBPoller(replica_b, 0.02)
    poller.start()
    try:
        assert poller.running
        add_article(replica_a, "nokia.txt", ARTICLE, ArticleFields(), by="U1")
        assert wait_for(lambda: replica_b.kb_version == replica_a.kb_version)
    finally:
        poller.stop()
    assert not poller.running


def test_interval_must_be_positive(kb_dir: Path) -> None:
    with pytest.raises(ValueError, match="positive"):
        KBPoller(KnowledgeBase.load(kb_dir), 0)
