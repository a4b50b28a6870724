"""The lexicon data file: its layout, written by the build script and read at start-up.

The file is gzip'ed. Inside: ``MAGIC``, a 4-byte little-endian header length, a UTF-8 JSON
header, then the sections the header lists, back to back. A section is UTF-8 text or a
little-endian array of uint8 or uint32. Arrays, not Python objects, because start-up then
costs one decompression and a few ``frombytes`` calls instead of building a million objects;
lookups decode only the entries they touch.

Tables (T terms, S senses, Y synsets; ``*_start`` arrays are CSR offsets of length n+1):

- ``terms``: every lemma, lower-case, words joined by one space, sorted, one per line;
  a term's id is its line number.
- ``term_pos``: per term, a bit per part of speech it is a lemma of (``POS_ORDER``).
- ``term_senses_start``: per term, its kept senses in WordNet's frequency order: the first
  ``senses_per_pos`` of each part of speech, and any later one that has derived forms.
- ``sense_synset``, ``sense_pos``, ``sense_rank`` (1 = the commonest sense of that part of
  speech), ``sense_derived_start`` / ``derived_terms``: the term ids this sense's word is
  derivationally related to (lexical pointers: they belong to a word, not its synset). A
  sense ranked past ``senses_per_pos`` is kept for these only: its synonyms and links are not.
- ``synset_terms_start`` / ``synset_terms``: the lemmas of each synset, in WordNet's order.
- ``synset_links_start`` / ``synset_links`` / ``synset_link_kinds``: a kept sense's synset's
  links (one level) to other synsets, the kind indexing ``LINK_KINDS``.
- ``exceptions``: WordNet's morphological exception lists, ``pos<TAB>form<TAB>base...`` lines.
"""

from __future__ import annotations

import gzip
import itertools
import json
import struct
import sys
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

MAGIC: Final = b"licensebot-lexicon\n"
FORMAT: Final = 1
POS_ORDER: Final = ("n", "v", "a", "r")


class Relation(StrEnum):
    """How an expansion term is related to the word it was found for."""

    SYNONYM = "synonym"  # another lemma of the same synset
    DERIVED = "derived"  # derivationally related form, pertainym or participle's verb
    ATTRIBUTE = "attribute"  # the noun an adjective is a value of, and back (western, West)
    BROADER = "broader"  # one hypernym level; for an adjective satellite, its head
    INSTANCE_OF = "instance_of"  # the class a named thing is an instance of
    PART_OF = "part_of"  # the named thing a named place is part of (Tehran, Iran)


LINK_KINDS: Final = (
    Relation.BROADER,
    Relation.INSTANCE_OF,
    Relation.ATTRIBUTE,
    Relation.PART_OF,
)

_U32_SECTIONS: Final = (
    "term_senses_start",
    "sense_synset",
    "sense_derived_start",
    "derived_terms",
    "synset_terms_start",
    "synset_terms",
    "synset_links_start",
    "synset_links",
)
_U8_SECTIONS: Final = ("term_pos", "sense_pos", "sense_rank", "synset_link_kinds")
_TEXT_SECTIONS: Final = ("terms", "exceptions")


class LexiconDataError(ValueError):
    """The data file is not a lexicon this code can read."""


def u32(values: Any = ()) -> array[int]:
    """An unsigned 32-bit array (the typecode whose items are 4 bytes on this platform)."""
    for code in ("I", "L"):
        if array(code).itemsize == 4:
            return array(code, values)
    raise LexiconDataError("no 4-byte unsigned array type on this platform")


@dataclass(frozen=True, eq=False)
class Tables:
    """The lexicon's contents, as the builder writes them and the loader reads them."""

    terms: tuple[str, ...]
    term_pos: bytes
    term_senses_start: array[int]
    sense_synset: array[int]
    sense_pos: bytes
    sense_rank: bytes
    sense_derived_start: array[int]
    derived_terms: array[int]
    synset_terms_start: array[int]
    synset_terms: array[int]
    synset_links_start: array[int]
    synset_links: array[int]
    synset_link_kinds: bytes
    # pos -> inflected form -> base forms
    exceptions: Mapping[str, Mapping[str, tuple[str, ...]]]
    # pos -> (suffix, replacement) detachment rules, in the order they are tried
    rules: Mapping[str, tuple[tuple[str, str], ...]]
    senses_per_pos: int
    source: Mapping[str, Any]
    # The longest term's characters and word separators: longer input is no lemma.
    max_term_chars: int
    max_term_separators: int


def term_limits(terms: Iterable[str]) -> tuple[int, int]:
    """(max_term_chars, max_term_separators) of ``terms``; words are split at " " and "-"."""
    chars = separators = 0
    for term in terms:
        chars = max(chars, len(term))
        separators = max(separators, term.count(" ") + term.count("-"))
    return chars, separators


def encode(tables: Tables) -> bytes:
    """The gzip'ed data file for ``tables``: the same tables always give the same bytes."""
    sections: dict[str, bytes] = {
        "terms": "\n".join(tables.terms).encode(),
        "exceptions": _encode_exceptions(tables.exceptions).encode(),
    }
    for name in _U8_SECTIONS:
        sections[name] = bytes(getattr(tables, name))
    for name in _U32_SECTIONS:
        values = u32(getattr(tables, name))
        if sys.byteorder == "big":
            values.byteswap()
        sections[name] = values.tobytes()
    header = {
        "format": FORMAT,
        "senses_per_pos": tables.senses_per_pos,
        "max_term_chars": tables.max_term_chars,
        "max_term_separators": tables.max_term_separators,
        "pos_order": list(POS_ORDER),
        "link_kinds": [kind.value for kind in LINK_KINDS],
        "rules": {pos: [list(rule) for rule in rules] for pos, rules in tables.rules.items()},
        "source": tables.source,
        "counts": {
            "terms": len(tables.terms),
            "senses": len(tables.sense_synset),
            "synsets": len(tables.synset_terms_start) - 1,
            "derived_links": len(tables.derived_terms),
            "synset_links": {
                kind.value: tables.synset_link_kinds.count(i) for i, kind in enumerate(LINK_KINDS)
            },
            "exceptions": sum(len(forms) for forms in tables.exceptions.values()),
        },
        "sections": [[name, len(data)] for name, data in sections.items()],
    }
    header_bytes = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    payload = b"".join(
        [MAGIC, struct.pack("<I", len(header_bytes)), header_bytes, *sections.values()]
    )
    # mtime=0 keeps the gzip header free of the build time: same tables, same bytes.
    return gzip.compress(payload, compresslevel=9, mtime=0)


def decode(data: bytes) -> tuple[Tables, bytes]:
    """The tables in a data file, and the decompressed payload (for hashing)."""
    try:
        payload = gzip.decompress(data)
    except (OSError, EOFError) as exc:
        raise LexiconDataError(f"not a gzip stream: {exc}") from exc
    if not payload.startswith(MAGIC):
        raise LexiconDataError("not a licensebot lexicon (bad magic)")
    try:
        tables = _decode_payload(payload)
    except (KeyError, TypeError, ValueError, struct.error) as exc:
        if isinstance(exc, LexiconDataError):
            raise
        raise LexiconDataError(f"malformed data file: {exc!r}") from exc
    _check_shapes(tables)
    return tables, payload


def _decode_payload(payload: bytes) -> Tables:
    pos = len(MAGIC)
    (header_len,) = struct.unpack_from("<I", payload, pos)
    pos += 4
    try:
        header = json.loads(payload[pos : pos + header_len])
    except ValueError as exc:
        raise LexiconDataError(f"unreadable header: {exc}") from exc
    pos += header_len
    if header.get("format") != FORMAT:
        raise LexiconDataError(f"format {header.get('format')!r}, this code reads {FORMAT}")
    if header.get("pos_order") != list(POS_ORDER) or header.get("link_kinds") != [
        kind.value for kind in LINK_KINDS
    ]:
        raise LexiconDataError("parts of speech or link kinds differ from this code's")
    view = memoryview(payload)  # slices without copies: the payload is 7 MB
    raw: dict[str, memoryview] = {}
    for name, size in header["sections"]:
        raw[name] = view[pos : pos + size]
        pos += size
    if pos != len(payload) or set(raw) != {*_U32_SECTIONS, *_U8_SECTIONS, *_TEXT_SECTIONS}:
        raise LexiconDataError("sections do not match the header")
    arrays: dict[str, array[int]] = {}
    for name in _U32_SECTIONS:
        values = u32()
        values.frombytes(raw[name])
        if sys.byteorder == "big":
            values.byteswap()
        arrays[name] = values
    return Tables(
        terms=tuple(str(raw["terms"], "utf-8").split("\n")) if raw["terms"] else (),
        term_pos=bytes(raw["term_pos"]),
        sense_pos=bytes(raw["sense_pos"]),
        sense_rank=bytes(raw["sense_rank"]),
        synset_link_kinds=bytes(raw["synset_link_kinds"]),
        exceptions=_decode_exceptions(str(raw["exceptions"], "utf-8")),
        rules={
            pos: tuple((old, new) for old, new in rules) for pos, rules in header["rules"].items()
        },
        senses_per_pos=int(header["senses_per_pos"]),
        max_term_chars=int(header["max_term_chars"]),
        max_term_separators=int(header["max_term_separators"]),
        source=header["source"],
        **arrays,
    )


def _check_shapes(tables: Tables) -> None:
    """Catch a truncated or mismatched file at load, not as an IndexError mid-answer.

    Lengths only: gzip's CRC already vouches for the bytes, and ``validate`` (run by the
    build before it writes) for the values; scanning every array would double start-up.
    """
    n_terms, n_senses = len(tables.terms), len(tables.sense_synset)
    n_synsets = len(tables.synset_terms_start) - 1
    ok = (
        n_synsets >= 0
        and len(tables.term_pos) == n_terms
        and len(tables.term_senses_start) == n_terms + 1
        and len(tables.sense_pos) == len(tables.sense_rank) == n_senses
        and len(tables.sense_derived_start) == n_senses + 1
        and len(tables.synset_links_start) == n_synsets + 1
        and len(tables.synset_links) == len(tables.synset_link_kinds)
        and _ends_at(tables.term_senses_start, n_senses)
        and _ends_at(tables.sense_derived_start, len(tables.derived_terms))
        and _ends_at(tables.synset_terms_start, len(tables.synset_terms))
        and _ends_at(tables.synset_links_start, len(tables.synset_links))
    )
    if not ok:
        raise LexiconDataError("tables are inconsistent (truncated or corrupt data file)")


def validate(tables: Tables) -> None:
    """Every invariant the reader relies on; ``LexiconDataError`` naming the first broken."""
    _check_shapes(tables)
    n_terms, n_synsets = len(tables.terms), len(tables.synset_terms_start) - 1
    checks = {
        "terms sorted and unique": all(a < b for a, b in itertools.pairwise(tables.terms)),
        "terms normalised": all(
            t and t == " ".join(t.split()) and t == t.lower() for t in tables.terms
        ),
        "offsets ascending": all(
            all(a <= b for a, b in itertools.pairwise(starts))
            for starts in (
                tables.term_senses_start,
                tables.sense_derived_start,
                tables.synset_terms_start,
                tables.synset_links_start,
            )
        ),
        "term ids in range": max((*tables.derived_terms, *tables.synset_terms), default=-1)
        < n_terms,
        "synset ids in range": max((*tables.sense_synset, *tables.synset_links), default=-1)
        < n_synsets,
        "parts of speech in range": max(tables.sense_pos, default=0) < len(POS_ORDER)
        and max(tables.term_pos, default=0) < 1 << len(POS_ORDER),
        "sense ranks from 1": min(tables.sense_rank, default=1) >= 1,
        "senses past the cut carry derived forms": all(
            tables.sense_derived_start[sense + 1] > tables.sense_derived_start[sense]
            for sense, rank in enumerate(tables.sense_rank)
            if rank > tables.senses_per_pos
        ),
        "link kinds in range": max(tables.synset_link_kinds, default=0) < len(LINK_KINDS),
        "term limits": (tables.max_term_chars, tables.max_term_separators)
        == term_limits(tables.terms),
        "rules and exceptions per part of speech": set(tables.rules) <= set(POS_ORDER)
        and set(tables.exceptions) <= set(POS_ORDER),
    }
    broken = [name for name, ok in checks.items() if not ok]
    if broken:
        raise LexiconDataError(f"invalid tables: {', '.join(broken)}")


def _ends_at(starts: array[int], size: int) -> bool:
    return len(starts) > 0 and starts[0] == 0 and starts[-1] == size


def _encode_exceptions(exceptions: Mapping[str, Mapping[str, tuple[str, ...]]]) -> str:
    return "\n".join(
        "\t".join((pos, form, *bases))
        for pos in POS_ORDER
        for form, bases in sorted(exceptions.get(pos, {}).items())
    )


def _decode_exceptions(text: str) -> dict[str, dict[str, tuple[str, ...]]]:
    exceptions: dict[str, dict[str, tuple[str, ...]]] = {pos: {} for pos in POS_ORDER}
    for line in text.split("\n") if text else ():
        pos, form, *bases = line.split("\t")
        exceptions[pos][form] = tuple(bases)
    return exceptions
