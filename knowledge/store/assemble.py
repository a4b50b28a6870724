"""Put a version together from pieces: articles analysed now, and runs of articles taken
unchanged from a version already loaded (an incremental reload reads and analyses only
what changed, and copies the rest as array slices).

Token ids in pieces are in one *assembly numbering*, ``terms[id]`` being the term: it
starts with the base version's index terms (so its tokens keep their ids) and grows
with the new articles' terms. The index is then built from the token ids
(``Bm25Index.from_token_ids``) and the tokens renumbered into the index's term ids.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from knowledge.ingest.analysis import OWN_TOKENS, ArticleAnalysis
from knowledge.models import ArticleMeta
from knowledge.retrieval.index import Bm25Index, Bm25Params, Progress
from knowledge.store.loaded import ArticleTable, Contents, fingerprint, meta_json

IntArray = npt.NDArray[np.int64]
Int32Array = npt.NDArray[np.int32]
U8Array = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class NewArticle:
    """One valid article loaded now: its metadata, text and analysis."""

    doc_id: str
    key: bytes
    content_hash: str  # SHA-256 of the file, hex
    meta: ArticleMeta
    text: str
    analysis: ArticleAnalysis


@dataclass(frozen=True, eq=False)
class Piece:
    """Consecutive articles, as arrays ready to be joined to others."""

    doc_ids: Sequence[str]
    passages_per_doc: IntArray
    passage_bounds: Int32Array  # (passages, 2)
    tokens_per_passage: IntArray
    tokens: Int32Array  # in the assembly numbering
    token_spans: Int32Array  # (tokens, 3)
    sentences_per_passage: IntArray
    sentence_bounds: Int32Array  # (sentences, 2)
    sentence_tokens: IntArray  # (sentences, 2), from the piece's first token
    table: ArticleTable


class Numbering:
    """The assembly numbering: ``terms[i]`` is id i's term."""

    def __init__(self, base_terms: Sequence[str] = ()) -> None:
        self.terms: list[str] = list(base_terms)
        self._ids = {t: i for i, t in enumerate(self.terms)}

    def ids(self, terms: Sequence[str]) -> Int32Array:
        get = self._ids.get
        out = np.empty(len(terms), dtype=np.int32)
        for k, term in enumerate(terms):
            i = get(term)
            if i is None:
                i = self._ids[term] = len(self.terms)
                self.terms.append(term)
            out[k] = i
        return out


def piece_of(articles: Sequence[NewArticle], numbering: Numbering) -> Piece:
    """Articles analysed now, as one piece."""
    analyses = [a.analysis for a in articles]
    token_ids = [numbering.ids(a.terms) for a in analyses]
    tokens_per_article = np.fromiter(map(len, token_ids), dtype=np.int64, count=len(token_ids))
    sentences = _concat([a.sentences for a in analyses], np.int64, (0, 4))
    # Token numbers in an analysis count from its article's first token.
    shift = np.repeat(_starts(tokens_per_article), [a.sentences.shape[0] for a in analyses])
    sentence_tokens = _shifted(sentences[:, 2:4], shift)
    metas = [meta_json(a.meta) for a in articles]
    table = ArticleTable(
        keys=_digests([a.key for a in articles]),
        digests=_digests([bytes.fromhex(a.content_hash) for a in articles]),
        fingerprints=_digests(
            [fingerprint(a.content_hash, m) for a, m in zip(articles, metas, strict=True)]
        ),
        **_blob("text", [a.text.encode("utf-8") for a in articles]),
        **_blob("meta", metas),
        **_blob("words", [a.analysis.words for a in articles]),
    )
    return Piece(
        doc_ids=[a.doc_id for a in articles],
        passages_per_doc=np.fromiter((a.n_passages for a in analyses), np.int64, len(analyses)),
        passage_bounds=_concat([a.passages for a in analyses], np.int32, (0, 2)),
        tokens_per_passage=_concat([a.passage_tokens for a in analyses], np.int64, (0,)),
        tokens=_concat(token_ids, np.int32, (0,)),
        token_spans=_concat([a.token_spans for a in analyses], np.int32, (0, 3)),
        sentences_per_passage=_concat([a.passage_sentences for a in analyses], np.int64, (0,)),
        sentence_bounds=sentences[:, 0:2].astype(np.int32),
        sentence_tokens=sentence_tokens,
        table=table,
    )


def slice_of(contents: Contents, table: ArticleTable, first: int, stop: int) -> Piece:
    """Articles ``first:stop`` of a loaded version, as one piece (its tokens keep their
    index ids: the base version's terms open the assembly numbering)."""
    c = contents
    p0, p1 = int(c.doc_passages[first]), int(c.doc_passages[stop])
    t0, t1 = int(c.passage_tokens[p0]), int(c.passage_tokens[p1])
    s0, s1 = int(c.passage_sentences[p0]), int(c.passage_sentences[p1])
    sentence_tokens = np.asarray(c.sentence_tokens[s0:s1], dtype=np.int64)
    own = sentence_tokens[:, 0] == OWN_TOKENS
    sentence_tokens = sentence_tokens - t0
    sentence_tokens[own] = OWN_TOKENS
    t_a, t_b = _span(table.text_ends, first, stop)
    m_a, m_b = _span(table.meta_ends, first, stop)
    w_a, w_b = _span(table.words_ends, first, stop)
    sub = ArticleTable(
        keys=table.keys[first:stop],
        digests=table.digests[first:stop],
        fingerprints=table.fingerprints[first:stop],
        text_blob=table.text_blob[t_a:t_b],
        text_ends=np.asarray(table.text_ends[first:stop]) - t_a,
        meta_blob=table.meta_blob[m_a:m_b],
        meta_ends=np.asarray(table.meta_ends[first:stop]) - m_a,
        words_blob=table.words_blob[w_a:w_b],
        words_ends=np.asarray(table.words_ends[first:stop]) - w_a,
    )
    return Piece(
        doc_ids=c.doc_ids[first:stop],
        passages_per_doc=np.diff(c.doc_passages[first : stop + 1]),
        passage_bounds=c.passage_bounds[p0:p1],
        tokens_per_passage=np.diff(c.passage_tokens[p0 : p1 + 1]),
        tokens=c.tokens[t0:t1],
        token_spans=c.token_spans[t0:t1],
        sentences_per_passage=np.diff(c.passage_sentences[p0 : p1 + 1]),
        sentence_bounds=c.sentence_bounds[s0:s1],
        sentence_tokens=sentence_tokens,
        table=sub,
    )


def assemble(
    pieces: Sequence[Piece],
    numbering: Numbering,
    params: Bm25Params | None = None,
    *,
    progress: Progress | None = None,
) -> tuple[Contents, ArticleTable, Bm25Index]:
    """Join the pieces in order, build the index and renumber the tokens into it."""
    tokens_per_piece = np.fromiter((p.tokens.size for p in pieces), np.int64, len(pieces))
    shift = np.repeat(_starts(tokens_per_piece), [p.sentence_tokens.shape[0] for p in pieces])
    sentence_tokens = _shifted(
        _concat([p.sentence_tokens for p in pieces], np.int64, (0, 2)), shift
    )
    tokens_per_passage = _concat([p.tokens_per_passage for p in pieces], np.int64, (0,))
    tokens = _concat([p.tokens for p in pieces], np.int32, (0,))
    contents = Contents(
        doc_ids=tuple(d for p in pieces for d in p.doc_ids),
        doc_passages=_offsets(_concat([p.passages_per_doc for p in pieces], np.int64, (0,))),
        passage_bounds=_concat([p.passage_bounds for p in pieces], np.int32, (0, 2)),
        passage_tokens=_offsets(tokens_per_passage),
        tokens=tokens,
        token_spans=_concat([p.token_spans for p in pieces], np.int32, (0, 3)),
        passage_sentences=_offsets(
            _concat([p.sentences_per_passage for p in pieces], np.int64, (0,))
        ),
        sentence_bounds=_concat([p.sentence_bounds for p in pieces], np.int32, (0, 2)),
        sentence_tokens=sentence_tokens,
    )
    tables = [p.table for p in pieces]
    table = ArticleTable(
        keys=_concat([t.keys for t in tables], np.uint8, (0, 32)),
        digests=_concat([t.digests for t in tables], np.uint8, (0, 32)),
        fingerprints=_concat([t.fingerprints for t in tables], np.uint8, (0, 32)),
        **_joined("text", [(t.text_blob, t.text_ends) for t in tables]),
        **_joined("meta", [(t.meta_blob, t.meta_ends) for t in tables]),
        **_joined("words", [(t.words_blob, t.words_ends) for t in tables]),
    )
    index, term_of = Bm25Index.from_token_ids(
        tokens, tokens_per_passage, numbering.terms, params, progress=progress
    )
    return dataclasses.replace(contents, tokens=term_of[tokens]), table, index


# ---------------------------------------------------------------- helpers


def _starts(counts: IntArray) -> IntArray:
    return _offsets(counts)[:-1]


def _offsets(counts: IntArray) -> IntArray:
    out = np.zeros(counts.size + 1, dtype=np.int64)
    np.cumsum(counts, out=out[1:])
    return out


def _shifted(ranges: Any, shift: IntArray) -> IntArray:
    """Token ranges moved by ``shift`` (per row), ``OWN_TOKENS`` left as it is."""
    out = np.array(ranges, dtype=np.int64).reshape(-1, 2)
    own = out[:, 0] == OWN_TOKENS
    out += shift[:, None]
    out[own] = OWN_TOKENS
    return out


def _concat(arrays: Sequence[Any], dtype: Any, empty_shape: tuple[int, ...]) -> Any:
    if not arrays:
        return np.zeros(empty_shape, dtype=dtype)
    return np.concatenate(arrays).astype(dtype, copy=False)


def _span(ends: IntArray, first: int, stop: int) -> tuple[int, int]:
    a = int(ends[first - 1]) if first else 0
    b = int(ends[stop - 1]) if stop else 0
    return a, max(a, b)


def _digests(values: Sequence[bytes]) -> U8Array:
    if not values:
        return np.zeros((0, 32), dtype=np.uint8)
    return np.frombuffer(b"".join(values), dtype=np.uint8).reshape(len(values), 32).copy()


def _blob(name: str, items: Sequence[bytes]) -> dict[str, Any]:
    ends = np.cumsum(np.fromiter(map(len, items), np.int64, len(items)))
    blob = np.frombuffer(b"".join(items), dtype=np.uint8).copy()
    return {f"{name}_blob": blob, f"{name}_ends": ends.astype(np.int64)}


def _joined(name: str, parts: Sequence[tuple[U8Array, IntArray]]) -> dict[str, Any]:
    sizes = np.fromiter((b.size for b, _ in parts), np.int64, len(parts))
    starts = _starts(sizes)
    ends = [np.asarray(e, dtype=np.int64) + s for (_, e), s in zip(parts, starts, strict=True)]
    return {
        f"{name}_blob": _concat([b for b, _ in parts], np.uint8, (0,)),
        f"{name}_ends": _concat(ends, np.int64, (0,)),
    }
