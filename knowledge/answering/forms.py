"""Whether a passage holds the lexicon's word itself, not only a word of the same stem.

Stemming joins a word's inflections, and also words of other meanings that share a stem:
"conversation" (another word for "talks") and "conversion" are both ``convers``,
"activity" and "activated" both ``activ``. The asker's own words keep the stem's reach
(their inflections are what stemming is for); a word the lexicon gives for them counts only
where the passage writes a word of its family: the two share a lemma or a derived form
("equip" and "equipment" do), one begins with the other ("report", "reportedly"), or the
passage word is one the lexicon does not know (a name, a compound) and so cannot be told
apart.
"""

from __future__ import annotations

import functools

from knowledge.answering.context import is_capitalised, sentence_initial
from knowledge.retrieval.expansion import Expansion, Source
from knowledge.retrieval.lexicon import Lexicon, Relation
from knowledge.retrieval.tokenizer import Analyzer
from knowledge.store.loaded import Snapshot

# The lexicon's relations: their word is a lemma, and the passage must write a form of it.
CHECKED = frozenset(
    {Source.SYNONYM, Source.DERIVED, Source.ATTRIBUTE, Source.BROADER, Source.INSTANCE_OF}
)


@functools.lru_cache(maxsize=50_000)
def _lemmas(lexicon: Lexicon, word: str) -> frozenset[str]:
    """The lemmas ``word`` is a form of (none for a word the lexicon does not know)."""
    return frozenset(lexicon.lemmas(word))


@functools.lru_cache(maxsize=50_000)
def _family(lexicon: Lexicon, word: str) -> frozenset[str]:
    """``word``, its lemmas and their derived forms: the words it is a form of or kin to."""
    derived = {r.term for r in lexicon.related(word, {Relation.DERIVED})}
    return _lemmas(lexicon, word) | derived | {word}


def writes_form(snap: Snapshot, i: int, exp: Expansion) -> bool:
    """Passage ``i`` writes (a form of) the one-word lexicon expansion ``exp``."""
    lexicon = snap.analyzer.lexicon
    if exp.source not in CHECKED or lexicon is None or len(exp.terms) != 1:
        return True
    return snap.memo.get(
        ("writes-form", i, exp.terms[0], exp.written),
        lambda: _writes(snap, lexicon, i, exp.terms[0], exp.written.casefold()),
    )


def _writes(snap: Snapshot, lexicon: Lexicon, i: int, term: str, written: str) -> bool:
    words, kin = snap.memo.get(
        ("writes-kin", term, written), lambda: _kin(snap.analyzer, lexicon, term, written)
    )
    # Passages write few distinct words of a term: each one's verdict is kept.
    return any(
        tok.term == term and _writes_surface(lexicon, words, kin, tok.surface.casefold())
        for tok in snap.analysed(i)
    )


def _kin(
    analyzer: Analyzer, lexicon: Lexicon, term: str, written: str
) -> tuple[tuple[str, ...], frozenset[str]]:
    """The words of the expansion ``written`` that stand for ``term``, and their families."""
    # A lemma of several words of which one is left ("make up" -> make): that word.
    words = (written, *(w for w in written.split() if analyzer.tokenize(w) == [term]))
    return words, frozenset().union(*(_family(lexicon, w) for w in words))


@functools.lru_cache(maxsize=50_000)
def _writes_surface(
    lexicon: Lexicon, words: tuple[str, ...], kin: frozenset[str], surface: str
) -> bool:
    """A passage word written ``surface`` (case-folded) is a form of one of ``words``."""
    if not _lemmas(lexicon, surface) or _family(lexicon, surface) & kin:
        return True
    # An adverb or adjective made by a suffix, which WordNet files as no derived form
    # ("reportedly" of "report", "formerly" of "former").
    return any(surface.startswith(w) or w.startswith(surface) for w in words)


def writes_weak_word(snap: Snapshot, i: int, term: str, asked: str) -> bool:
    """Passage ``i`` writes the everyday word the asker wrote as ``asked`` itself, in one
    of its forms: not another word of its stem ("timely" for "time"), nor, for a word
    asked in lower case, a name made of another form of it ("the Times")."""
    lexicon = snap.analyzer.lexicon
    if lexicon is None:
        return True
    return snap.memo.get(
        ("writes-weak", i, term, asked), lambda: _writes_weak(snap, lexicon, i, term, asked)
    )


def _writes_weak(snap: Snapshot, lexicon: Lexicon, i: int, term: str, asked: str) -> bool:
    word = asked.casefold()
    lemmas = _lemmas(lexicon, word) | {word}
    p = snap.passage_at(i)
    initial = sentence_initial(p.text, [s - p.start for s, _ in snap.sentence_spans(i)])
    for tok in snap.analysed(i):
        if tok.term != term:
            continue
        surface = tok.surface.casefold()
        if not (_lemmas(lexicon, surface) | {surface}) & lemmas:
            continue
        if (
            asked.islower()
            and surface != word
            and is_capitalised(tok.surface)
            and tok.start not in initial
        ):
            continue
        return True
    return False
