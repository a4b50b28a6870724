"""The answer engine's mechanisms of issue 15, on a small made-up knowledge base.

Each test names the mechanism it pins down: expansion (and its lower weight), article
context, multi-word names, attribute questions, answer types, typos and the knowledge
base's own synonyms (applied on reload).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from answer_kb import make_answer_kb

from knowledge.answering.answer import AnswerWeights, compose_answer
from knowledge.answering.answer_types import has_number
from knowledge.answering.forms import writes_form, writes_weak_word
from knowledge.answering.locality import holds_in_sentence
from knowledge.answering.misspelt import writes_misspelt
from knowledge.models import Answer, Refusal
from knowledge.retrieval.expansion import Expansion, Source
from knowledge.service import KBInvalid, KnowledgeBase


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    return KnowledgeBase.load(make_answer_kb(tmp_path_factory.mktemp("kb")))


def first(answer: Answer) -> str:
    assert answer.answered, answer.reason
    return answer.quotes[0].passage_id


def expanded(answer: Answer) -> list[tuple[str, str]]:
    return [(e.term, e.for_term) for q in answer.quotes for e in q.expanded_terms]


# ------------------------------------------------------------------ expansion


def test_a_synonym_answers_and_says_what_it_stood_for(kb: KnowledgeBase) -> None:
    answer = kb.answer("When did Acme buy Brightline?")
    assert first(answer) == "alpha#1"
    quote = answer.quotes[0]
    assert "buy" not in quote.matched_terms  # the article never writes "buy"
    assert set(quote.matched_terms) == {"Acme", "Brightline"}
    assert [e.for_term for e in quote.expanded_terms] == ["buy"]
    assert quote.expanded_terms[0].term in quote.text


def test_without_expansion_the_same_question_finds_less(kb: KnowledgeBase) -> None:
    question = "Does the firm expect licensing revenue growth?"
    with_lexicon = compose_answer(kb.snapshot, question)
    without = compose_answer(kb.snapshot, question, weights=AnswerWeights(expand=False))
    assert first(with_lexicon) == "alpha#3"
    assert ("grow", "growth") in expanded(with_lexicon)
    assert expanded(without) == []


def test_an_expansion_weighs_less_than_the_askers_word(kb: KnowledgeBase) -> None:
    # alpha#1 holds "purchase": the asker's own word in one question, a synonym of "buy"
    # in the other. It ranks with less weight, and covers less of the question.
    own = compose_answer(kb.snapshot, "Brightline purchase")
    other = compose_answer(kb.snapshot, "Brightline buy")
    assert first(own) == first(other) == "alpha#1"
    assert own.quotes[0].score > other.quotes[0].score
    strict = AnswerWeights(min_coverage=0.9)
    assert compose_answer(kb.snapshot, "Brightline purchase", weights=strict).answered
    assert not compose_answer(kb.snapshot, "Brightline buy", weights=strict).answered


def test_a_class_word_finds_a_named_thing_of_that_class(kb: KnowledgeBase) -> None:
    # "Zurich" is a city to the lexicon; the passage never says "city".
    answer = kb.answer("Which city did the Acme deal close in?")
    assert first(answer) == "alpha#2"
    assert ("Zurich", "city") in expanded(answer)


def test_names_are_never_expanded(kb: KnowledgeBase) -> None:
    # "acme" is an English word for a peak; in these articles it is a name, and a
    # passage saying "peak" would not be about it.
    answer = kb.answer("Acme patents")
    assert answer.answered
    assert all(e.for_term != "Acme" for q in answer.quotes for e in q.expanded_terms)


# ------------------------------------------------------------------ article context


def test_the_article_subject_counts_in_passages_that_say_the_company(kb: KnowledgeBase) -> None:
    # alpha#3 says "The company expects …": Acme is the article's subject (its title).
    assert "Acme" not in kb.snapshot.passages[2].text
    answer = kb.answer("Does Acme expect revenue to grow?")
    assert first(answer) == "alpha#3"
    assert "Acme" not in answer.quotes[0].matched_terms


def test_the_subject_of_another_article_does_not_count(kb: KnowledgeBase) -> None:
    # Orbit is beta's subject, not alpha's: alpha#3 does not answer about Orbit.
    answer = kb.answer("Does Orbit expect revenue to grow?")
    assert all(q.doc_id != "alpha" for q in answer.quotes)


def test_subjects_come_from_title_lead_and_most_passages(kb: KnowledgeBase) -> None:
    subjects = kb.snapshot.subjects
    analyzer = kb.snapshot.analyzer
    assert set(analyzer.tokenize("Acme Brightline")) <= subjects["alpha"]
    assert set(analyzer.tokenize("Orbit")) <= subjects["beta"]
    assert not set(analyzer.tokenize("Zurich Europe")) & subjects["alpha"]


# ------------------------------------------------------------------ multi-word names


def test_a_multi_word_name_no_article_writes_is_refused_naming_it(kb: KnowledgeBase) -> None:
    # "world" and "cup" are both in beta#2, never as "World Cup".
    answer = kb.answer("What did Acme say at the World Cup?")
    assert answer.answered is False
    assert answer.reason == "Not in the knowledge base: no article mentions “World Cup”."
    assert answer.refusal is Refusal.UNKNOWN_NAME
    assert "World Cup" in answer.unmatched_terms


def test_a_multi_word_name_the_articles_write_is_answered(kb: KnowledgeBase) -> None:
    answer = kb.answer("Who runs Brightline Systems?")
    assert first(answer) == "alpha#1"


def test_names_side_by_side_must_be_written_together(kb: KnowledgeBase) -> None:
    # Both are names of the articles, never next to each other: not one name.
    assert kb.answer("What did Orbit Zurich say?").answered is False


# ------------------------------------------------------------------ attribute questions


def test_an_attribute_must_be_in_the_quoted_passage(kb: KnowledgeBase) -> None:
    answer = kb.answer("What is the royalty rate of Orbit?")
    assert first(answer) == "beta#3"
    # beta#1 is about Orbit's modems, but says nothing of revenue (alpha#3 does, of Acme).
    refused = kb.answer("What is Orbit's modem revenue?")
    assert refused.answered is False
    assert refused.reason == (
        "Not in the knowledge base: no passage about “Orbit” says anything of “modem revenue”."
    )
    assert refused.refusal is Refusal.ABSENT_ATTRIBUTE
    assert refused.refusal.not_in_kb


# ------------------------------------------------------------------ answer types


def test_when_prefers_the_passage_with_a_date(kb: KnowledgeBase) -> None:
    # alpha#1 ("in March 2018") and alpha#2 (the deal) carry as much of the question.
    question = "When did Acme deal with Brightline?"
    assert first(kb.answer(question)) == "alpha#1"
    untyped = compose_answer(kb.snapshot, question, weights=AnswerWeights(type_bonus=0.0))
    assert first(untyped) == "alpha#2"


def test_a_number_counts_only_in_a_sentence_about_what_is_asked(kb: KnowledgeBase) -> None:
    # alpha#1: "Acme … acquired Brightline … for 400 million dollars. The purchase doubles
    # the patents Acme holds." The number is in the first sentence only.
    snap = kb.snapshot
    i = next(n for n, p in enumerate(snap.passages) if p.passage_id == "alpha#1")
    text = snap.passages[i].text
    terms = {t.term for t in snap.analyzer.analyze("patents purchase acquired")}
    patents, acquired = (snap.analyzer.analyze(w)[0].term for w in ("patents", "acquired"))
    assert holds_in_sentence(snap, i, text, {patents}, has_number) is False
    assert holds_in_sentence(snap, i, text, {acquired}, has_number) is True
    assert holds_in_sentence(snap, i, text, terms, has_number) is True
    assert holds_in_sentence(snap, i, text, set(), has_number) is False


def test_when_without_any_date_is_refused_saying_so(kb: KnowledgeBase) -> None:
    answer = kb.answer("When did Orbit open its modem patents?")
    assert answer.answered is False
    assert answer.reason is not None
    assert answer.reason.endswith("gives a date.")
    assert answer.refusal is Refusal.NO_ANSWER_TYPE
    assert answer.refusal.not_in_kb


def test_how_much_wants_a_number(kb: KnowledgeBase) -> None:
    assert first(kb.answer("How much did Acme pay for Brightline?")) == "alpha#1"
    assert kb.answer("How much is the Orbit royalty rate?").answered is False


def test_a_number_the_question_gives_is_no_answer_to_how_much(kb: KnowledgeBase) -> None:
    # gamma#1 holds "Loaf 9": the 9 is part of the name asked about, not a price.
    answer = kb.answer("How much does a Loaf 9 recipe licence cost?")
    assert answer.answered is False
    assert answer.reason is not None
    assert answer.reason.endswith("gives a number.")


def test_a_broader_term_alone_is_no_term_in_common() -> None:
    # "headquartered" -> broader "provide" -> "providers": one name and a broader word
    # are not the two terms a passage must share.
    bundled = KnowledgeBase.load().snapshot
    question = "Where is Ericsson headquartered?"
    assert compose_answer(bundled, question, weights=AnswerWeights(shared_credit=0.0)).answered
    assert not compose_answer(bundled, question).answered


def test_a_bare_name_gets_the_passage_introducing_it(kb: KnowledgeBase) -> None:
    assert first(kb.answer("Reyes?")) == "alpha#2"
    assert first(kb.answer("who is dana reyes")) == "alpha#2"


# ------------------------------------------------------------------ typos


def test_a_typo_is_taken_for_the_article_word(kb: KnowledgeBase) -> None:
    answer = kb.answer("When did Acme aqcuire Brightline?")
    assert first(answer) == "alpha#1"
    assert ("acquired", "aqcuire") in expanded(answer)


def test_a_real_word_the_articles_lack_is_not_corrected(kb: KnowledgeBase) -> None:
    # "pizza" is an English word: it is not taken for anything, and nothing answers.
    answer = kb.answer("pizza franchisees")
    assert answer.answered is False or all(
        e.for_term != "pizza" for q in answer.quotes for e in q.expanded_terms
    )


def test_an_unknown_name_close_to_a_known_one_is_corrected(kb: KnowledgeBase) -> None:
    answer = kb.answer("What did Brightlyne Systems do?")
    assert answer.answered
    assert ("Brightline", "Brightlyne") in expanded(answer)


# ------------------------------------------------------------------ the KB's own synonyms


def test_kb_synonyms_apply_and_change_on_reload(tmp_path: Path) -> None:
    # Made-up words: neither the articles nor the lexicon know them.
    root = make_answer_kb(tmp_path / "kb", synonyms=["zorblat => widget"])
    kb = KnowledgeBase.load(root)
    answer = kb.answer("zorblats from Acme")
    assert first(answer) == "alpha#1"
    assert ("Widgets", "zorblats") in expanded(answer)
    # Explicit rules go one way: "widget" has no entry.
    assert kb.snapshot.synonyms.lookup(("widget",)) == ()

    make_answer_kb(root, synonyms=["quibbet, widget"])
    kb.reload()
    assert kb.answer("zorblats from Acme").answered is False
    assert ("Widgets", "quibbet") in expanded(kb.answer("quibbet from Acme"))
    assert kb.snapshot.synonyms.lookup(("widget",)) == ((("quibbet",), "quibbet"),)

    # A broken rule refuses the reload; the old rules keep serving.
    make_answer_kb(root, synonyms=["quibbet"])
    with pytest.raises(KBInvalid, match="synonym rule 'quibbet'"):
        kb.reload()
    assert ("Widgets", "quibbet") in expanded(kb.answer("quibbet from Acme"))


def test_kb_synonyms_give_names_other_names(tmp_path: Path) -> None:
    kb = KnowledgeBase.load(make_answer_kb(tmp_path / "kb", synonyms=["BLS => Brightline"]))
    answer = kb.answer("When did Acme buy BLS?")
    assert first(answer) == "alpha#1"
    assert ("Brightline", "BLS") in expanded(answer)
    # Without the rule, a name no article writes is refused, naming it.
    plain = KnowledgeBase.load(make_answer_kb(tmp_path / "plain"))
    refused = plain.answer("When did Acme buy BLS?")
    assert refused.answered is False
    assert refused.reason == "Not in the knowledge base: no article mentions “buy” and “BLS”."


# ------------------------------------------------------------------ "why": the reason follows


def _reason_kb(root: Path) -> KnowledgeBase:
    root.mkdir()
    (root / "merger.txt").write_text(
        "Regulators in Freedonia rejected the Orbit merger with Acme last week.\n\n"
        "“The combined group would hold every modem patent in the land,” said the chair.\n\n"
        "Orbit plans to appeal the decision in court.\n",
        encoding="utf-8",
    )
    (root / "other.txt").write_text(
        "Zenith Foods licensed its bread recipes to franchisees.\n\n"
        "The franchise fee will be waived for bakeries that open early.\n",
        encoding="utf-8",
    )
    return KnowledgeBase.load(root)


def test_why_quotes_the_passage_after_the_statement(tmp_path: Path) -> None:
    kb = _reason_kb(tmp_path / "kb")
    question = "Why did the regulators reject the Orbit merger?"
    answer = kb.answer(question)
    assert [q.passage_id for q in answer.quotes][:2] == ["merger#1", "merger#2"]
    # Not for other questions, and not without the rule.
    plain = kb.answer("What did the regulators do about the Orbit merger?")
    assert "merger#2" not in [q.passage_id for q in plain.quotes]
    without = compose_answer(kb.snapshot, question, weights=AnswerWeights(reason_follows=False))
    assert "merger#2" not in [q.passage_id for q in without.quotes]


# ------------------------------------------------------------------ a stem is not a word


def test_another_word_counts_only_where_the_passage_writes_its_family(tmp_path: Path) -> None:
    # "conversation" (for "talks") and "conversion" share the stem convers; "discussion"
    # and "discussed" are one family.
    root = tmp_path / "kb"
    root.mkdir()
    (root / "a.txt").write_text(
        "Orbit offered Acme a one-time conversion of its modem patents.\n\n"
        "Zenith licensed its bread recipes to franchisees last year.\n",
        encoding="utf-8",
    )
    (root / "b.txt").write_text(
        "Orbit discussed the modem patents with Acme in Zurich.\n\n"
        "The franchise fee will be waived for bakeries that open early.\n",
        encoding="utf-8",
    )
    snap = KnowledgeBase.load(root).snapshot

    def exp(written: str, source: Source = Source.SYNONYM) -> Expansion:
        terms = tuple(snap.analyzer.tokenize(written))
        return Expansion(terms, written, ("talk",), "talks", 0.5, source)

    conversion = next(i for i, p in enumerate(snap.passages) if "conversion" in p.text)
    discussed = next(i for i, p in enumerate(snap.passages) if "discussed" in p.text)
    assert snap.analyzer.tokenize("conversation") == snap.analyzer.tokenize("conversion")
    assert not writes_form(snap, conversion, exp("conversation"))
    assert writes_form(snap, discussed, exp("discussion", Source.BROADER))
    # The asker's own word in another form keeps the stem's reach.
    assert writes_form(snap, conversion, exp("conversation", Source.INFLECTION))


# ------------------------------------------------------------------ a name its article misspells


def test_a_passage_misspelling_its_articles_name_carries_it(tmp_path: Path) -> None:
    root = tmp_path / "kb"
    root.mkdir()
    (root / "a.txt").write_text(
        "Dana Reyes, chief executive of Acme, confirmed talks with Orbit.\n\n"
        "Zenith licensed its bread recipes to franchisees last year.\n\n"
        "For her part, Reyas warned that the royalties would be costly for carmakers.\n",
        encoding="utf-8",
    )
    (root / "b.txt").write_text(
        "Orbit warned that royalties for modem patents are rising.\n\n"
        "The franchise fee will be waived for bakeries that open early.\n",
        encoding="utf-8",
    )
    kb = KnowledgeBase.load(root)
    assert first(kb.answer("Did Reyes warn about royalties?")) == "a#3"
    snap = kb.snapshot
    at = {p.passage_id: i for i, p in enumerate(snap.passages)}
    (reyes,) = snap.analyzer.tokenize("Reyes")
    assert writes_misspelt(snap, at["a#3"], reyes)
    assert not writes_misspelt(snap, at["a#1"], reyes)  # written right there
    assert not writes_misspelt(snap, at["b#1"], reyes)  # no slip


# ------------------------------------------------------------------ an everyday word itself


def test_an_everyday_word_is_not_a_name_or_another_word_of_its_stem(tmp_path: Path) -> None:
    root = tmp_path / "kb"
    root.mkdir()
    (root / "a.txt").write_text(
        "Acme told the Times it would license its modem patents.\n\n"
        "Orbit wants timely decisions on its modem patents.\n\n"
        "Zenith has no time for royalties on its modem patents.\n",
        encoding="utf-8",
    )
    (root / "b.txt").write_text(
        "Zenith licensed its bread recipes to franchisees.\n\n"
        "The franchise fee will be waived for bakeries that open early.\n",
        encoding="utf-8",
    )
    snap = KnowledgeBase.load(root).snapshot
    at = {p.passage_id: i for i, p in enumerate(snap.passages)}
    (time,) = snap.analyzer.tokenize("time")
    assert snap.passage_terms[at["a#1"]] >= {time} and snap.passage_terms[at["a#2"]] >= {time}
    assert not writes_weak_word(snap, at["a#1"], time, "time")  # the Times, a name
    assert not writes_weak_word(snap, at["a#2"], time, "time")  # timely, another word
    assert writes_weak_word(snap, at["a#3"], time, "time")
    assert writes_weak_word(snap, at["a#1"], time, "Times")  # asked as the name


# ------------------------------------------------------------------ the question in one sentence


def test_of_equal_coverage_the_passage_saying_it_in_one_sentence_comes_first(
    tmp_path: Path,
) -> None:
    root = tmp_path / "kb"
    root.mkdir()
    (root / "a.txt").write_text(
        "Orbit cut its prices. Acme sued over patents.\n\n"
        "Zenith licensed its bread recipes to franchisees.\n",
        encoding="utf-8",
    )
    (root / "b.txt").write_text(
        "Acme sued Orbit over the modem patents it had licensed to carmakers across Europe.\n\n"
        "The franchise fee will be waived for bakeries that open early.\n",
        encoding="utf-8",
    )
    snap = KnowledgeBase.load(root).snapshot
    question = "Did Acme sue Orbit?"
    assert first(compose_answer(snap, question)) == "b#1"
    # BM25 alone prefers the shorter passage.
    assert first(compose_answer(snap, question, weights=AnswerWeights(together=False))) == "a#1"
