"""A knowledge base's own synonyms: the ``[synonyms]`` table of ``manifest.toml``.

Rules are written as the lines of an Elasticsearch (Solr-format) synonym file:

- ``"handset, phone, mobile phone"``: equivalent terms; a question using any of them
  also finds passages that use the others;
- ``"blacklist, trade blacklist => entity list"``: an explicit mapping; a question using a
  left-hand term also finds the right-hand ones (not the other way round).

A term may be several words ("mobile phone"); it then matches only those words adjacent
and in that order. Terms go through the knowledge base's analyzer, so inflections and
the project's spellings ("U.S.", "licence") meet as they do everywhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

Terms = tuple[str, ...]

MAX_RULES = 1000
MAX_TERM_CHARS = 100
MAX_TERM_WORDS = 5


@dataclass(frozen=True)
class SynonymRule:
    """One rule as written, and where (1-based line of ``manifest.toml``, when known)."""

    text: str
    sources: tuple[str, ...]  # the terms a question may use
    targets: tuple[str, ...]  # the terms it then also finds
    line: int | None = None

    @property
    def explicit(self) -> bool:
        return self.sources != self.targets


@dataclass(frozen=True)
class RuleError:
    rule: str
    reason: str
    line: int | None = None


def parse_rule(text: str, line: int | None = None) -> SynonymRule | RuleError:
    """One Solr-format rule, or why it is not one."""
    if text.count("=>") > 1:
        return RuleError(text, "more than one “=>”", line)
    left, arrow, right = text.partition("=>")
    sides = [("left of “=>”", left), ("right of “=>”", right)] if arrow else [("", left)]
    parsed: list[tuple[str, ...]] = []
    for name, side in sides:
        parts = [" ".join(t.split()) for t in side.split(",")]
        if not any(parts):
            return RuleError(text, f"no term {name}".strip(), line)
        if not all(parts):
            return RuleError(text, "an empty term (two commas in a row, or one at an end)", line)
        parsed.append(tuple(parts))
    sources, targets = parsed[0], parsed[-1]
    if not arrow and len(set(sources)) < 2:
        return RuleError(text, "an equivalence needs at least two different terms", line)
    for term in (*sources, *targets):
        if len(term) > MAX_TERM_CHARS:
            return RuleError(text, f"a term is longer than {MAX_TERM_CHARS} characters", line)
        if len(term.split()) > MAX_TERM_WORDS:
            return RuleError(text, f"{term!r} has more than {MAX_TERM_WORDS} words", line)
    return SynonymRule(text=text, sources=sources, targets=targets, line=line)


@dataclass(frozen=True)
class SynonymTable:
    """Compiled rules: a question's term sequence -> the term sequences it also finds.

    Keys and values are sequences of index terms (the analyzer's output), so a rule
    applies to every inflection of its words.
    """

    rules: tuple[SynonymRule, ...] = ()
    expansions: Mapping[Terms, tuple[tuple[Terms, str], ...]] = field(default_factory=dict)
    longest: int = 0

    def __bool__(self) -> bool:
        return bool(self.expansions)

    def lookup(self, terms: Terms) -> tuple[tuple[Terms, str], ...]:
        """(target terms, target as written) for a question's term sequence."""
        return self.expansions.get(terms, ())


def compile_rules(
    rules: Sequence[SynonymRule], tokenize: Callable[[str], list[str]]
) -> tuple[SynonymTable, list[RuleError]]:
    """Analyze every term; a term with no indexable word ("the") is an error."""
    errors: list[RuleError] = []
    table: dict[Terms, dict[Terms, str]] = {}
    for rule in rules:
        analysed = {t: tuple(tokenize(t)) for t in (*rule.sources, *rule.targets)}
        blank = [t for t, terms in analysed.items() if not terms]
        if blank:
            errors.append(
                RuleError(rule.text, f"{blank[0]!r} has no word the index keeps", rule.line)
            )
            continue
        for source in rule.sources:
            found = table.setdefault(analysed[source], {})
            for target in rule.targets:
                if analysed[target] != analysed[source]:
                    found.setdefault(analysed[target], target)
    expansions = {k: tuple(v.items()) for k, v in table.items() if v}
    return (
        SynonymTable(
            rules=tuple(rules),
            expansions=expansions,
            longest=max((len(k) for k in expansions), default=0),
        ),
        errors,
    )
