"""One pass per article gives what splitting and tokenizing each piece separately gave."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from knowledge.ingest.analysis import OWN_TOKENS, analyse_text
from knowledge.ingest.passages import split_passages
from knowledge.ingest.sentences import split_sentences
from knowledge.models import Article, ArticleMeta
from knowledge.retrieval.tokenizer import Analyzer, is_shouting
from knowledge.service import KnowledgeBase

FIXTURES = Path(__file__).parent / "fixtures" / "scifact"


def _texts() -> list[str]:
    texts = [a.text for a in KnowledgeBase.load().snapshot.articles.values()]
    texts += [p.read_text(encoding="utf-8") for p in sorted(FIXTURES.glob("*.txt"))]
    rng = random.Random(5)
    pieces = [
        "Huawei said.", "THE US FIRM AND IT AGREED TO PAY.", "It is what it is.",
        "U.S. firms met.", "Tet1 and BCL-2 rose.", "R&D grew 3.5%.", "“Yes,” he said.",
        "WHAT?", "The United States agreed.", "fifth-generation networks.", "Mr. Ren spoke.",
    ]  # fmt: skip
    for _ in range(200):
        paragraphs = [
            " ".join(rng.choices(pieces, k=rng.randint(1, 8))) for _ in range(rng.randint(1, 3))
        ]
        texts.append("\n\n".join(paragraphs))
    return texts


@pytest.mark.parametrize("word_parts", [False, True])
def test_one_pass_matches_splitting_and_tokenizing_each_piece(word_parts: bool) -> None:
    analyzer = Analyzer(word_parts=word_parts)
    own = parts = 0
    for text in _texts():
        result = analyse_text(text, analyzer)
        article = Article(meta=ArticleMeta(doc_id="doc"), text=text, content_hash="0" * 64)
        passages = split_passages(article)
        assert [tuple(b) for b in result.passages.tolist()] == [(p.start, p.end) for p in passages]
        assert int(result.passage_sentences.sum()) == len(result.sentences)
        token, sentence = 0, 0
        for p, n_tokens, n_sentences in zip(
            passages, result.passage_tokens.tolist(), result.passage_sentences.tolist(), strict=True
        ):
            assert list(result.terms[token : token + n_tokens]) == analyzer.tokenize(p.text)
            assert result.token_spans[token : token + n_tokens].tolist() == [
                [t.start, t.end, int(t.part)] for t in analyzer.analyze(p.text)
            ]
            spans = [(p.start + s, p.start + e) for s, e in split_sentences(p.text)]
            rows = result.sentences[sentence : sentence + n_sentences].tolist()
            assert [(s, e) for s, e, _, _ in rows] == spans
            for s, e, lo, hi in rows:
                alone = analyzer.tokenize(text[s:e])
                if lo == OWN_TOKENS:
                    own += 1
                    assert hi == OWN_TOKENS
                    assert is_shouting(text[s:e]) != is_shouting(p.text)
                else:
                    assert token <= lo <= hi <= token + n_tokens
                    assert list(result.terms[lo:hi]) == alone
            token += n_tokens
            sentence += n_sentences
        assert token == len(result.terms) == result.token_spans.shape[0]
        parts += int(result.token_spans[:, 2].sum())
    assert own > 0  # shouted sentences in ordinary passages were among the texts
    assert (parts > 0) == word_parts  # "Tet1" -> tet, 1


def test_an_empty_text_has_no_passages() -> None:
    result = analyse_text("", Analyzer())
    assert result.n_passages == 0 and result.terms == ()
    assert result.sentences.shape == (0, 4) and result.passages.shape == (0, 2)
    assert result.token_spans.shape == (0, 3)


def test_the_loaded_version_reads_terms_and_sentences_from_the_arrays() -> None:
    snap = KnowledgeBase.load().snapshot
    analyzer = snap.analyzer
    for i, passage in enumerate(snap.passages):
        assert snap.passage_at(i) == passage == snap.passage(passage.passage_id)
        assert snap.passage_number(passage.passage_id) == i
        assert snap.doc_of(i) == passage.doc_id
        terms = analyzer.tokenize(passage.text)
        assert snap.token_terms(i) == terms
        assert snap.analysed(i) == analyzer.analyze(passage.text)
        assert snap.terms_of(i) == frozenset(terms) == snap.passage_terms[i]
        for term in set(terms):
            assert snap.contains(i, term)
            assert snap.positions_of(i, term) == tuple(k for k, t in enumerate(terms) if t == term)
        assert not snap.contains(i, "no-such-term")
        assert snap.positions_of(i, "no-such-term") == ()
        sentences = snap.sentences_of(i)
        assert sentences == snap.passage_sentences[i]
        assert [(s.start - passage.start, s.end - passage.start) for s in sentences] == (
            split_sentences(passage.text)
        )
        for s in sentences:
            article_text = snap.articles[passage.doc_id].text
            assert s.terms == frozenset(analyzer.tokenize(article_text[s.start : s.end]))
    assert snap.passage_counts() == {d: len(snap.passages_of(d)) for d in snap.articles}
    for bad in ("", "#1", "nope#1", f"{snap.doc_of(0)}#0", f"{snap.doc_of(0)}#999", "x#01"):
        assert snap.passage(bad) is None
