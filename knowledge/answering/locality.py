"""Where in a passage the date or number asked for stands.

A date or a number answers "when …?" or "how much …?" only in a sentence that speaks of
what is asked: one carrying a specific word of the asker's (not an everyday one like
"time"), itself or by a close stand-in (its other forms, a typo's article word, a derived
form). Elsewhere in the passage it is about something else: "… a one off deal … / … it
would require the licensee to invest billions …" gives no fee; a passage saying "at any
time" next to "the official added" gives no opening hour of an office. The classic answer
window of question answering, cut at the sentence.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from knowledge.store.loaded import Snapshot

__all__ = ["holds_in_sentence", "sentences_about"]


def sentences_about(snap: Snapshot, i: int, terms: Iterable[str]) -> list[tuple[int, int]]:
    """(start, end) offsets into passage ``i``'s text of its sentences holding any of
    ``terms`` (index terms)."""
    wanted = frozenset(terms)
    base = snap.passage_at(i).start
    return [(s.start - base, s.end - base) for s in snap.sentences_of(i) if s.terms & wanted]


def holds_in_sentence(
    snap: Snapshot, i: int, text: str, terms: Iterable[str], holds: Callable[[str], bool]
) -> bool:
    """Whether a sentence of passage ``i`` holding any of ``terms`` satisfies ``holds``
    (``text`` is the passage's text, possibly with the question's own words blanked)."""
    return any(holds(text[a:b]) for a, b in sentences_about(snap, i, terms))
