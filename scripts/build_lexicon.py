"""Regenerate the lexicon shipped in knowledge/retrieval/data/ from WordNet 3.0.

Source: Princeton WordNet 3.0's database files (WNDB format) as Debian packages them:

    apt-get install -y wordnet-base wordnet-sense-index    # files in /usr/share/wordnet
    .venv/bin/python scripts/build_lexicon.py [--senses 2] [--wordnet DIR] [--out-dir DIR]

Writes ``wordnet-lexicon.bin.gz`` (layout: knowledge/retrieval/lexicon_format.py) and
``WORDNET-LICENSE``, the WordNet 3.0 licence from Debian's copyright file, which must ship
with anything derived from WordNet. The same inputs always give byte-identical outputs: the
header records the inputs' SHA-256, never paths or times.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path

from knowledge.retrieval.lexicon_format import encode, validate
from knowledge.retrieval.wndb import FILE_NAMES, WndbError, build_tables, read_wordnet

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "knowledge" / "retrieval" / "data"
DATA_NAME = "wordnet-lexicon.bin.gz"
LICENSE_NAME = "WORDNET-LICENSE"
DEFAULT_LABEL = "Princeton WordNet 3.0, WNDB files of Debian's wordnet-base"


def licence_text(copyright_file: Path) -> str:
    """The WordNet licence paragraph of a Debian (DEP-5) copyright file, unindented."""
    paragraphs = copyright_file.read_text(encoding="utf-8").split("\n\n")
    for paragraph in paragraphs:
        lines = paragraph.splitlines()
        starts = [i for i, line in enumerate(lines) if line.startswith("License: WordNet")]
        if not starts:
            continue
        copyright_lines = [line for line in lines if line.startswith("Copyright:")]
        body = []
        for line in lines[starts[0] + 1 :]:
            if not line.startswith(" "):
                break
            body.append("" if line.strip() == "." else line[1:])
        return "\n".join([*copyright_lines, "", *body]).strip() + "\n"
    raise WndbError(f"{copyright_file}: no 'License: WordNet…' paragraph")


def source_record(wordnet_dir: Path, label: str) -> dict[str, object]:
    names = [f"{kind}.{name}" for name in FILE_NAMES.values() for kind in ("data", "index")]
    names += [f"{name}.exc" for name in FILE_NAMES.values()]
    return {
        "label": label,
        "sha256": {n: hashlib.sha256((wordnet_dir / n).read_bytes()).hexdigest() for n in names},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wordnet", type=Path, default=Path("/usr/share/wordnet"))
    parser.add_argument(
        "--copyright", type=Path, default=Path("/usr/share/doc/wordnet-base/copyright")
    )
    parser.add_argument("--out-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--senses", type=int, default=2, help="senses kept per part of speech")
    parser.add_argument("--label", default=DEFAULT_LABEL, help="source label for the header")
    args = parser.parse_args(argv)
    try:
        licence = licence_text(args.copyright)
        wordnet = read_wordnet(args.wordnet)
        tables = build_tables(wordnet, args.senses, source_record(args.wordnet, args.label))
        validate(tables)
    except (OSError, ValueError) as exc:
        print(f"build_lexicon: {exc}", file=sys.stderr)
        return 1
    data = encode(tables)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    # Both files are written aside and renamed, so a failed build leaves the old pair whole.
    outputs = {DATA_NAME: data, LICENSE_NAME: licence.encode()}
    for name, content in outputs.items():
        (args.out_dir / f".{name}.tmp").write_bytes(content)
    for name in outputs:
        os.replace(args.out_dir / f".{name}.tmp", args.out_dir / name)
    print(
        f"{args.out_dir / DATA_NAME}: {len(data):,} bytes, {len(tables.terms):,} terms, "
        f"{len(tables.sense_synset):,} senses, {len(tables.synset_terms_start) - 1:,} synsets"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
