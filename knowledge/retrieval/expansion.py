"""Other words for the asker's words, each weighted below the word itself.

A question's content words are expanded from three places:

- the lexicon (WordNet 3.0, knowledge/retrieval/lexicon.py): synonyms ("pact" ->
  "agreement"), derived forms ("acquisition" -> "acquire"), attribute nouns and
  adjectives ("Western" -> "west"), one level of broader terms ("handset" -> "phone"),
  the class a named thing is an instance of, and, the other way round, the named things of
  the knowledge base that are instances of a class the question names ("city" -> "Zurich");
- the knowledge base's own synonym rules (``[synonyms]`` in ``manifest.toml``);
- spelling: a word neither the articles nor the lexicon know, one edit away from a word
  the articles use (knowledge/retrieval/spelling.py).

Names (terms the articles write capitalised, knowledge/answering/context.py) are never
expanded: "Pang" is not a "twinge". An expansion only counts where a passage holds it
(several words: adjacent and in order), and then for less than the word it stands for.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from knowledge.retrieval.lexicon import Lexicon, Related, Relation
from knowledge.retrieval.spelling import osa_distance
from knowledge.retrieval.synonyms import SynonymTable
from knowledge.retrieval.tokenizer import Analyzer, Token

Terms = tuple[str, ...]


class Source(StrEnum):
    INFLECTION = "inflection"  # the same word, inflected irregularly ("made" for "make")
    SYNONYM = "synonym"
    DERIVED = "derived"
    ATTRIBUTE = "attribute"
    BROADER = "broader"
    INSTANCE_OF = "instance_of"  # the question names a thing, the passage its class
    INSTANCE = "instance"  # the question names a class, the passage a thing of that class
    PART_OF = "part_of"  # the question names a place, the passage the country it is in
    KB_SYNONYM = "kb_synonym"
    SPELLING = "spelling"
    COMPOUND = "compound"  # the article's compound ends in the asker's word


@dataclass(frozen=True)
class ExpansionWeights:
    """How much an expansion counts, as a share of the asker's own word.

    Chosen on the dev split (docs/answers.md has the sweep).
    """

    inflection: float = 1.0
    synonym: float = 0.5
    derived: float = 0.8
    attribute: float = 0.5
    broader: float = 0.3
    instance_of: float = 0.5
    instance: float = 0.5
    part_of: float = 0.5
    kb_synonym: float = 1.0
    spelling: float = 0.8
    compound: float = 0.8
    # Senses per part of speech taken from the lexicon (commonest first).
    senses: int = 2

    def of(self, source: Source) -> float:
        return float(getattr(self, source.value))


DEFAULT_WEIGHTS = ExpansionWeights()

_RELATION_SOURCE = {
    Relation.SYNONYM: Source.SYNONYM,
    Relation.DERIVED: Source.DERIVED,
    Relation.ATTRIBUTE: Source.ATTRIBUTE,
    Relation.BROADER: Source.BROADER,
    Relation.INSTANCE_OF: Source.INSTANCE_OF,
    Relation.PART_OF: Source.PART_OF,
}
_NAME_RELATIONS = frozenset({Relation.SYNONYM, Relation.DERIVED, Relation.PART_OF})
# Relations too loose to stand on an everyday word ("like", "time", "make").
_LOOSE = frozenset({Source.BROADER, Source.INSTANCE_OF, Source.INSTANCE})
# Two question words form a phrase the lexicon may know ("wire service") when only
# spaces or a hyphen stand between them.
_JOINER_RE = re.compile(r"[\s-]{1,3}")


@dataclass(frozen=True)
class Expansion:
    terms: Terms  # index terms; several must be adjacent, in this order
    written: str  # as the lexicon or the rule writes it
    for_terms: Terms  # the question's terms it stands for
    for_surface: str  # the asker's words, as typed
    weight: float
    source: Source


@dataclass(frozen=True)
class ExpansionContext:
    """What expansion needs to know about the knowledge base it expands for."""

    analyzer: Analyzer
    doc_freq: Callable[[str], int]
    lexicon: Lexicon | None
    synonyms: SynonymTable
    # Class (lexicon term, lower case) -> the knowledge base's names that are instances.
    instances: Mapping[str, tuple[tuple[Terms, str], ...]]
    weights: ExpansionWeights = DEFAULT_WEIGHTS
    # Everyday words ("make", "time"): expanded to their own other forms only, as their
    # synonyms and broader terms match almost anything.
    weak_terms: frozenset[str] = frozenset()
    # The articles' compounds ending in a word: (article word, index term) pairs.
    compounds: Callable[[str], list[tuple[str, str]]] | None = None
    # The everyday words as written (tokenizer.WEAK_WORDS): with a lexicon, a question word
    # is everyday when one of its lemmas is, so "founded" (to found) is not "found" (find).
    weak_words: frozenset[str] = frozenset()


def is_weak(ctx: ExpansionContext, surface: str, for_terms: Terms) -> bool:
    """Whether the asker's word is an everyday one (expanded to its own forms only)."""
    if not set(for_terms) <= ctx.weak_terms:
        return False
    if ctx.lexicon is None or not ctx.weak_words or len(for_terms) > 1:
        return True
    lemmas = _related(ctx.lexicon, surface.casefold(), 1)[0]
    return not lemmas or bool(set(lemmas) & _weak_lemmas(ctx.lexicon, ctx.weak_words))


@functools.lru_cache(maxsize=8)
def _weak_lemmas(lexicon: Lexicon, words: frozenset[str]) -> frozenset[str]:
    """The everyday words that are lemmas of their own, not only another's form ("found"
    is listed as find's past: the verb "to found" is no everyday word)."""
    return frozenset(w for w in words if not set(lexicon.lemmas(w)) - {w} & words)


def expand_question(
    question: str,
    tokens: Sequence[Token],
    ctx: ExpansionContext,
    *,
    keep: Callable[[Token], bool],
    named: Callable[[Token], bool] = lambda _: False,
) -> list[Expansion]:
    """Expansions of the question's tokens for which ``keep`` holds (not names, not
    typos), best weight first; one per (target, question terms). A token ``named`` (a
    name) gets only the other forms of its named-thing senses ("Europe" -> "European")."""
    found: dict[tuple[Terms, Terms], Expansion] = {}
    asked = {t.term for t in tokens}

    def add(exp: Expansion) -> None:
        if not exp.terms or exp.terms == exp.for_terms or set(exp.terms) <= asked:
            return
        if any(ctx.doc_freq(t) == 0 for t in exp.terms):
            return  # no passage holds it: it cannot match
        if exp.source in _LOOSE and set(exp.terms) <= ctx.weak_terms:
            return  # "compared" -> "likeness" -> "like": a broader everyday word proves nothing
        key = (exp.terms, exp.for_terms)
        if key not in found or found[key].weight < exp.weight:
            found[key] = exp

    # The knowledge base's own rules apply to every word, names too ("MBBF => Mobile
    # Broadband Forum").
    for group in _phrases(question, tokens, lambda _: True, longest=ctx.synonyms.longest):
        for_terms = tuple(t.term for t in group)
        surface = question[group[0].start : group[-1].end]
        for target_terms, written in ctx.synonyms.lookup(for_terms):
            add(
                Expansion(
                    target_terms,
                    written,
                    for_terms,
                    surface,
                    ctx.weights.kb_synonym,
                    Source.KB_SYNONYM,
                )
            )
    if ctx.lexicon is not None:
        # Single words and two-word lemmas ("cell phone"), both: keeping a lemma's words'
        # own expansions lost more than it saved on the dev split ("one-time" is "former"
        # to the lexicon, "one" stays "single").
        for group in _phrases(question, tokens, keep, longest=2):
            for_terms = tuple(t.term for t in group)
            for exp in _lexicon_expansions(ctx, _surface(question, group), for_terms):
                add(exp)
        for tok in tokens:
            if named(tok):
                for exp in _name_expansions(ctx, tok):
                    add(exp)
    if ctx.compounds is not None:
        # A word no article has may be the end of one they have ("streamed").
        for tok in tokens:
            if (
                keep(tok)
                and ctx.doc_freq(tok.term) == 0
                and not is_weak(ctx, tok.surface, (tok.term,))
            ):
                for word, term in ctx.compounds(tok.surface):
                    add(
                        Expansion(
                            (term,),
                            word,
                            (tok.term,),
                            tok.surface,
                            ctx.weights.compound,
                            Source.COMPOUND,
                        )
                    )
    return sorted(found.values(), key=lambda e: (-e.weight, e.for_terms, e.terms))


def _surface(question: str, group: Sequence[Token]) -> str:
    return question[group[0].start : group[-1].end]


def _phrases(
    question: str, tokens: Sequence[Token], keep: Callable[[Token], bool], *, longest: int
) -> Iterable[list[Token]]:
    """Every run of 1..``longest`` kept tokens that stand next to each other."""
    for i in range(len(tokens)):
        if not keep(tokens[i]):
            continue
        run = [tokens[i]]
        yield list(run)
        for tok in tokens[i + 1 : i + longest]:
            if not keep(tok) or not _JOINER_RE.fullmatch(question[run[-1].end : tok.start]):
                break
            run.append(tok)
            yield list(run)


@functools.lru_cache(maxsize=20_000)
def _related(
    lexicon: Lexicon, words: str, senses: int
) -> tuple[tuple[str, ...], tuple[Related, ...]]:
    """(lemmas, related terms) of a question word: the same for every knowledge base."""
    return lexicon.lemmas(words), lexicon.related(words, max_senses=senses)


@functools.lru_cache(maxsize=100_000)
def _analysed(analyzer: Analyzer, text: str) -> Terms:
    return tuple(analyzer.tokenize(text))


def _lexicon_expansions(ctx: ExpansionContext, surface: str, for_terms: Terms) -> list[Expansion]:
    assert ctx.lexicon is not None
    lex = ctx.lexicon
    words = surface.casefold()
    senses = min(ctx.weights.senses, lex.senses_per_pos)
    lemmas, related = _related(lex, words, senses)
    if len(for_terms) > 1 and not lemmas:
        return []
    analyzer = ctx.analyzer

    def tokenize(text: str) -> Terms:
        return _analysed(analyzer, text)

    # The asker's own word in its other forms: its lemma and the lemma's irregular
    # inflections ("bought" -> "buy", "make" -> "made"), which stemming does not join.
    out = [
        Expansion(
            tokenize(form),
            form,
            for_terms,
            surface,
            ctx.weights.inflection,
            Source.INFLECTION,
        )
        for lemma in lemmas
        for form in (lemma, *lex.forms(lemma))
    ]
    if is_weak(ctx, surface, for_terms):
        return out
    for r in related:
        source = _RELATION_SOURCE[r.relation]
        weight = ctx.weights.of(source)
        out.extend(
            Expansion(terms, form, for_terms, surface, weight, source)
            for form in (r.term, *lex.forms(r.term))
            # "the states" is no "state" (of "State Department"): a lemma whose first word
            # is a stopword is dropped; a verb's particle may go ("talk over" -> talk).
            if (terms := tokenize(form)) and _leads(analyzer, form, terms)
        )
    # Another spelling of the asker's word ("sceptical", "skeptical"; "minimise"): the
    # word itself, and its derived forms are the word's ("skepticism").
    for variant in _variants(lemmas, related):
        out.extend(
            Expansion(
                tokenize(form), form, for_terms, surface, ctx.weights.spelling, Source.SPELLING
            )
            for form in (variant, *lex.forms(variant))
        )
        out.extend(
            Expansion(
                tokenize(r.term), r.term, for_terms, surface, ctx.weights.derived, Source.DERIVED
            )
            for r in _related(lex, variant, senses)[1]
            if r.relation is Relation.DERIVED
        )
    # The question names a class ("city", "wire service"): the knowledge base's named
    # things of that class ("Zurich", a named news agency) answer for it. Noun senses only:
    # "talks" is no "state" (a verb sense of "talk") that Australia is an instance of.
    classes = {r.lemma for r in related if r.pos == "n"}
    for cls in sorted(classes):
        for terms, written in ctx.instances.get(cls, ()):
            out.append(
                Expansion(terms, written, for_terms, surface, ctx.weights.instance, Source.INSTANCE)
            )
    return out


# A spelling variant: a synonym this close to the word, both this long ("color"/"colour",
# "defence"/"defense", "programme"/"program"; not "tinge" for "tint").
_VARIANT_EDITS = 2
_VARIANT_LETTERS = 5


def _variants(lemmas: Sequence[str], related: Sequence[Related]) -> list[str]:
    return sorted(
        {
            r.term
            for r in related
            if r.relation is Relation.SYNONYM
            and " " not in r.term
            and len(r.term) >= _VARIANT_LETTERS
            and any(
                len(lemma) >= _VARIANT_LETTERS
                and r.term[:1] == lemma[:1]
                and osa_distance(r.term, lemma, _VARIANT_EDITS) <= _VARIANT_EDITS
                for lemma in lemmas
            )
        }
    )


def _leads(analyzer: Analyzer, form: str, terms: Terms) -> bool:
    """The first word of ``form`` is its first term (not a stopword before it)."""
    first = form.split(maxsplit=1)[0]
    return " " not in form or tuple(_analysed(analyzer, first))[:1] == terms[:1]


def _name_expansions(ctx: ExpansionContext, tok: Token) -> list[Expansion]:
    """A name's other names and forms, from the senses where the lexicon knows it as a
    named thing: "Europe" -> "European", "China" -> "PRC"; never from an ordinary sense
    of the same letters ("Pang" is no "twinge", "China" no "porcelain")."""
    assert ctx.lexicon is not None
    senses = min(ctx.weights.senses, ctx.lexicon.senses_per_pos)
    _, related = _related(ctx.lexicon, tok.surface.casefold(), senses)
    named = {(r.pos, r.sense_rank) for r in related if r.relation is Relation.INSTANCE_OF}
    out: list[Expansion] = []
    for r in related:
        if (r.pos, r.sense_rank) not in named or r.relation not in _NAME_RELATIONS:
            continue
        source = _RELATION_SOURCE[r.relation]
        out.append(
            Expansion(
                _analysed(ctx.analyzer, r.term),
                r.term,
                (tok.term,),
                tok.surface,
                ctx.weights.of(source),
                source,
            )
        )
    return out


def instance_index(
    lexicon: Lexicon,
    names: Iterable[tuple[Terms, str]],
    known: dict[str, tuple[str, ...]] | None = None,
) -> dict[str, tuple[tuple[Terms, str], ...]]:
    """Class -> the given names (terms, as written) the lexicon knows as instances of it.

    A class's own broader class counts too ("China" is an Asian country, so a country).
    ``known`` holds the classes of names looked up before (filled in here).
    """
    index: dict[str, dict[Terms, str]] = {}
    for terms, written in names:
        if known is None or written not in known:
            found = instance_classes(lexicon, written)
            if known is not None:
                known[written] = found
        else:
            found = known[written]
        for cls in found:
            index.setdefault(cls, {}).setdefault(terms, written)
    return {cls: tuple(found.items()) for cls, found in index.items()}


def instance_classes(lexicon: Lexicon, written: str) -> tuple[str, ...]:
    """The classes the lexicon knows ``written`` as an instance of, and their broader ones."""
    classes = {r.term for r in lexicon.related(written, {Relation.INSTANCE_OF}, max_senses=1)}
    if not classes:
        return ()
    classes |= {
        r.term
        for c in sorted(classes)
        for r in lexicon.related(c, {Relation.BROADER}, max_senses=1)
    }
    return tuple(classes)
