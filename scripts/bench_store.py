"""Why the stored versions are memory-mapped arrays and not SQLite rows: both measured.

    .venv/bin/python scripts/bench_store.py KB_DIR

analyses every article of KB_DIR once (in memory), then stores the same analyses two
ways and times what a start and a reload need of each:

* SQLite (the standard library's): one row per article (key, metadata JSON, text, one
  blob of its passage, sentence and token arrays), written in one transaction; read
  back whole and turned into arrays as a start would; one article replaced.
* arrays (``knowledge.store.packed``): the version's arrays written as ``.npy`` files;
  mapped back as a start does; a new version with one article changed written.
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from knowledge.retrieval.index import Bm25Params
from knowledge.retrieval.tokenizer import default_analyzer
from knowledge.store.assemble import NewArticle, Numbering, assemble, piece_of
from knowledge.store.loaded import meta_json
from knowledge.store.packed import open_packed, version_key, write_packed
from knowledge.store.versions import prepare


def main() -> int:
    kb_dir = Path(sys.argv[1])
    analyzer, params = default_analyzer(), Bm25Params()
    plan = prepare(kb_dir, analyzer=analyzer, params=params)
    articles = [p for p in plan.parts if isinstance(p, NewArticle)]
    numbering = Numbering()
    ids = [numbering.ids(a.analysis.terms) for a in articles]
    print(f"{len(articles):,} articles analysed")
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_rows(Path(tmp) / "a.sqlite3", articles, ids)
        arrays(Path(tmp), kb_dir, articles, numbering, params)
    return 0


def _blob(a: NewArticle, token_ids: np.ndarray) -> bytes:
    an = a.analysis
    head = np.array([an.n_passages, an.sentences.shape[0], token_ids.size], dtype=np.int32)
    parts = (head, an.passages, an.passage_tokens, an.passage_sentences, an.sentences, token_ids)
    return b"".join(np.ascontiguousarray(p, dtype=np.int32).tobytes() for p in parts)


def sqlite_rows(path: Path, articles: list[NewArticle], ids: list[np.ndarray]) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(
        "CREATE TABLE articles (key BLOB PRIMARY KEY, meta BLOB, text TEXT, analysis BLOB)"
    )
    started = time.perf_counter()
    rows = [
        (a.key, meta_json(a.meta), a.text, _blob(a, t)) for a, t in zip(articles, ids, strict=True)
    ]
    with conn:
        conn.executemany("INSERT INTO articles VALUES (?, ?, ?, ?)", rows)
    write_s = time.perf_counter() - started
    started = time.perf_counter()
    # What a start needs at once: every article's arrays (texts and metadata can wait).
    tokens, keys = [], []
    for key, blob in conn.execute("SELECT key, analysis FROM articles"):
        data = np.frombuffer(blob, dtype=np.int32)
        n_p, n_s = (int(x) for x in data[:2])
        tokens.append(data[3 + 4 * n_p + 4 * n_s :])
        keys.append(key)
    np.concatenate(tokens)
    read_s = time.perf_counter() - started
    a = articles[len(articles) // 2]
    started = time.perf_counter()
    with conn:
        conn.execute(
            "INSERT OR REPLACE INTO articles VALUES (?, ?, ?, ?)",
            (a.key, meta_json(a.meta), a.text + " ", _blob(a, ids[len(articles) // 2])),
        )
    update_s = time.perf_counter() - started
    conn.close()
    print(
        f"SQLite rows:  write all {write_s:.2f} s, read all into arrays {read_s:.2f} s, "
        f"replace one {update_s * 1000:.1f} ms, file {path.stat().st_size / 2**20:.0f} MB"
    )


def arrays(
    root: Path, kb_dir: Path, articles: list[NewArticle], numbering: Numbering, params: Bm25Params
) -> None:
    key = version_key(default_analyzer().signature, params)
    contents, table, index = assemble([piece_of(articles, numbering)], numbering, params)
    started = time.perf_counter()
    write_packed(
        root, "0000000000000001", key, kb_dir=kb_dir, contents=contents, table=table, index=index
    )
    write_s = time.perf_counter() - started
    started = time.perf_counter()
    stored = open_packed(root, "0000000000000001", key)
    assert stored is not None
    open_s = time.perf_counter() - started
    started = time.perf_counter()
    write_packed(
        root, "0000000000000002", key, kb_dir=kb_dir, contents=contents, table=table, index=index
    )
    again_s = time.perf_counter() - started
    print(
        f"arrays (npy): write all {write_s:.2f} s (index included), map back {open_s:.3f} s, "
        f"a new version after one change {again_s:.2f} s (index included)"
    )


if __name__ == "__main__":
    raise SystemExit(main())
