"""The saved index is reused for the same content and rebuilt when anything differs."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from knowledge.retrieval import index_store
from knowledge.retrieval.index import Bm25Index, Bm25Params
from knowledge.retrieval.index_store import index_path, load_or_build

CORPUS = [["huawei", "licens", "5g"], ["us", "compani", "talk"], ["huawei", "talk", "us"]]
SIG = "v1:stem=True:stop=120"


class Factory:
    def __init__(self, corpus: Sequence[Sequence[str]] = CORPUS) -> None:
        self.corpus = corpus
        self.calls = 0

    def __call__(self) -> Sequence[Sequence[str]]:
        self.calls += 1
        return self.corpus


def test_first_start_builds_and_saves_next_start_loads(tmp_path: Path) -> None:
    first = Factory()
    built = load_or_build(tmp_path, "kbv1", SIG, first, Bm25Params())
    assert first.calls == 1
    assert index_path(tmp_path, "kbv1", SIG, Bm25Params()).is_file()

    second = Factory()
    loaded = load_or_build(tmp_path, "kbv1", SIG, second, Bm25Params())
    assert second.calls == 0
    assert loaded.top_k(["huawei", "us"], 3) == built.top_k(["huawei", "us"], 3)


@pytest.mark.parametrize(
    ("kb_version", "signature", "params"),
    [
        ("kbv2", SIG, Bm25Params()),
        ("kbv1", "v1:stem=False:stop=120", Bm25Params()),
        ("kbv1", SIG, Bm25Params(k1=2.0)),
    ],
    ids=["content", "analysis", "parameters"],
)
def test_any_difference_rebuilds(
    tmp_path: Path, kb_version: str, signature: str, params: Bm25Params
) -> None:
    load_or_build(tmp_path, "kbv1", SIG, Factory(), Bm25Params())
    changed = Factory([["other", "text"], ["more"]])
    index = load_or_build(tmp_path, kb_version, signature, changed, params)
    assert changed.calls == 1
    assert index.n_docs == 2
    assert index.params == params


def test_a_damaged_file_is_rebuilt_and_replaced(tmp_path: Path) -> None:
    load_or_build(tmp_path, "kbv1", SIG, Factory())
    path = index_path(tmp_path, "kbv1", SIG, Bm25Params())
    path.write_bytes(path.read_bytes()[:200])
    again = Factory()
    index = load_or_build(tmp_path, "kbv1", SIG, again)
    assert again.calls == 1
    assert index.n_docs == 3
    assert Bm25Index.load(path).n_docs == 3


def test_a_file_from_other_content_under_the_same_name_is_not_trusted(tmp_path: Path) -> None:
    path = index_path(tmp_path, "kbv1", SIG, Bm25Params())
    Bm25Index([["x"]]).save(path, meta={"kb_version": "someone-else"})
    factory = Factory()
    assert load_or_build(tmp_path, "kbv1", SIG, factory).n_docs == 3
    assert factory.calls == 1


def test_passage_count_guard(tmp_path: Path) -> None:
    load_or_build(tmp_path, "kbv1", SIG, Factory())
    factory = Factory()
    load_or_build(tmp_path, "kbv1", SIG, factory, expected_n_docs=3)
    assert factory.calls == 0
    load_or_build(tmp_path, "kbv1", SIG, factory, expected_n_docs=4)
    assert factory.calls == 1


def test_a_failed_save_still_serves_the_built_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: Bm25Index, path: Path, **_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Bm25Index, "save", refuse)
    index = load_or_build(tmp_path, "kbv1", SIG, Factory())
    assert index.top_k(["huawei"], 1)[0][0] in (0, 2)


def test_old_versions_are_pruned_to_the_newest_few(tmp_path: Path) -> None:
    for n in range(6):
        load_or_build(tmp_path, f"kbv{n}", SIG, Factory())
        # mtime has a coarse resolution on some filesystems
        os.utime(index_path(tmp_path, f"kbv{n}", SIG, Bm25Params()), (n, n))
    stale_tmp = tmp_path / "index" / ".bm25-crashed.npz.tmp"
    stale_tmp.write_bytes(b"partial")
    os.utime(stale_tmp, (time.time() - 3600,) * 2)
    load_or_build(tmp_path, "kbv9", SIG, Factory())
    left = sorted(p.name for p in (tmp_path / "index").iterdir())
    assert len(left) == index_store.KEEP_VERSIONS
    assert index_path(tmp_path, "kbv9", SIG, Bm25Params()).name in left
    assert index_path(tmp_path, "kbv5", SIG, Bm25Params()).name in left
