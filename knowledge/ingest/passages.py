"""Split cleaned articles into small, sentence-aligned passages with stable ids."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from knowledge.ingest.sentences import split_sentences
from knowledge.models import Article, Passage

MAX_SENTENCES = 3
# Short enough to read as one quote in Slack, long enough to carry a statement's context.
TARGET_CHARS = 360


def group_sentences(text: str, sentences: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Which sentences make each passage: ``(first, stop)`` indexes into ``sentences``.

    A passage holds up to ``MAX_SENTENCES`` sentences of one paragraph and ends before a
    sentence that would take it past ``TARGET_CHARS`` (a longer sentence stands alone).
    """
    groups: list[tuple[int, int]] = []
    first = 0
    # Paragraph of the group's first sentence and of the one before the current, counted
    # as we go: counting from the start of the text at every sentence was quadratic.
    first_para = para = 0
    prev_start = 0
    for k, (start, end) in enumerate(sentences):
        para += text.count("\n\n", prev_start, start)
        prev_start = start
        if k > first and (
            first_para != para
            or k - first >= MAX_SENTENCES
            or end - sentences[first][0] > TARGET_CHARS
        ):
            groups.append((first, k))
            first = k
        if k == first:
            first_para = para
    if first < len(sentences):
        groups.append((first, len(sentences)))
    return groups


def split_passages(article: Article) -> list[Passage]:
    text = article.text
    sentences = split_sentences(text)
    passages: list[Passage] = []
    for n, (first, stop) in enumerate(group_sentences(text, sentences), start=1):
        start, end = sentences[first][0], sentences[stop - 1][1]
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
    return passages


def split_all(articles: Iterable[Article]) -> list[Passage]:
    return [p for a in articles for p in split_passages(a)]
