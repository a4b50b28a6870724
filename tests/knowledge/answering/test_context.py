"""Names read off the articles, and what each article is about."""

from __future__ import annotations

from collections.abc import Iterable

from knowledge.answering.context import (
    PassageText,
    article_subjects,
    capitalised_runs,
    name_terms,
    ordinary_word,
)
from knowledge.ingest.sentences import split_sentences
from knowledge.models import Article, ArticleMeta, Passage
from knowledge.retrieval.lexicon import load_lexicon
from knowledge.retrieval.tokenizer import default_analyzer

ANALYZER = default_analyzer()
LEXICON = load_lexicon()


def names_of(texts: Iterable[str]) -> set[str]:
    analysed = [
        (t, PassageText(ANALYZER.analyze(t), [s for s, _ in split_sentences(t)])) for t in texts
    ]
    return set(name_terms(analysed, lambda w: ordinary_word(LEXICON, w)))


def terms(text: str) -> set[str]:
    return set(ANALYZER.tokenize(text))


def test_a_name_is_written_capitalised_mid_sentence() -> None:
    names = names_of(["The deal was signed by Pang in Zurich.", "Later, Pang left."])
    assert terms("Pang Zurich") <= names
    assert not terms("deal signed later") & names


def test_an_ordinary_word_inside_a_name_is_no_name_of_its_own() -> None:
    names = names_of(["He spoke to the New Zorbla Times.", "The State Department said so."])
    assert "zorbla" in names  # not a word the lexicon knows
    assert not terms("new times state department") & names
    # Written capitalised on its own, never in lower case, an ordinary word is a name.
    assert "pang" in names_of(["Then Pang explained it."])


def test_a_word_also_written_in_lower_case_is_no_name() -> None:
    names = names_of(["The Global Forum met.", "A global deal is near.", "The global market."])
    assert "global" not in names


def test_at_a_sentence_start_only_an_unknown_word_counts() -> None:
    names = names_of(["Qualcomm makes modems.", "Although it tried, it failed."])
    assert "qualcomm" in names
    assert "although" not in names


def test_calendar_words_are_no_names() -> None:
    names = names_of(["It happened in May and on Friday, said Acme."])
    assert not terms("May Friday") & names
    assert "acm" in names


def test_ordinary_words_and_named_things() -> None:
    assert ordinary_word(LEXICON, "acme")  # a peak
    assert ordinary_word(LEXICON, "China")  # also porcelain
    assert not ordinary_word(LEXICON, "Reyes")  # only the poet
    assert not ordinary_word(LEXICON, "Huawei")  # unknown
    assert not ordinary_word(None, "acme")


def test_capitalised_runs() -> None:
    text = "Nokia bought Alcatel-Lucent from the New York Times office."
    runs = list(capitalised_runs(text, ANALYZER.analyze(text)))
    written = {w for _, w in runs}
    assert {"Nokia", "Alcatel-Lucent", "New York Times", "York Times", "Times"} <= written
    assert "bought" not in written


def _article(doc_id: str, title: str | None) -> Article:
    return Article(meta=ArticleMeta(doc_id=doc_id, title=title), text="", content_hash="")


def test_subjects_are_title_lead_and_most_passages() -> None:
    texts = [
        "Acme signed a deal with Orbit in Zurich.",
        "The company said Reyes will lead it.",
        "Reyes called it a milestone.",
        "Reyes and Acme expect growth.",
    ]
    passages = [
        Passage(passage_id=f"a#{n}", doc_id="a", n=n, start=0, end=len(t), text=t)
        for n, t in enumerate(texts, start=1)
    ]
    passage_terms = [frozenset(ANALYZER.tokenize(t)) for t in texts]
    names = frozenset(terms("Acme Orbit Zurich Reyes Vega"))
    subjects = article_subjects(
        {"a": _article("a", "Vega buys stake")}, passages, passage_terms, names, ANALYZER
    )
    # Title: Vega; lead: Acme, Orbit, Zurich; most passages: Reyes.
    assert subjects["a"] == frozenset(terms("Vega Acme Orbit Zurich Reyes"))
