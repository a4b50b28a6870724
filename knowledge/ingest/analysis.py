"""One pass over a cleaned article: its passages, their sentences and every token's term.

This is all a loaded version needs of an article's text (what is stored per article and
what the index is built from). The text is split into sentences once; each passage is
tokenized once, and a sentence's terms are the passage tokens that start inside it: a
token never spans the space between two sentences. The exception is a sentence whose
own capitals read differently from its passage's (a shouted sentence in a normal
passage, or the other way round): it is marked, and its terms are taken from the
sentence alone when asked for, as tokenizing it separately always gave.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from knowledge.answering.context import PassageText
from knowledge.answering.vocabulary import ArticleWords
from knowledge.ingest.passages import group_sentences
from knowledge.ingest.sentences import split_sentences
from knowledge.retrieval.tokenizer import Analyzer, is_shouting

Int32Array = npt.NDArray[np.int32]

# Bump when the analysis of a text changes (passages, sentences, how tokens are
# assigned), so that stored analyses are made again. The analyzer has its own signature.
ANALYSIS_VERSION = "5"
# A sentence's token range when its terms must come from tokenizing it alone.
OWN_TOKENS = -1


@dataclass(frozen=True, eq=False)
class ArticleAnalysis:
    """Passages, sentences and tokens of one article's cleaned text."""

    # (start, end) of each passage in the article text.
    passages: Int32Array
    # Tokens and sentences in each passage, in order.
    passage_tokens: Int32Array
    passage_sentences: Int32Array
    # (start, end, first token, stop token) of each sentence: offsets into the article
    # text and token numbers in the article (``OWN_TOKENS`` twice: tokenize it alone).
    sentences: Int32Array
    # The term of every token, passage after passage.
    terms: tuple[str, ...]
    # (start, end, part) of every token: offsets into its passage's text, and 1 for a
    # word part (``Token.part``). Answers read a passage's words from them rather than
    # tokenize it again.
    token_spans: Int32Array
    # What the article adds to the vocabulary (``ArticleWords.encode``).
    words: bytes = b""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ArticleAnalysis):
            return NotImplemented
        return (self.terms, self.words) == (other.terms, other.words) and all(
            np.array_equal(getattr(self, name), getattr(other, name))
            for name in (
                "passages",
                "passage_tokens",
                "passage_sentences",
                "sentences",
                "token_spans",
            )
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def n_passages(self) -> int:
        return int(self.passages.shape[0])


def analyse_text(text: str, analyzer: Analyzer) -> ArticleAnalysis:
    """Passages, sentences and tokens of ``text`` (an article's cleaned text)."""
    spans = split_sentences(text)
    passages: list[tuple[int, int]] = []
    passage_tokens: list[int] = []
    passage_sentences: list[int] = []
    sentences: list[tuple[int, int, int, int]] = []
    terms: list[str] = []
    token_spans: list[tuple[int, int, int]] = []
    words = ArticleWords()
    for first, stop in group_sentences(text, spans):
        p_start, p_end = spans[first][0], spans[stop - 1][1]
        ptext = text[p_start:p_end]
        tokens = analyzer.analyze(ptext)
        words.add(
            ptext,
            PassageText(tokens, [s - p_start for s, _ in spans[first:stop]]),
            analyzer.lexicon,
        )
        base = len(terms)
        terms.extend(t.term for t in tokens)
        token_spans.extend((t.start, t.end, int(t.part)) for t in tokens)
        shouting = is_shouting(ptext)
        k = 0
        for s, e in spans[first:stop]:
            lo = k
            while k < len(tokens) and tokens[k].start < e - p_start:
                k += 1
            if is_shouting(text[s:e]) != shouting:
                sentences.append((s, e, OWN_TOKENS, OWN_TOKENS))
            else:
                sentences.append((s, e, base + lo, base + k))
        passages.append((p_start, p_end))
        passage_tokens.append(len(tokens))
        passage_sentences.append(stop - first)
    return ArticleAnalysis(
        passages=_int32(passages, 2),
        passage_tokens=_int32(passage_tokens),
        passage_sentences=_int32(passage_sentences),
        sentences=_int32(sentences, 4),
        terms=tuple(terms),
        token_spans=_int32(token_spans, 3),
        words=words.encode(),
    )


def _int32(rows: list[Any], width: int = 0) -> Int32Array:
    array = np.array(rows, dtype=np.int32)
    return array.reshape(-1, width) if width else array.reshape(-1)
