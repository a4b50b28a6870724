"""A name its own article misspells in one passage.

Scraped news text has slips: an article introduces "Vincent Pang" and later writes "For his
part, Bang refused to speculate …" or "Pango also highlighted …". A passage writing a
capitalised word one edit from a name of the question, in an article that writes the name
itself, carries that name (at the context's weight: the reader takes it for the name, the
text does not say it).
"""

from __future__ import annotations

from knowledge.answering.context import is_capitalised
from knowledge.retrieval.spelling import osa_distance
from knowledge.store.loaded import Snapshot

# Shorter names are one edit from too many words ("Ren" and "Ben", "ZTE" and "ZTA").
MIN_LETTERS = 4
# A slip is rare; a word written in more passages than this is a name of its own.
MAX_SLIPS = 2


def writes_misspelt(snap: Snapshot, i: int, term: str) -> bool:
    """Passage ``i`` writes the name ``term`` one edit off, and its article writes it right."""
    name = snap.name_surfaces.get(term, "").casefold()
    if len(name) < MIN_LETTERS or not name.isalpha():
        return False
    return snap.memo.get(("misspelt", i, term), lambda: _misspelt(snap, i, term, name))


def _misspelt(snap: Snapshot, i: int, term: str, name: str) -> bool:
    if not any(term in snap.terms_of(j) for j in snap.article_passages(i)):
        return False
    return any(
        tok.term != term
        and is_capitalised(tok.surface)
        and snap.index.doc_freq(tok.term) <= MAX_SLIPS
        and osa_distance(tok.surface.casefold(), name, 1) <= 1
        for tok in snap.analysed(i)
    )
