"""Query expansion: which other words stand for the asker's, and at what weight."""

from __future__ import annotations

from knowledge.retrieval.expansion import (
    DEFAULT_WEIGHTS,
    Expansion,
    ExpansionContext,
    Source,
    expand_question,
    instance_index,
)
from knowledge.retrieval.lexicon import load_lexicon
from knowledge.retrieval.synonyms import SynonymRule, SynonymTable, compile_rules, parse_rule
from knowledge.retrieval.tokenizer import WEAK_WORDS, Token, default_analyzer

ANALYZER = default_analyzer()
# A made-up knowledge base's vocabulary: every term some passage holds.
VOCABULARY = set(
    ANALYZER.tokenize(
        "acquired purchase buying made phone telephone agreement treaty Zurich widget "
        "mobile phone west licence European porcelain twinge stab"
    )
)


def context(
    synonyms: SynonymTable | None = None, vocabulary: set[str] = VOCABULARY
) -> ExpansionContext:
    lexicon = load_lexicon()
    return ExpansionContext(
        analyzer=ANALYZER,
        doc_freq=lambda t: 1 if t in vocabulary else 0,
        lexicon=lexicon,
        synonyms=synonyms or SynonymTable(),
        instances=instance_index(lexicon, [(tuple(ANALYZER.tokenize("Zurich")), "Zurich")]),
        weak_terms=frozenset(ANALYZER.tokenize("make time")),
    )


def expand(question: str, ctx: ExpansionContext | None = None, names: str = "") -> list[Expansion]:
    skip = set(ANALYZER.tokenize(names))
    tokens = ANALYZER.analyze(question)
    return expand_question(question, tokens, ctx or context(), keep=lambda t: t.term not in skip)


def found(expansions: list[Expansion]) -> dict[tuple[str, str], tuple[Source, float]]:
    return {(e.written, e.for_surface): (e.source, e.weight) for e in expansions}


def test_synonyms_broader_and_derived_terms_with_their_weights() -> None:
    got = found(expand("bought a handset pact"))
    w = DEFAULT_WEIGHTS
    assert got[("purchase", "bought")] == (Source.SYNONYM, w.synonym)
    assert got[("acquire", "bought")][0] is Source.BROADER  # -> "acquired" in a passage
    assert got[("acquire", "bought")][1] == w.broader
    assert got[("phone", "handset")] == (Source.BROADER, w.broader)
    assert got[("treaty", "pact")] == (Source.SYNONYM, w.synonym)
    assert all(weight < 1.0 for source, weight in got.values() if source is not Source.INFLECTION)


def test_the_askers_word_in_its_other_forms_counts_in_full() -> None:
    got = found(expand("bought"))
    assert got[("buy", "bought")] == (Source.INFLECTION, 1.0)  # -> "buying"
    made = found(expand("they make"))  # an everyday word: its own forms only
    assert made == {("made", "make"): (Source.INFLECTION, 1.0)}


def test_only_terms_some_passage_holds_are_kept() -> None:
    for exp in expand("bought a handset pact"):
        assert all(t in VOCABULARY for t in exp.terms)
    assert expand("bought", context(vocabulary=set())) == []


def test_names_are_not_expanded() -> None:
    assert expand("Pang said", names="Pang") == []


def named(question: str, names: str) -> list[Expansion]:
    skip = set(ANALYZER.tokenize(names))
    tokens = ANALYZER.analyze(question)
    return expand_question(
        question,
        tokens,
        context(),
        keep=lambda t: t.term not in skip,
        named=lambda t: t.term in skip,
    )


def test_a_name_gets_the_other_forms_of_its_named_thing_senses_only() -> None:
    assert found(named("rivals in Europe", "Europe"))[("european", "Europe")] == (
        Source.DERIVED,
        DEFAULT_WEIGHTS.derived,
    )
    # "china" is also porcelain and "pang" a twinge: ordinary senses give a name nothing.
    assert ("porcelain", "China") not in found(named("China", "China"))
    assert [e for e in named("Pang said", "Pang") if e.for_surface == "Pang"] == []


def test_a_named_place_stands_for_the_named_thing_it_is_part_of() -> None:
    question = "sanctions on Tehran"
    exps = expand_question(
        question,
        ANALYZER.analyze(question),
        context(vocabulary=VOCABULARY | {"iran"}),
        keep=lambda t: t.term != "tehran",
        named=lambda t: t.term == "tehran",
    )
    assert found(exps)[("iran", "Tehran")] == (Source.PART_OF, DEFAULT_WEIGHTS.part_of)


def test_a_class_word_expands_to_the_named_things_of_that_class() -> None:
    got = found(expand("which city"))
    assert got[("Zurich", "city")] == (Source.INSTANCE, DEFAULT_WEIGHTS.instance)


def test_a_phrase_the_lexicon_knows_is_expanded_as_a_whole() -> None:
    # "cell phone" is one lemma: its broader "telephone" stands for both words.
    exps = [
        e for e in expand("a cell phone") if e.for_terms == tuple(ANALYZER.tokenize("cell phone"))
    ]
    assert {e.written for e in exps} >= {"telephone"}
    assert all(e.for_surface == "cell phone" for e in exps)


def test_knowledge_base_synonyms_are_expansions_at_full_weight() -> None:
    rules = [parse_rule("gadget => widget"), parse_rule("cellphone, mobile phone")]
    table, errors = compile_rules(
        [r for r in rules if isinstance(r, SynonymRule)], ANALYZER.tokenize
    )
    assert errors == []
    got = found(expand("gadgets and cellphones", context(table)))
    assert got[("widget", "gadgets")] == (Source.KB_SYNONYM, DEFAULT_WEIGHTS.kb_synonym)
    assert got[("mobile phone", "cellphones")] == (Source.KB_SYNONYM, 1.0)
    multi = [e for e in expand("gadgets and cellphones", context(table)) if len(e.terms) == 2]
    assert multi and multi[0].terms == tuple(ANALYZER.tokenize("mobile phone"))


def test_each_target_once_per_question_word_with_its_best_weight() -> None:
    exps = expand("bought bought")
    keys = [(e.terms, e.for_terms) for e in exps]
    assert len(keys) == len(set(keys))
    assert [e.weight for e in exps] == sorted((e.weight for e in exps), reverse=True)


def test_tokens_are_from_the_question() -> None:
    tokens = ANALYZER.analyze("bought")
    assert tokens == [Token("bought", 0, 6, "bought")]


def test_everyday_words_are_judged_by_their_lemma() -> None:
    # "found" is listed as find's past; "founded" is the verb "to found", no everyday word.
    vocabulary = VOCABULARY | set(ANALYZER.tokenize("founder establish"))
    ctx = context(vocabulary=vocabulary)
    weak = ExpansionContext(
        **{
            **ctx.__dict__,
            "weak_terms": frozenset(ANALYZER.tokenize("found find")),
            "weak_words": WEAK_WORDS,
        }
    )
    assert ("founder", "founded") in found(expand("who founded it", weak))
    assert found(expand("what was found", weak)) == {}
    # Without the written list, the stem alone decides, as before.
    stems_only = ExpansionContext(**{**weak.__dict__, "weak_words": frozenset()})
    assert ("founder", "founded") not in found(expand("who founded it", stems_only))


def test_a_lemma_led_by_a_stopword_is_not_its_last_word() -> None:
    ctx = context(vocabulary=VOCABULARY | set(ANALYZER.tokenize("state talk")))
    got = found(expand("Which US carriers are negotiating?", ctx))
    assert not any(written == "the states" for written, _ in got)
    # A verb's particle may go: "talk over" still reaches "talk".
    assert ("talk over", "negotiating") in got


def test_another_spelling_is_the_askers_word_and_brings_its_derived_forms() -> None:
    ctx = context(vocabulary=VOCABULARY | set(ANALYZER.tokenize("skepticism minimise")))
    got = found(expand("sceptical about plans to minimize costs", ctx))
    assert got[("skeptical", "sceptical")] == (Source.SPELLING, DEFAULT_WEIGHTS.spelling)
    assert got[("minimise", "minimize")] == (Source.SPELLING, DEFAULT_WEIGHTS.spelling)
    # Synonyms that merely look alike are not spellings of each other.
    assert all(source is not Source.SPELLING for (w, f), (source, _) in got.items() if f == "costs")
