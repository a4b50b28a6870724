from __future__ import annotations

import json
import re
import time

import pytest

from knowledge.models import Answer, Quote
from knowledge.retrieval.tokenizer import tokenize
from knowledge.service import KnowledgeBase

QUESTIONS = [
    "Which US companies is Huawei talking to about licensing its 5G technology?",
    "What did Pang say about the long journey?",
    "When was Huawei added to the Entity List?",
    "Would Huawei license its 5G technology to a single company?",
    "How much has Huawei spent on 5G?",
    "Is Huawei willing to share 5G chip design know-how?",
    "What did Ren say about security requirements?",
    "Alcatel-Lucent",
]
OFF_TOPIC = {
    "What is the weather in Paris?": {"weather", "Paris"},
    "best pizza recipe": {"best", "pizza", "recipe"},
    "Philips Hue video doorbell": {"Philips", "Hue", "video", "doorbell"},
    "Disney+ Marvel show": {"Disney", "Marvel", "show"},
}
PANG_DOCS = {"000_9ce69e5facb87b11", "001_f90f437b07126a50", "002_98cfeea8a68944c7"}
QUOTE_KEYS = {
    "text", "doc_id", "passage_id", "title", "publisher", "published", "date_estimated",
    "url", "start", "end", "score", "matched_terms", "also_reported_by", "expanded_terms",
}  # fmt: skip


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return KnowledgeBase.load()


def answered(kb: KnowledgeBase, question: str, top: int = 3) -> Answer:
    answer = kb.answer(question, top)
    assert answer.answered, (question, answer.reason)
    assert answer.quotes
    assert answer.reason is None
    return answer


def all_quotes(kb: KnowledgeBase) -> list[tuple[str, Quote]]:
    return [(q, quote) for q in QUESTIONS for quote in answered(kb, q, 10).quotes]


# ------------------------------------------------------------------ verbatim, attributed


def test_every_quote_is_a_verbatim_slice_of_the_cleaned_article(kb: KnowledgeBase) -> None:
    for _, quote in all_quotes(kb):
        article = kb.article(quote.doc_id)
        assert article is not None
        assert article.text[quote.start : quote.end] == quote.text
        passage = kb.snapshot.passage(quote.passage_id)
        assert passage is not None
        assert passage.doc_id == quote.doc_id
        assert (passage.start, passage.end, passage.text) == (quote.start, quote.end, quote.text)


def test_every_quote_is_attributed_from_its_article(kb: KnowledgeBase) -> None:
    for _, quote in all_quotes(kb):
        meta = kb.snapshot.articles[quote.doc_id].meta
        assert quote.title and quote.title == meta.title
        assert quote.publisher == meta.publisher
        assert quote.published is not None
        assert quote.published == meta.published
        assert quote.date_estimated is meta.date_estimated
        assert quote.url == meta.url
        assert quote.passage_id.startswith(quote.doc_id + "#")
        for ref in quote.also_reported_by:
            ref_meta = kb.snapshot.articles[ref.doc_id].meta
            assert ref.doc_id != quote.doc_id
            assert (ref.title, ref.publisher, ref.published, ref.date_estimated) == (
                ref_meta.title,
                ref_meta.publisher,
                ref_meta.published,
                ref_meta.date_estimated,
            )
            ref_passage = kb.snapshot.passage(ref.passage_id)
            assert ref_passage is not None
            assert ref_passage.doc_id == ref.doc_id


def test_quotes_are_distinct_statements(kb: KnowledgeBase) -> None:
    for question in QUESTIONS:
        quotes = answered(kb, question, 10).quotes
        shown = [q.passage_id for q in quotes]
        also = [r.passage_id for q in quotes for r in q.also_reported_by]
        assert len(shown) == len(set(shown))
        assert not set(shown) & set(also), question


def test_answers_are_deterministic(kb: KnowledgeBase) -> None:
    for question in QUESTIONS:
        assert kb.answer(question) == kb.answer(question)
    assert KnowledgeBase.load().answer(QUESTIONS[0]) == kb.answer(QUESTIONS[0])


# ------------------------------------------------------------------ corroboration


@pytest.mark.parametrize(
    "question",
    ["What did Pang say about the long journey?", "long journey", "Long journey Pang"],
)
@pytest.mark.parametrize("top", [3, 10])
def test_the_pang_statement_is_quoted_once_with_the_other_reports(
    kb: KnowledgeBase, question: str, top: int
) -> None:
    quotes = answered(kb, question, top).quotes
    pang = [q for q in quotes if "long journey" in q.text]
    assert len(pang) == 1
    (quote,) = pang
    others = {r.doc_id for r in quote.also_reported_by}
    assert len(quote.also_reported_by) == 2
    assert {quote.doc_id} | others == PANG_DOCS
    for ref in quote.also_reported_by:
        passage = kb.snapshot.passage(ref.passage_id)
        assert passage is not None
        assert "long journey" in passage.text


def test_a_statement_only_one_article_carries_has_no_other_reports(kb: KnowledgeBase) -> None:
    quote = answered(kb, "Alcatel-Lucent", 1).quotes[0]
    assert quote.doc_id.startswith("003_")
    assert quote.also_reported_by == ()


# ------------------------------------------------------------------ matched words


def test_matched_terms_and_highlights_point_at_question_words(kb: KnowledgeBase) -> None:
    for question, quote in all_quotes(kb):
        question_terms = set(tokenize(question))
        assert quote.matched_terms
        for surface in quote.matched_terms:
            assert surface.casefold() in question.casefold()
            (term,) = tokenize(surface)
            assert term in question_terms
            assert term in kb.snapshot.passage_terms[kb.snapshot.passage_pos[quote.passage_id]]
        assert quote.highlights
        matched = {t for s in quote.matched_terms for t in tokenize(s)}
        for start, end in quote.highlights:
            assert 0 <= start < end <= len(quote.text)
            assert tokenize(quote.text[start:end])[0] in matched
        # Every occurrence of a matched word is highlighted.
        occurrences = [
            (t.start, t.end) for t in kb.snapshot.analyzer.analyze(quote.text) if t.term in matched
        ]
        assert sorted(quote.highlights) == sorted(occurrences)


def test_highlights_cover_inflected_forms(kb: KnowledgeBase) -> None:
    quote = answered(kb, "Which US companies is Huawei talking to about licensing?").quotes[0]
    marked = {quote.text[s:e] for s, e in quote.highlights}
    assert {"Huawei", "licensing"} <= marked
    assert marked & {"company", "companies"}
    assert marked & {"talks", "talking"}


@pytest.mark.parametrize("question", ["Alcatel", "Lucent", "Alcatel-Lucent", "alcatel lucent"])
def test_hyphenated_names_are_found_by_each_part(kb: KnowledgeBase, question: str) -> None:
    quote = answered(kb, question, 1).quotes[0]
    assert "Alcatel-Lucent" in quote.text


@pytest.mark.parametrize("question", ["600,000", "600000", "Huawei will build 600,000"])
def test_numbers_are_found_with_or_without_grouping(kb: KnowledgeBase, question: str) -> None:
    quote = answered(kb, question, 1).quotes[0]
    assert "600,000…" in quote.text
    assert any(quote.text[s:e] == "600,000" for s, e in quote.highlights)


def test_us_spellings_give_the_same_answer(kb: KnowledgeBase) -> None:
    a = kb.answer("Which U.S. companies are talking to Huawei?")
    b = kb.answer("Which US companies are talking to Huawei?")
    assert a.answered and b.answered
    assert [q.passage_id for q in a.quotes] == [q.passage_id for q in b.quotes]


def test_a_shouted_question_gets_the_same_answer(kb: KnowledgeBase) -> None:
    question = "What did Pang say about the long journey?"
    quiet, loud = kb.answer(question), kb.answer(question.upper())
    assert loud.answered
    assert [q.passage_id for q in loud.quotes] == [q.passage_id for q in quiet.quotes]


# ------------------------------------------------------------------ top


@pytest.mark.parametrize("top", range(1, 11))
def test_top_is_respected(kb: KnowledgeBase, top: int) -> None:
    # Almost every passage mentions Huawei, so there are more than ten to choose from.
    assert len(answered(kb, "Huawei", top).quotes) == top


@pytest.mark.parametrize(("top", "most"), [(0, 1), (-3, 1), (11, 10), (1000, 10)])
def test_top_out_of_range_is_clamped(kb: KnowledgeBase, top: int, most: int) -> None:
    assert 1 <= len(answered(kb, "Huawei", top).quotes) <= most


def test_default_top_is_three(kb: KnowledgeBase) -> None:
    assert len(answered(kb, "Huawei").quotes) == 3


# ------------------------------------------------------------------ refusals


@pytest.mark.parametrize("question", sorted(OFF_TOPIC))
def test_off_topic_questions_are_refused(kb: KnowledgeBase, question: str) -> None:
    answer = kb.answer(question)
    assert answer.answered is False
    assert answer.quotes == ()
    assert answer.reason
    assert set(answer.unmatched_terms) == OFF_TOPIC[question]
    assert any(f"“{w}”" in answer.reason for w in OFF_TOPIC[question])


@pytest.mark.parametrize("question", sorted(OFF_TOPIC))
def test_refusal_reason_names_every_unmatched_word(kb: KnowledgeBase, question: str) -> None:
    reason = kb.answer(question).reason
    assert reason is not None
    for word in OFF_TOPIC[question]:
        assert f"“{word}”" in reason, (word, reason)


@pytest.mark.parametrize(
    "question",
    [
        "What is the weather like?",
        "What time is it?",
        "Is it going to rain?",
        "What is the capital of Australia?",
    ],
)
def test_one_common_word_in_common_does_not_make_an_answer(
    kb: KnowledgeBase, question: str
) -> None:
    # "like", "time", "going", "Australia" occur in the articles, but nothing there answers
    # these; quoting a passage for one incidental word is a wrong answer, not a weak one.
    answer = kb.answer(question)
    assert answer.answered is False, [q.text for q in answer.quotes]


@pytest.mark.parametrize(
    "question",
    [
        "McCaskill resident mobile industry expert",
        "Andor season 2 trailer",
        "Sign up to the E&T News e-mail",
        "IET cookies",
        "Meta Quest 3 headset",
        "Philips Hue",
    ],
)
def test_page_furniture_is_not_answerable(kb: KnowledgeBase, question: str) -> None:
    assert kb.answer(question).answered is False


@pytest.mark.parametrize(
    "question", ["", "   ", "\n\t", "what is the", "What did they say about it?", "?!"]
)
def test_empty_or_stopword_only_question_gets_a_usage_hint(
    kb: KnowledgeBase, question: str
) -> None:
    answer = kb.answer(question)
    assert answer.answered is False
    assert answer.quotes == ()
    assert answer.reason
    assert answer.hint
    assert "Huawei" in answer.hint  # an example question the knowledge base can answer


def test_shouted_stopwords_are_still_only_stopwords(kb: KnowledgeBase) -> None:
    quiet, loud = kb.answer("what is the?"), kb.answer("WHAT IS THE?")
    assert loud.answered is False
    assert (loud.reason, loud.hint, loud.unmatched_terms) == (
        quiet.reason,
        quiet.hint,
        quiet.unmatched_terms,
    )


@pytest.mark.parametrize("question", ["🙂🚀", "🙂 🚀 🎉 👍🏽", "🇺🇸❤️"])
def test_emoji_only_question_is_not_a_crash(kb: KnowledgeBase, question: str) -> None:
    answer = kb.answer(question)
    assert answer.answered is False
    assert answer.hint


def test_emoji_are_ignored_around_real_words(kb: KnowledgeBase) -> None:
    plain = kb.answer("long journey")
    decorated = kb.answer("🙂 long 🚀 journey 🎉")
    assert decorated.answered
    assert [q.passage_id for q in decorated.quotes] == [q.passage_id for q in plain.quotes]


def test_a_huge_question_is_truncated_quickly(kb: KnowledgeBase) -> None:
    question = ("What did Pang say about the long journey? " * 300)[:10_000]
    assert len(question) == 10_000
    started = time.perf_counter()
    answer = kb.answer(question)
    assert time.perf_counter() - started < 1.0
    assert answer.truncated is True
    assert answer.answered
    assert answer.to_json_dict()  # still serialisable


def test_a_huge_unbroken_word_is_truncated_quickly(kb: KnowledgeBase) -> None:
    started = time.perf_counter()
    answer = kb.answer("x" * 10_000)
    assert time.perf_counter() - started < 1.0
    assert answer.truncated is True
    assert answer.answered is False


def test_a_normal_question_is_not_truncated(kb: KnowledgeBase) -> None:
    assert kb.answer(QUESTIONS[0]).truncated is False


# ------------------------------------------------------------------ version and JSON


def test_kb_version_is_stable_and_a_16_hex_hash(kb: KnowledgeBase) -> None:
    assert re.fullmatch(r"[0-9a-f]{16}", kb.kb_version)
    assert KnowledgeBase.load().kb_version == kb.kb_version
    for question in [QUESTIONS[0], "best pizza recipe", ""]:
        assert kb.answer(question).kb_version == kb.kb_version


def test_json_shape_is_exactly_the_contract(kb: KnowledgeBase) -> None:
    for question in [*QUESTIONS, *OFF_TOPIC, "", "x" * 10_000]:
        data = kb.answer(question, 10).to_json_dict()
        assert set(data) == {"question", "answered", "reason", "kb_version", "quotes"}
        assert isinstance(data["quotes"], list)
        for quote in data["quotes"]:
            assert set(quote) == QUOTE_KEYS
            for ref in quote["also_reported_by"]:
                assert set(ref) == {"doc_id", "passage_id", "title", "publisher"}
        assert json.loads(json.dumps(data)) == data


def test_json_values(kb: KnowledgeBase) -> None:
    answer = answered(kb, "What did Pang say about the long journey?")
    data = answer.to_json_dict()
    assert data["question"] == "What did Pang say about the long journey?"
    assert data["answered"] is True
    assert data["reason"] is None
    assert data["kb_version"] == kb.kb_version
    quotes = data["quotes"]
    assert isinstance(quotes, list)
    first = quotes[0]
    quote = answer.quotes[0]
    assert first["text"] == quote.text
    assert quote.published is not None
    assert first["published"] == quote.published.isoformat()
    assert first["matched_terms"] == list(quote.matched_terms)
    assert isinstance(first["score"], float)
    assert (first["start"], first["end"]) == (quote.start, quote.end)


def test_json_of_a_refusal(kb: KnowledgeBase) -> None:
    data = kb.answer("best pizza recipe").to_json_dict()
    assert data["answered"] is False
    assert data["quotes"] == []
    assert isinstance(data["reason"], str)
    assert "pizza" in data["reason"]
