"""Names in text as the answer engine reads them: runs of capitalised words."""

from __future__ import annotations

from collections.abc import Sequence

from knowledge.retrieval.tokenizer import Token
from knowledge.store.loaded import Snapshot


def is_name(token: Token, *, shouting: bool) -> bool:
    """Capitalised, unless the whole text is in capitals (then capitals mark nothing)."""
    return not shouting and token.surface[:1].isupper()


def name_runs(tokens: Sequence[Token], text: str) -> list[list[Token]]:
    """Runs of capitalised words in ``text`` ("Wall Street Journal"), in order; words of
    a run are separated by nothing but spaces or hyphens."""
    shouting = text.upper() == text
    runs: list[list[Token]] = []
    prev_end: int | None = None
    for t in tokens:
        if not is_name(t, shouting=shouting):
            prev_end = None
            continue
        if prev_end is not None and runs and not text[prev_end : t.start].strip(" -"):
            runs[-1].append(t)
        else:
            runs.append([t])
        prev_end = t.end
    return runs


# Capitalised, but a position rather than a name ("CEO Ren Zhengfei").
TITLES = frozenset(
    """
    ceo cfo cto coo svp evp vp president chairman chairwoman founder minister secretary
    senator governor mr mrs ms dr prof
    """.split()
)


def without_titles(run: Sequence[Token]) -> list[Token]:
    """The run without the titles it starts with ("President Donald Trump" -> "Donald
    Trump"); empty when it is only titles."""
    words = list(run)
    while words and words[0].surface.casefold().rstrip(".") in TITLES:
        words.pop(0)
    return words


def surface(run: Sequence[Token]) -> str:
    return " ".join(t.surface for t in run)


def is_topic(snap: Snapshot, term: str) -> bool:
    """A term in most passages ("Huawei" here) is the knowledge base's subject: it tells
    no event or passage from another."""
    return snap.index.doc_freq(term) * 2 > snap.index.n_docs
