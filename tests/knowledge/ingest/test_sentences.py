from __future__ import annotations

import pytest

from knowledge.ingest.sentences import split_sentences
from knowledge.service import KnowledgeBase


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One sentence. Another one.", ["One sentence.", "Another one."]),
        ("Is it? Yes! Fine.", ["Is it?", "Yes!", "Fine."]),
        ("Mr. Smith met Dr. Jones. They talked.", ["Mr. Smith met Dr. Jones.", "They talked."]),
        ("John F. Kennedy spoke. Then left.", ["John F. Kennedy spoke.", "Then left."]),
        (
            "Firms in the U.S. have expressed interest. The executive declined.",
            ["Firms in the U.S. have expressed interest.", "The executive declined."],
        ),
        ("Growth was 3.5 percent. Next year more.", ["Growth was 3.5 percent.", "Next year more."]),
        ("e.g. this stays whole. Next.", ["e.g. this stays whole.", "Next."]),
        ("Approx. 5 firms agreed.", ["Approx. 5 firms agreed."]),
        ("He said “yes.” Then he left.", ["He said “yes.”", "Then he left."]),
        ("“They have shown interest,” he added. “It is early.”", [
            "“They have shown interest,” he added.", "“It is early.”"]),
        ("all have declared more… The next line.", ["all have declared more…", "The next line."]),
        ("It costs $10. Then more.", ["It costs $10.", "Then more."]),
        ("(Reuters) He said. (The end.)", ["(Reuters) He said.", "(The end.)"]),
    ],
)  # fmt: skip
def test_splits_at_sentence_ends_only(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_a_line_break_ends_a_sentence_without_a_full_stop() -> None:
    assert sentences("A headline without a stop\nThe body starts here.") == [
        "A headline without a stop",
        "The body starts here.",
    ]


def test_paragraphs_never_share_a_sentence() -> None:
    assert sentences("Para one ends here\n\nand para two starts here.") == [
        "Para one ends here",
        "and para two starts here.",
    ]


def test_spans_are_trimmed_and_verbatim() -> None:
    text = "  padded sentence.   Another one.  \n\n  Third\tone.  "
    spans = split_sentences(text)
    assert [text[s:e] for s, e in spans] == ["padded sentence.", "Another one.", "Third\tone."]
    for s, e in spans:
        assert text[s:e] == text[s:e].strip()


@pytest.mark.parametrize("text", ["", "   ", "\n\n\n", " \t\n \n"])
def test_blank_text_has_no_sentences(text: str) -> None:
    assert split_sentences(text) == []


def test_bundled_articles_split_into_ordered_disjoint_spans() -> None:
    snap = KnowledgeBase.load().snapshot
    for article in snap.articles.values():
        spans = split_sentences(article.text)
        assert spans
        prev_end = 0
        for s, e in spans:
            assert prev_end <= s < e <= len(article.text)
            piece = article.text[s:e]
            assert piece == piece.strip()
            prev_end = e
        # Everything outside the spans is whitespace: no words are lost.
        covered = "".join(article.text[s:e] for s, e in spans)
        assert "".join(covered.split()) == "".join(article.text.split())


def test_us_initialism_does_not_cut_the_bundled_lead_sentence() -> None:
    article = KnowledgeBase.load().article("001_f90f437b07126a50")
    assert article is not None
    s, e = split_sentences(article.text)[0]
    assert article.text[s:e].endswith("citing a company executive.")
    assert "a number of U.S. telecommunications firm" in article.text[s:e]
