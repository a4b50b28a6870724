"""Split cleaned articles into small, sentence-aligned passages with stable ids."""

from __future__ import annotations

from collections.abc import Iterable

from knowledge.ingest.sentences import split_sentences
from knowledge.models import Article, Passage

MAX_SENTENCES = 3
# Short enough to read as one quote in Slack, long enough to carry a statement's context.
TARGET_CHARS = 360


def _paragraph_of(text: str, pos: int) -> int:
    return text.count("\n\n", 0, pos)


def split_passages(article: Article) -> list[Passage]:
    text = article.text
    passages: list[Passage] = []
    group: list[tuple[int, int]] = []

    def flush() -> None:
        if group:
            start, end = group[0][0], group[-1][1]
            n = len(passages) + 1
            passages.append(
                Passage(
                    passage_id=f"{article.doc_id}#{n}",
                    doc_id=article.doc_id,
                    n=n,
                    start=start,
                    end=end,
                    text=text[start:end],
                )
            )
            group.clear()

    for span in split_sentences(text):
        if group and (
            _paragraph_of(text, group[0][0]) != _paragraph_of(text, span[0])
            or len(group) >= MAX_SENTENCES
            or span[1] - group[0][0] > TARGET_CHARS
        ):
            flush()
        group.append(span)
    flush()
    return passages


def split_all(articles: Iterable[Article]) -> list[Passage]:
    return [p for a in articles for p in split_passages(a)]
