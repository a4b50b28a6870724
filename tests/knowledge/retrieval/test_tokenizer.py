from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from knowledge.retrieval.tokenizer import STOPWORDS, Analyzer, default_analyzer, tokenize
from knowledge.service import KnowledgeBase


def test_default_analyzer_is_one_shared_instance() -> None:
    assert default_analyzer() is default_analyzer()
    assert tokenize("Huawei licenses 5G") == default_analyzer().tokenize("Huawei licenses 5G")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Huawei", "huawei"),
        ("Huawei", "HUAWEI"),
        ("Licensing", "licensing"),
        ("STRASSE", "straße"),  # casefold, not lower(): ß folds to ss
        ("Ｈｕａｗｅｉ", "Huawei"),  # NFKC: full-width letters
        ("ﬁnance", "finance"),  # NFKC: the fi ligature
        ("５Ｇ", "5G"),  # NFKC: full-width digits
        ("café", "CAFÉ"),
    ],
)
def test_case_and_unicode_variants_meet(a: str, b: str) -> None:
    assert tokenize(a) == tokenize(b)
    assert tokenize(a)


def test_decomposed_accents_meet_precomposed() -> None:
    # A question typed with a combining accent (NFD, as some keyboards produce) must find
    # the NFC text of the articles: normalisation has to happen before words are cut.
    nfd = "cafe\u0301 nai\u0308ve"
    nfc = "café naïve"
    assert tokenize(nfd) == tokenize(nfc)


def test_5g_is_one_term_in_any_case() -> None:
    assert tokenize("5G") == ["5g"]
    assert tokenize("5g") == ["5g"]
    assert "5g" in tokenize("Huawei's 5G network technology")


@pytest.mark.parametrize("spelling", ["U.S.", "US", "u.s."])
def test_us_spellings_meet(spelling: str) -> None:
    assert tokenize(spelling) == tokenize("US")
    assert tokenize(f"{spelling} companies") == tokenize("US companies")


def test_dotted_initialism_inside_a_sentence() -> None:
    assert tokenize("U.S.-made equipment")[0] == tokenize("US")[0]
    assert tokenize("a number of U.S. telecommunications firm") == tokenize(
        "number US telecommunications firm"
    )


def test_lowercase_us_is_the_pronoun_and_is_dropped() -> None:
    assert tokenize("talking to us") == tokenize("talking")
    assert tokenize("US") != []


@pytest.mark.parametrize("acronym", ["US", "IT", "AT", "WHO"])
def test_all_caps_acronyms_survive_even_when_they_spell_a_stopword(acronym: str) -> None:
    assert acronym.casefold() in STOPWORDS
    assert tokenize(acronym) == [acronym.casefold()]


def test_r_and_d_is_one_term() -> None:
    assert tokenize("R&D") == ["r&d"]
    assert tokenize("r&d") == tokenize("R&D")
    assert tokenize("invest billions in R&D to update").count("r&d") == 1
    assert tokenize("AT&T") == ["at&t"]


def test_hyphenated_name_is_findable_by_each_part_and_whole() -> None:
    terms = tokenize("since Nokia acquired Alcatel-Lucent in November 2016")
    for query in ("Alcatel", "Lucent", "Alcatel-Lucent", "alcatel lucent"):
        q = tokenize(query)
        assert q
        assert set(q) <= set(terms), query


def test_grouped_numbers_meet_ungrouped() -> None:
    assert tokenize("600,000") == tokenize("600000")
    assert tokenize("it will build 600,000")[-1] == tokenize("600000")[0]
    assert tokenize("3.5") == ["3.5"]
    assert tokenize("3.5") != tokenize("35")


def test_stopwords_are_dropped() -> None:
    assert tokenize("what is the") == []
    assert tokenize("What did they say about it?") == []
    assert tokenize("What is the licence fee?") == tokenize("licence fee")


def test_emoji_and_symbols_are_ignored() -> None:
    assert tokenize("🙂🚀🎉") == []
    assert tokenize("Huawei 🚀 5G ✨") == tokenize("Huawei 5G")
    assert tokenize("👍🏽 ❤️ 🇺🇸") == []
    assert tokenize("Disney+ !!! ???") == tokenize("Disney")


def test_possessives_and_curly_apostrophes() -> None:
    assert tokenize("Huawei’s") == tokenize("Huawei's") == tokenize("Huawei")
    assert tokenize("Ren’s offer") == tokenize("Ren offer")


def test_inflections_share_a_stem() -> None:
    assert len(set(tokenize("licensing licensed licenses license"))) == 1
    assert len(set(tokenize("company companies"))) == 1


def test_analyze_keeps_surface_offsets() -> None:
    text = "Huawei’s R&D in the U.S. costs 600,000 🚀 Alcatel-Lucent."
    tokens = default_analyzer().analyze(text)
    assert [t.surface for t in tokens] == [
        "Huawei", "R&D", "U.S.", "costs", "600,000", "Alcatel", "Lucent",
    ]  # fmt: skip
    for t in tokens:
        assert text[t.start : t.end] == t.surface
    assert [t.term for t in tokens] == tokenize(text)


def test_a_stopword_free_analyzer_keeps_stopwords() -> None:
    plain = Analyzer(stopwords=frozenset(), stem=False)
    assert plain.tokenize("What is the plan") == ["what", "is", "the", "plan"]


def test_analyzer_is_thread_safe() -> None:
    text = "Huawei is licensing its 5G technology to U.S. companies, investing in R&D."
    expected = Analyzer().tokenize(text)
    shared = Analyzer()
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: shared.tokenize(text), range(200)))
    assert all(r == expected for r in results)


def test_index_and_questions_use_the_same_tokens() -> None:
    snap = KnowledgeBase.load().snapshot
    assert snap.analyzer is default_analyzer()
    for i, passage in enumerate(snap.passages):
        assert snap.passage_terms[i] == frozenset(tokenize(passage.text))
    # A question made of a passage's own words finds that passage's terms exactly.
    passage = snap.passages[0]
    assert frozenset(snap.analyzer.tokenize(passage.text)) == snap.passage_terms[0]
