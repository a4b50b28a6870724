"""The Analyzer's ``word_parts`` option: hyphen joins and letter/digit runs, with offsets."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from knowledge.retrieval.tokenizer import Analyzer, Token, default_analyzer, tokenize

PARTS = Analyzer(word_parts=True)


def spans(text: str, analyzer: Analyzer = PARTS) -> list[tuple[str, str, bool]]:
    """(term, the text the token points at, part) for every token of ``text``."""
    return [(t.term, text[t.start : t.end], t.part) for t in analyzer.analyze(text)]


def test_mixed_terms_are_followed_by_their_runs() -> None:
    assert PARTS.tokenize("Silencing BCL-2 and Tet1") == [
        "silenc", "bcl2", "bcl", "2", "tet1", "tet", "1",
    ]  # fmt: skip
    assert PARTS.tokenize("3.5") == ["3.5", "3", "5"]
    assert PARTS.tokenize("R&D") == ["r&d", "r", "d"]


def test_spellings_of_one_name_meet() -> None:
    assert PARTS.tokenize("BCL-2") == PARTS.tokenize("Bcl2") == PARTS.tokenize("bcl2")
    assert set(PARTS.tokenize("TET")) < set(PARTS.tokenize("Tet1"))
    assert set(PARTS.tokenize("COVID")) < set(PARTS.tokenize("COVID-19"))


def test_terms_without_mixed_runs_are_unchanged() -> None:
    text = "Huawei’s R&D in the U.S. costs 600,000 🚀 Alcatel-Lucent, licensing"
    plain = Analyzer()
    assert [t for t in PARTS.analyze(text) if not t.part] == plain.analyze(text)
    assert [t.term for t in PARTS.analyze(text) if t.part] == ["r", "d"]
    assert PARTS.tokenize("Alcatel-Lucent well-known") == plain.tokenize(
        "Alcatel-Lucent well-known"
    )
    assert PARTS.tokenize("600,000") == ["600000"]


def test_a_hyphen_join_spans_the_whole_surface_and_parts_their_own_runs() -> None:
    text = "Silencing BCL-2 and Tet1"
    assert spans(text) == [
        ("silenc", "Silencing", False),
        ("bcl2", "BCL-2", False),
        ("bcl", "BCL", True),
        ("2", "2", True),
        ("tet1", "Tet1", False),
        ("tet", "Tet", True),
        ("1", "1", True),
    ]
    bcl2 = PARTS.analyze(text)[1]
    assert bcl2 == Token("bcl2", 10, 15, "BCL-2")


def test_offsets_stay_right_after_several_joins() -> None:
    text = "A-1, then B-22 (with C-333) and COVID-19's spread"
    tokens = PARTS.analyze(text)
    for t in tokens:
        assert text[t.start : t.end] == t.surface
    whole = [(t.term, t.surface) for t in tokens if not t.part]
    assert whole == [
        ("a1", "A-1"),
        ("b22", "B-22"),
        ("c333", "C-333"),
        ("covid19", "COVID-19"),  # the possessive is not part of the term
        ("spread", "spread"),
    ]
    assert ("333", "333", True) in spans(text)
    assert ("covid", "COVID", True) in spans(text)


def test_a_term_not_spelled_in_its_surface_gives_parts_the_whole_span() -> None:
    text = "fifth-generation networks"
    assert spans(text)[:3] == [
        ("5g", "fifth-generation", False),
        ("5", "fifth-generation", True),
        ("g", "fifth-generation", True),
    ]


def test_parts_of_normalised_surfaces_point_at_the_original_characters() -> None:
    text = "Ｔｅｔ１ and straße2"
    assert spans(text) == [
        ("tet1", "Ｔｅｔ１", False),
        ("tet", "Ｔｅｔ", True),
        ("1", "１", True),
        ("strasse2", "straße2", False),
        ("strasse", "straße", True),
        ("2", "2", True),
    ]


def test_the_option_is_part_of_the_signature() -> None:
    assert PARTS.signature != Analyzer().signature
    assert PARTS.signature == Analyzer(word_parts=True).signature
    assert Analyzer(word_parts=False).signature == Analyzer().signature


def test_the_default_analyzer_keeps_words_whole() -> None:
    assert not default_analyzer().word_parts
    assert tokenize("Tet1") == ["tet1"]
    assert tokenize("BCL-2") == ["bcl", "2"]
    assert not any(t.part for t in default_analyzer().analyze("Silencing BCL-2 and Tet1 in 5G"))


def test_word_parts_are_thread_safe() -> None:
    text = "Silencing BCL-2 and Tet-1 in U.S. labs; 3.5 fifth-generation R&D "
    expected = {n: Analyzer(word_parts=True).analyze(text * n) for n in (1, 2, 3)}
    shared = Analyzer(word_parts=True)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: shared.analyze(text * (1 + i % 3)), range(200)))
    for i, result in enumerate(results):
        assert result == expected[1 + i % 3]
