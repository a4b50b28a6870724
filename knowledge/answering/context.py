"""What the articles say about their own words: which terms are names, and what each
article is about.

Names are read off the knowledge base itself, not off the question: a term is a name
when the articles write it capitalised in mid-sentence more often than in lower case
("Pang", "Nokia", "Entity" of "Entity List"), so a lower-case or shouted question still
names them, and a title-cased one does not make every word a name.

An article's *subject* is the set of names a reader carries through it: the names of
its title, of its lead (first passage), and those most of its passages carry. News text
names its subject once and then says "the company" or "he"; every passage of the
article counts as naming its subject (at reduced weight, knowledge/answering/answer.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from knowledge.models import Article, Passage
from knowledge.retrieval.lexicon import Lexicon, Relation
from knowledge.retrieval.tokenizer import Analyzer, Token

# A name carried by more than this share of an article's passages is its subject.
SUBJECT_SHARE = 0.5
# Capitalised, but dates, not names: they never make a subject or a name to require.
_CALENDAR = frozenset(
    """
    january february march april may june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday
    friday saturday sunday
    """.split()
)
# Function words the lexicon (nouns, verbs, adjectives, adverbs) does not list: capitalised
# at the start of a sentence, they are no names.
_FUNCTION_WORDS = frozenset(
    """
    although though whereas unless whether while yet nor since because besides despite
    meanwhile moreover furthermore nevertheless nonetheless instead thus hence therefore
    indeed unlike amid amidst among amongst toward towards upon within without
    """.split()
)
_OPENERS = "\"'“‘([*_>-–— \t\n"


@dataclass(frozen=True)
class PassageText:
    """A passage's tokens and where its sentences start (offsets into the passage)."""

    tokens: Sequence[Token]
    sentence_starts: Sequence[int]


def ordinary_word(lexicon: Lexicon | None, word: str) -> bool:
    """Whether the lexicon knows ``word`` as an ordinary word: a lemma with a sense that
    is not a named thing ("acme" is a peak; "Reyes" is only the poet, "Dana" a deity)."""
    if lexicon is None:
        return False
    key = word.casefold()
    if not lexicon.lemmas(key):
        return False
    senses: dict[tuple[str, int], bool] = {}
    for r in lexicon.related(key):
        named = senses.get((r.pos, r.sense_rank), False)
        senses[(r.pos, r.sense_rank)] = named or r.relation is Relation.INSTANCE_OF
    return not senses or not all(senses.values())


def sentence_initial(text: str, starts: Iterable[int]) -> set[int]:
    """Offsets of the first word of each sentence (past opening quotes and brackets)."""
    out = set()
    for start in starts:
        at = start
        while at < len(text) and text[at] in _OPENERS:
            at += 1
        out.add(at)
    return out


def is_capitalised(surface: str) -> bool:
    return surface[:1].isalpha() and surface[:1].isupper()


@dataclass
class NameCounts:
    """What ``name_terms`` counts, added up passage by passage and article by article
    (a knowledge base's counts are the sum of its articles', ``written`` the first)."""

    capital: Counter[str] = field(default_factory=Counter)
    alone: Counter[str] = field(default_factory=Counter)
    lower: Counter[str] = field(default_factory=Counter)
    # Tokens counted as neither (no letter first, a month, a sentence's ordinary first
    # word): with the capitals, what the term's lower-case count is the rest of.
    skipped: Counter[str] = field(default_factory=Counter)
    # The first way each term is written capitalised where it counts.
    written: dict[str, str] = field(default_factory=dict)

    def add(self, text: str, analysed: PassageText, is_word: Callable[[str], bool]) -> None:
        capital, alone, lower, written = self.capital, self.alone, self.lower, self.written
        skipped = self.skipped
        initial = sentence_initial(text, analysed.sentence_starts)
        toks = analysed.tokens
        for k, tok in enumerate(toks):
            first = tok.surface[:1]
            if not first.isalpha() or tok.surface.casefold().rstrip(".") in _CALENDAR:
                skipped[tok.term] += 1
                continue
            if not first.isupper():
                lower[tok.term] += 1
                continue
            if tok.start in initial and (
                is_word(tok.surface) or tok.surface.casefold() in _FUNCTION_WORDS
            ):
                skipped[tok.term] += 1
                continue
            capital[tok.term] += 1
            written.setdefault(tok.term, tok.surface)
            in_run = (k > 0 and _joined(text, toks[k - 1], tok)) or (
                k + 1 < len(toks) and _joined(text, tok, toks[k + 1])
            )
            if not in_run:
                alone[tok.term] += 1

    def merge(self, other: NameCounts) -> None:
        """Add the counts of the articles after these."""
        self.capital.update(other.capital)
        self.alone.update(other.alone)
        self.lower.update(other.lower)
        self.skipped.update(other.skipped)
        for term, surface in other.written.items():
            self.written.setdefault(term, surface)

    def names(self, is_word: Callable[[str], bool]) -> frozenset[str]:
        lower, alone, written = self.lower, self.alone, self.written
        return frozenset(
            t
            for t, n in self.capital.items()
            if n > lower[t] and (not is_word(written[t]) or (lower[t] == 0 and alone[t] > 0))
        )


def name_terms(
    passages: Iterable[tuple[str, PassageText]], is_word: Callable[[str], bool]
) -> frozenset[str]:
    """Terms the articles write as names.

    A name is written capitalised in mid-sentence more often than in lower case. An
    ordinary English word (``is_word``) is a name of its own only when it is never written
    in lower case and stands capitalised on its own at least once ("Pang explained"):
    "New" of "New York" and "State" of "State Department" are parts of names, not names.
    At the start of a sentence only a word that is not an ordinary one counts
    ("Qualcomm is …").
    """
    counts = NameCounts()
    for text, analysed in passages:
        counts.add(text, analysed, is_word)
    return counts.names(is_word)


def _joined(text: str, a: Token, b: Token) -> bool:
    """Two capitalised words of one name: adjacent, a space or hyphen between."""
    return (
        is_capitalised(a.surface)
        and is_capitalised(b.surface)
        and (text[a.end : b.start] in (" ", "-"))
    )


def article_subjects(
    articles: Mapping[str, Article],
    passages: Sequence[Passage],
    passage_terms: Sequence[frozenset[str]],
    names: frozenset[str],
    analyzer: Analyzer,
) -> dict[str, frozenset[str]]:
    """Per article: the names of its title, of its lead, and of most of its passages."""
    by_doc: dict[str, list[int]] = {}
    for i, p in enumerate(passages):
        by_doc.setdefault(p.doc_id, []).append(i)
    return {
        doc_id: subject_of(
            analyzer.tokenize(articles[doc_id].meta.title or ""),
            [passage_terms[i] for i in idx],
            names,
        )
        for doc_id, idx in by_doc.items()
    }


def subject_of(
    title_terms: Iterable[str], passage_terms: Sequence[frozenset[str]], names: frozenset[str]
) -> frozenset[str]:
    """One article's subject, from its title's terms and its passages' terms in order."""
    subject = {t for t in title_terms if t in names}
    if not passage_terms:
        return frozenset(subject)
    subject |= passage_terms[0] & names
    carried: Counter[str] = Counter(t for terms in passage_terms for t in terms & names)
    subject |= {t for t, n in carried.items() if n > SUBJECT_SHARE * len(passage_terms)}
    return frozenset(subject)


def capitalised_runs(
    text: str, tokens: Sequence[Token], longest: int = 3
) -> Iterable[tuple[tuple[str, ...], str]]:
    """Every run of 1..``longest`` adjacent capitalised words: (terms, as written)."""
    for i, tok in enumerate(tokens):
        if not is_capitalised(tok.surface):
            continue
        end = i
        while (
            end + 1 < len(tokens)
            and end + 1 - i < longest
            and is_capitalised(tokens[end + 1].surface)
            and text[tokens[end].end : tokens[end + 1].start] in (" ", "-")
        ):
            end += 1
        for j in range(i, end + 1):
            run = tokens[i : j + 1]
            yield tuple(t.term for t in run), text[run[0].start : run[-1].end]
