from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from knowledge.retrieval.tokenizer import STOPWORDS, Analyzer, default_analyzer, tokenize
from knowledge.service import KnowledgeBase, bundled_kb_dir


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


# sha256 of every token (term, offsets, surface, part) of the texts below, with and
# without word parts, as the tokenizer gave them before its hot path was rewritten
# (per-match caching, no Token objects on the index path, a fast shouting test).
_TOKENS_DIGEST = "611c641ce96d97e0b1544486a57a3bab842ea24712bafa7e53e57170e3acb732"


def test_the_fast_paths_give_the_tokens_they_always_gave() -> None:
    root = Path(__file__).resolve().parents[3]
    texts = [p.read_text(encoding="utf-8") for p in sorted(bundled_kb_dir().glob("*.txt"))]
    fixtures = root / "tests" / "knowledge" / "ingest" / "fixtures" / "scifact"
    texts += [p.read_text(encoding="utf-8") for p in sorted(fixtures.glob("*.txt"))]
    texts += [
        "THE U.S. AND IT SAID 5G",
        "Tet1 and BCL-2 in the United  States, R&D 600,000 e.g. it’s O’Neill's",
        "ÉCOLE café naïve\u0301 x",
        "WHAT IS IT? US firms",
        "fifth-generation FIFTH GENERATION",
    ]
    digest = hashlib.sha256()
    for word_parts in (False, True):
        analyzer = Analyzer(word_parts=word_parts)
        for text in texts:
            for line in [text, *text.split("\n")]:
                tokens = analyzer.analyze(line)
                digest.update(json.dumps([list(t) for t in tokens]).encode())
                assert analyzer.tokenize(line) == [t.term for t in tokens]
                if not word_parts:
                    assert analyzer.spans(line) == [(t.term, t.start, t.end) for t in tokens]
    assert digest.hexdigest() == _TOKENS_DIGEST
