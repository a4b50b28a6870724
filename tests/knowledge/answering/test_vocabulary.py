"""The vocabulary counted per article and summed per version: the same as one count over
every passage of the knowledge base, and stored articles read back as they were."""

from __future__ import annotations

from collections import Counter

from knowledge.answering.context import PassageText, name_terms, ordinary_word
from knowledge.answering.vocabulary import ArticleWords, LexiconMemo, Vocabulary
from knowledge.ingest.sentences import split_sentences
from knowledge.retrieval.tokenizer import default_analyzer

ANALYZER = default_analyzer()
LEXICON = ANALYZER.lexicon
ARTICLES = [
    [
        "Vincent Pang of Huawei said the talks in Zurich went well.",
        "Pang added that Huawei will license 5G technology in January.",
    ],
    ["HUAWEI AND ERICSSON SIGNED A DEAL TODAY IN SHENZHEN CHINA.", "Ericsson said so."],
    ["The huawei deal is new. New York and Zurich welcomed it; Pang did not."],
]


def _passage(text: str) -> PassageText:
    return PassageText(ANALYZER.analyze(text), [s for s, _ in split_sentences(text)])


def _article(texts: list[str]) -> ArticleWords:
    words = ArticleWords()
    for text in texts:
        words.add(text, _passage(text), LEXICON)
    return words


def _occurrences(term: str) -> int:
    return sum(t == term for texts in ARTICLES for x in texts for t in ANALYZER.tokenize(x))


def test_summing_articles_is_counting_every_passage_at_once() -> None:
    stored = [ArticleWords.decode(_article(texts).encode()) for texts in ARTICLES]
    vocabulary = Vocabulary.of(stored, LEXICON, _occurrences)
    passages = [(t, _passage(t)) for texts in ARTICLES for t in texts]
    assert vocabulary.names == name_terms(passages, lambda w: ordinary_word(LEXICON, w))
    assert {"huawei", "pang", "zurich"} <= vocabulary.names
    assert vocabulary.surfaces["huawei"] == "Huawei"  # twice, against HUAWEI once
    assert "zurich" in vocabulary.places
    assert list(vocabulary.words)[:3] == ["vincent", "pang", "huawei"]  # first seen first


def test_an_article_reads_back_as_it_was_stored() -> None:
    article = _article(ARTICLES[0])
    back = ArticleWords.decode(article.encode())
    assert back.counts.capital == article.counts.capital
    assert back.counts.skipped == article.counts.skipped
    assert back.counts.alone == article.counts.alone
    assert back.counts.written == article.counts.written
    assert back.capitalised == article.capitalised
    assert list(back.words.items()) == list(article.words.items())
    assert list(back.runs.items()) == list(article.runs.items())


def test_a_word_holding_a_separator_is_stored_as_json() -> None:
    article = _article(ARTICLES[0])
    article.runs[("odd",)] = "Odd\x1ename"
    article.capitalised["odd"] = Counter({"Odd\x1fname": 2})
    raw = article.encode()
    assert raw[:1] == b"J"
    back = ArticleWords.decode(raw)
    assert back.runs[("odd",)] == "Odd\x1ename"
    assert back.capitalised["odd"] == Counter({"Odd\x1fname": 2})


def test_a_version_reuses_the_lexicon_look_ups_of_the_one_before() -> None:
    stored = [ArticleWords.decode(_article(texts).encode()) for texts in ARTICLES]
    first = Vocabulary.of(stored, LEXICON, _occurrences)
    assert first.memo.classes and first.memo.places
    # Look-ups the memo answers are not asked again: a memo saying otherwise wins.
    lying = LexiconMemo(
        ordinary=dict(first.memo.ordinary),
        places={w: False for w in first.memo.places},
        classes=dict(first.memo.classes),
    )
    again = Vocabulary.of(stored, LEXICON, _occurrences, lying)
    assert again.places == frozenset()
    assert Vocabulary.from_json(first.to_json()) == first
