"""Multi-word names in passages: words adjacent and in order, by token position."""

from __future__ import annotations

from collections.abc import Sequence

from knowledge.store.loaded import Snapshot

# How many passages a multi-word name is looked for in (best BM25 for its words first).
PHRASE_SEARCH = 500


def holds_phrase(
    tokens: Sequence[str], terms: Sequence[str], names: frozenset[str] = frozenset()
) -> bool:
    """``terms`` adjacent and in order in ``tokens`` (an analyzed passage); a middle
    name may stand between two of them ("President [Donald] Trump") when ``names``
    holds it."""
    return phrase_at(tokens, terms, names) is not None


def phrase_at(
    tokens: Sequence[str], terms: Sequence[str], names: frozenset[str] = frozenset()
) -> tuple[int, int] | None:
    """(first, last) token positions of the first occurrence of ``terms``, or None."""
    if not terms:
        return None
    for i, tok in enumerate(tokens):
        if tok != terms[0]:
            continue
        pos = i
        for term in terms[1:]:
            if pos + 1 < len(tokens) and tokens[pos + 1] == term:
                pos += 1
            elif pos + 2 < len(tokens) and tokens[pos + 1] in names and tokens[pos + 2] == term:
                pos += 2
            else:
                break
        else:
            return i, pos
    return None


def phrase_holders(snap: Snapshot, terms: Sequence[str]) -> set[int]:
    """Passages holding ``terms`` adjacent and in order."""
    wanted = set(terms)
    hits = snap.index.top_k(list(dict.fromkeys(terms)), min(snap.index.n_docs, PHRASE_SEARCH))
    return {
        i
        for i, _ in hits
        if wanted <= snap.terms_of(i) and holds_phrase(snap.token_terms(i), terms, snap.names)
    }


def phrase_span(snap: Snapshot, i: int, terms: Sequence[str]) -> tuple[int, int] | None:
    """Where in passage ``i``'s text ``terms`` first stand adjacent (offsets in its text)."""
    analysed = snap.analysed(i)
    found = phrase_at([t.term for t in analysed], terms, snap.names)
    if found is None:
        return None
    return analysed[found[0]].start, analysed[found[1]].end


def holds_near(tokens: Sequence[str], terms: Sequence[str], slack: int = 1) -> bool:
    """Every one of ``terms`` within ``len(terms) + slack`` consecutive tokens, in any
    order: a name the articles write adjacent elsewhere, reworded here ("Department of
    Commerce" for "Commerce Department")."""
    wanted = set(terms)
    width = len(wanted) + slack
    return any(wanted <= set(tokens[i : i + width]) for i, t in enumerate(tokens) if t in wanted)
