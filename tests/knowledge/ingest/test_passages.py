from __future__ import annotations

import itertools
import re
import shutil
from pathlib import Path

import pytest

from knowledge.ingest.passages import MAX_SENTENCES, TARGET_CHARS, split_all, split_passages
from knowledge.ingest.sentences import split_sentences
from knowledge.models import Article, ArticleMeta, Passage
from knowledge.service import KnowledgeBase, bundled_kb_dir


def article(text: str, doc_id: str = "doc") -> Article:
    return Article(meta=ArticleMeta(doc_id=doc_id), text=text, content_hash="0" * 64)


def sentence_count(a: Article, p: Passage) -> int:
    return sum(1 for s, e in split_sentences(a.text) if p.start <= s and e <= p.end)


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return KnowledgeBase.load()


def test_bundled_passage_ids_are_doc_id_hash_n(kb: KnowledgeBase) -> None:
    snap = kb.snapshot
    for doc_id in snap.articles:
        passages = snap.passages_of(doc_id)
        assert passages
        assert [p.passage_id for p in passages] == [
            f"{doc_id}#{n}" for n in range(1, len(passages) + 1)
        ]
        assert [p.n for p in passages] == list(range(1, len(passages) + 1))
        assert all(p.doc_id == doc_id for p in passages)
    ids = [p.passage_id for p in snap.passages]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+#[1-9][0-9]*", i) for i in ids)


def test_bundled_passages_are_exact_slices(kb: KnowledgeBase) -> None:
    for p in kb.snapshot.passages:
        assert kb.snapshot.articles[p.doc_id].text[p.start : p.end] == p.text
        assert p.text == p.text.strip()
        assert p.text


def test_bundled_passages_hold_one_to_three_whole_sentences(kb: KnowledgeBase) -> None:
    for p in kb.snapshot.passages:
        a = kb.snapshot.articles[p.doc_id]
        assert 1 <= sentence_count(a, p) <= MAX_SENTENCES, p.passage_id
        # No sentence is cut by a passage boundary.
        for s, e in split_sentences(a.text):
            assert e <= p.start or s >= p.end or (p.start <= s and e <= p.end)


def test_bundled_passages_cover_every_sentence_once(kb: KnowledgeBase) -> None:
    for doc_id, a in kb.snapshot.articles.items():
        passages = kb.snapshot.passages_of(doc_id)
        for prev, nxt in itertools.pairwise(passages):
            assert prev.end <= nxt.start
        assert sum(sentence_count(a, p) for p in passages) == len(split_sentences(a.text))


def test_bundled_passages_stay_within_a_paragraph(kb: KnowledgeBase) -> None:
    assert all("\n\n" not in p.text for p in kb.snapshot.passages)


def test_bundled_passages_are_quote_sized(kb: KnowledgeBase) -> None:
    for p in kb.snapshot.passages:
        a = kb.snapshot.articles[p.doc_id]
        assert len(p.text) <= TARGET_CHARS or sentence_count(a, p) == 1, p.passage_id


def test_passages_are_stable_across_loads(kb: KnowledgeBase, tmp_path: Path) -> None:
    again = KnowledgeBase.load()
    assert again.snapshot.passages == kb.snapshot.passages
    copy = tmp_path / "kb"
    shutil.copytree(bundled_kb_dir(), copy)
    assert KnowledgeBase.load(copy).snapshot.passages == kb.snapshot.passages


def test_passage_ids_of_one_article_do_not_move_when_another_changes(tmp_path: Path) -> None:
    copy = tmp_path / "kb"
    shutil.copytree(bundled_kb_dir(), copy)
    before = KnowledgeBase.load(copy).snapshot.passages_of("001_f90f437b07126a50")
    other = next(copy.glob("002_*.txt"))
    other.write_text("A new first sentence is here.\n" + other.read_text(encoding="utf-8"))
    after = KnowledgeBase.load(copy).snapshot.passages_of("001_f90f437b07126a50")
    assert after == before


def test_groups_at_most_three_sentences() -> None:
    text = " ".join(f"Sentence number {i} is short." for i in range(1, 8))
    passages = split_passages(article(text))
    assert [len(split_sentences(p.text)) for p in passages] == [3, 3, 1]
    assert passages[0].text == (
        "Sentence number 1 is short. Sentence number 2 is short. Sentence number 3 is short."
    )


def test_paragraphs_start_new_passages() -> None:
    text = "One. Two.\n\nThree. Four. Five. Six."
    passages = split_passages(article(text))
    assert [p.text for p in passages] == ["One. Two.", "Three. Four. Five.", "Six."]


def test_long_sentences_get_their_own_passage() -> None:
    long = "Word " * 80 + "end."
    text = f"Short one. {long} Short two."
    passages = split_passages(article(text))
    assert [p.text for p in passages] == ["Short one.", long, "Short two."]
    for p in passages:
        assert text[p.start : p.end] == p.text


def test_empty_article_has_no_passages() -> None:
    assert split_passages(article("")) == []


def test_split_all_keeps_article_order() -> None:
    a, b = article("A one. A two.", "a"), article("B one.", "b")
    assert [p.passage_id for p in split_all([a, b])] == ["a#1", "b#1"]
