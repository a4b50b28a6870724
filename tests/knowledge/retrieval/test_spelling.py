"""Typos: the article word a mistyped question word most likely meant."""

from __future__ import annotations

import pytest

from knowledge.retrieval.spelling import Speller, osa_distance

WORDS = {
    "huawei": "huawei",
    "ericsson": "ericsson",
    "acquired": "acquir",
    "acquir": "acquir",
    "license": "licens",
    "licenses": "licens",
    "nokia": "nokia",
    "patent": "patent",
    "patents": "patent",
}
DF = {"huawei": 40, "ericsson": 5, "acquir": 1, "licens": 18, "nokia": 5, "patent": 3}


def speller() -> Speller:
    return Speller(WORDS.items)


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("huawei", "huawei", 0),
        ("hauwei", "huawei", 1),  # a swap counts once
        ("huawie", "huawei", 1),
        ("huwei", "huawei", 1),
        ("erricson", "ericsson", 2),
        ("nokai", "nokia", 1),
        ("abc", "xyz", 3),
    ],
)
def test_osa_distance(a: str, b: str, distance: int) -> None:
    assert osa_distance(a, b, limit=3) == distance


def test_distance_stops_early_past_the_limit() -> None:
    assert osa_distance("abcdefgh", "zyxwvuts", limit=1) == 2
    assert osa_distance("a", "abcdef", limit=2) == 3


@pytest.mark.parametrize(
    ("typed", "word", "term"),
    [
        ("Hauwei", "huawei", "huawei"),
        ("Erricson", "ericsson", "ericsson"),  # eight letters: two edits allowed
        ("licnese", "license", "licens"),
        ("aquir", "acquir", "acquir"),  # stem to stem
        ("Nokai", "nokia", "nokia"),
    ],
)
def test_typos_are_taken_for_the_article_word(typed: str, word: str, term: str) -> None:
    assert speller().correct(typed, lambda t: DF.get(t, 0)) == (word, term)


@pytest.mark.parametrize("typed", ["pizza", "hue", "nokiaa5", "x" * 40, "zzzzzz", "patnts4"])
def test_no_guess_for_short_far_or_odd_words(typed: str) -> None:
    assert speller().correct(typed, lambda t: DF.get(t, 0)) is None


def test_the_commoner_of_two_equally_close_words_wins() -> None:
    # "pattent" is one edit from both.
    words = {"patent": "patent", "patient": "patient"}
    s = Speller(words.items)
    assert s.correct("pattent", {"patent": 1, "patient": 9}.__getitem__) == ("patient", "patient")
    assert s.correct("pattent", {"patent": 9, "patient": 1}.__getitem__) == ("patent", "patent")


def test_the_index_is_built_once_on_first_use() -> None:
    calls = []

    def source() -> list[tuple[str, str]]:
        calls.append(1)
        return list(WORDS.items())

    s = Speller(source)
    assert calls == []
    s.correct("hauwei", lambda t: 1)
    s.correct("nokai", lambda t: 1)
    assert calls == [1]


def test_compounds_ending_in_a_word() -> None:
    words = {
        "livestreamed": "livestream",
        "restreamed": "restream",
        "streamed": "stream",
        "smartphones": "smartphon",
    }
    s = Speller(words.items)
    assert s.compounds("Streamed") == [("livestreamed", "livestream")]  # "re" is no word
    assert s.compounds("phones") == [("smartphones", "smartphon")]
    assert s.compounds("ream") == []  # too short to look for
    assert s.compounds("martphones") == []  # "s" is no first part
    assert s.compounds("nothing") == []
