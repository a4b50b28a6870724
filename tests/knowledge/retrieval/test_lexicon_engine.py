"""Lexicon.forms: irregular inflections, the exception lists read the other way."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import pytest

from knowledge.retrieval.index import Bm25Params
from knowledge.retrieval.lexicon import load_lexicon
from knowledge.retrieval.tokenizer import Analyzer, default_analyzer
from knowledge.service import bundled_kb_dir
from knowledge.store.packed import kept_versions
from knowledge.store.versions import build, prepare


@pytest.mark.parametrize(
    ("lemma", "forms"),
    [
        ("make", {"made"}),
        ("buy", {"bought"}),
        ("go", {"went", "gone", "goes"}),
        ("mouse", {"mice"}),
        ("good", {"better", "best"}),
    ],
)
def test_irregular_forms(lemma: str, forms: set[str]) -> None:
    assert forms <= set(load_lexicon().forms(lemma))


@pytest.mark.parametrize("word", ["license", "xyzzy", "", "  ", "a" * 500])
def test_regular_or_unknown_words_have_none(word: str) -> None:
    assert load_lexicon().forms(word) == ()


def test_forms_are_the_same_from_many_threads() -> None:
    lexicon = load_lexicon()
    results: list[tuple[str, ...]] = []
    threads = [
        threading.Thread(target=lambda: results.append(lexicon.forms("make"))) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(results) == {("made",)}


def test_the_lexicon_version_is_part_of_the_analyzer_signature() -> None:
    lexicon = load_lexicon()
    shipped = default_analyzer()
    assert shipped.lexicon is lexicon
    assert f":lex={lexicon.version}" in shipped.signature
    assert Analyzer().signature.endswith(":lex=None")
    assert Analyzer(lexicon=lexicon).signature == shipped.signature
    # The terms do not depend on it.
    assert Analyzer().tokenize("Huawei bought it") == shipped.tokenize("Huawei bought it")


def test_a_saved_index_is_rebuilt_when_the_lexicon_changes(tmp_path: Path) -> None:
    lexicon = load_lexicon()
    other = dataclasses.replace(lexicon, version=lexicon.version + "-other")
    data = tmp_path / "var"

    def load(analyzer: Analyzer) -> bool:
        """Build (or reuse) the bundled KB's stored version; True when it was reused."""
        params = Bm25Params()
        plan = prepare(bundled_kb_dir(), analyzer=analyzer, params=params, data_dir=data)
        build(plan, analyzer=analyzer, params=params, data_dir=data)
        return plan.packed is not None

    assert not load(Analyzer(lexicon=lexicon))
    assert load(Analyzer(lexicon=lexicon))
    assert len(kept_versions(data)) == 1  # reused
    assert not load(Analyzer(lexicon=other))
    assert len(kept_versions(data)) == 2  # another key: rebuilt
