"""Typos and compounds: the article word a mistyped question word most likely meant, and
the article's compounds a question word is the last part of ("streamed" in
"livestreamed").

Only a word that neither the articles nor the lexicon know is corrected, so a real word
the articles lack ("pizza") stays what it is and gets refused as such. Candidates are
the articles' own words one deletion away on either side (a symmetric-delete index), kept
when the optimal-string-alignment distance is at most 1 (2 from eight letters on):
"Hauwei" -> "Huawei", "Erricson" -> "Ericsson".
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Callable, Iterable

MIN_CHARS = 5  # shorter words have too many neighbours to guess from
LONG_CHARS = 8  # from here, two edits
# Words longer than this are not indexed for correction (nobody mistypes a URL into one).
MAX_CHARS = 30
# A compound's first part is a word of its own: "live" of "livestreamed", not "re".
MIN_COMPOUND_HEAD = 3
MAX_COMPOUNDS = 20


def osa_distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (adjacent swaps count 1), or ``limit + 1``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))} | {word}


class Speller:
    """The articles' words (lower case) with their index terms; built on first use."""

    def __init__(self, words: Callable[[], Iterable[tuple[str, str]]]) -> None:
        self._source = words
        self._lock = threading.Lock()
        self._index: dict[str, list[str]] | None = None
        self._terms: dict[str, str] = {}
        self._reversed: list[str] = []  # every word spelt backwards, sorted

    def _build(self) -> dict[str, list[str]]:
        with self._lock:
            if self._index is None:
                index: dict[str, list[str]] = {}
                for word, term in self._source():
                    if not (MIN_CHARS - 1 <= len(word) <= MAX_CHARS) or not word.isalpha():
                        continue
                    if word in self._terms:
                        continue
                    self._terms[word] = term
                    for key in _deletes(word):
                        index.setdefault(key, []).append(word)
                self._reversed = sorted(w[::-1] for w in self._terms)
                self._index = index
            return self._index

    def compounds(self, word: str) -> list[tuple[str, str]]:
        """(article word, its index term) of the articles' words that end in ``word``
        after a part of at least three letters ("livestreamed" for "streamed")."""
        word = word.casefold()
        if len(word) < MIN_CHARS or not word.isalpha():
            return []
        self._build()
        key = word[::-1]
        found: list[tuple[str, str]] = []
        i = bisect_left(self._reversed, key)
        while i < len(self._reversed) and self._reversed[i].startswith(key):
            candidate = self._reversed[i][::-1]
            if len(candidate) - len(word) >= MIN_COMPOUND_HEAD:
                found.append((candidate, self._terms[candidate]))
            i += 1
            if len(found) >= MAX_COMPOUNDS:
                break
        return found

    def correct(self, word: str, doc_freq: Callable[[str], int]) -> tuple[str, str] | None:
        """(article word, its index term) ``word`` most likely meant, or None."""
        word = word.casefold()
        if len(word) < MIN_CHARS or len(word) > MAX_CHARS or not word.isalpha():
            return None
        index = self._build()
        limit = 2 if len(word) >= LONG_CHARS else 1
        best: tuple[int, int, str] | None = None
        for key in _deletes(word):
            for candidate in index.get(key, ()):
                distance = osa_distance(word, candidate, limit)
                if distance > limit or candidate == word:
                    continue
                rank = (distance, -doc_freq(self._terms[candidate]), candidate)
                if best is None or rank < (best[0], best[1], best[2]):
                    best = rank
        if best is None:
            return None
        return best[2], self._terms[best[2]]
