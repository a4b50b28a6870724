"""Build the lexicon's tables from WordNet's own database files (the WNDB format).

Used by ``scripts/build_lexicon.py`` only; nothing reads WordNet at run time. The format is
Princeton's ``wndb(5WN)``: ``index.<pos>`` lists each lemma's synsets commonest first,
``data.<pos>`` holds the synsets (words and pointers; a synset's offset is its byte position
in the file), ``<pos>.exc`` the irregular inflections. The detachment rules are morphy's
(``morphy(7WN)``), which no file carries.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from knowledge.retrieval.lexicon_format import (
    LINK_KINDS,
    POS_ORDER,
    Relation,
    Tables,
    term_limits,
    u32,
)

FILE_NAMES: Final = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}

# morphy(7WN): suffix -> replacement, tried in this order. Adverbs have only exceptions.
DETACHMENT_RULES: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "n": (
        ("s", ""),
        ("ses", "s"),
        ("xes", "x"),
        ("zes", "z"),
        ("ches", "ch"),
        ("shes", "sh"),
        ("men", "man"),
        ("ies", "y"),
    ),
    "v": (
        ("s", ""),
        ("ies", "y"),
        ("es", "e"),
        ("es", ""),
        ("ed", "e"),
        ("ed", ""),
        ("ing", "e"),
        ("ing", ""),
    ),
    "a": (("er", ""), ("est", ""), ("er", "e"), ("est", "e")),
    "r": (),
}

# Lexical pointers kept as "derived": derivationally related form, pertainym ("pertains to
# noun" for adjectives, "derived from adjective" for adverbs), participle of verb. WordNet
# stores pertainyms and participles one way only; the build adds the other direction.
DERIVED_SYMBOLS: Final = frozenset({"+", "\\", "<"})
_LINK_SYMBOLS: Final = {"@": Relation.BROADER, "@i": Relation.INSTANCE_OF, "=": Relation.ATTRIBUTE}
# A named thing's part holonym ("Tehran" is part of "Iran"), kept only where the synset is
# an instance (a named thing): a common noun's parts and wholes ("wheel", "car") are too loose.
_PART_HOLONYM: Final = "#p"
# An adjective satellite's "similar to" pointer leads to its cluster's head adjective.
_SATELLITE_HEAD: Final = "&"

_MARKER_RE: Final = re.compile(r"\((?:a|p|ip)\)$")

SynsetKey = tuple[str, int]  # (file's part of speech, offset)


class WndbError(ValueError):
    """A WordNet database file could not be read."""


@dataclass(frozen=True, slots=True)
class Pointer:
    symbol: str
    target: SynsetKey
    source_word: int  # 1-based word number in the source synset; 0 for the whole synset
    target_word: int


@dataclass(frozen=True, slots=True)
class Synset:
    key: SynsetKey
    ss_type: str  # n, v, a, s (adjective satellite) or r
    words: tuple[str, ...]  # lemmas as terms: lower-case, spaces between words
    pointers: tuple[Pointer, ...]


@dataclass(frozen=True)
class WordNet:
    synsets: dict[SynsetKey, Synset]
    # pos -> lemma -> synset offsets, commonest sense first
    index: dict[str, dict[str, tuple[int, ...]]]
    exceptions: dict[str, dict[str, tuple[str, ...]]]


def term(word: str) -> str:
    """WordNet's spelling of a lemma (``News_Agency``, ``galore(ip)``) as a lexicon term."""
    return _MARKER_RE.sub("", word).replace("_", " ").lower()


def read_wordnet(directory: Path) -> WordNet:
    """Parse the ``data.*``, ``index.*`` and ``*.exc`` files in ``directory``."""
    synsets: dict[SynsetKey, Synset] = {}
    index: dict[str, dict[str, tuple[int, ...]]] = {}
    exceptions: dict[str, dict[str, tuple[str, ...]]] = {}
    for pos, name in FILE_NAMES.items():
        synsets.update(_read_data(directory / f"data.{name}", pos))
        index[pos] = _read_index(directory / f"index.{name}", pos)
        exceptions[pos] = _read_exceptions(directory / f"{name}.exc")
    for pos, lemmas in index.items():
        for lemma, offsets in lemmas.items():
            for offset in offsets:
                if (pos, offset) not in synsets:
                    raise WndbError(f"index.{FILE_NAMES[pos]}: {lemma!r} names no synset {offset}")
    return WordNet(synsets=synsets, index=index, exceptions=exceptions)


def _lines(path: Path) -> list[tuple[int, int, str]]:
    """(line number, byte offset, text) of each non-licence line."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise WndbError(f"{path}: {exc.strerror or exc}") from exc
    out: list[tuple[int, int, str]] = []
    offset = 0
    for number, raw in enumerate(data.splitlines(keepends=True), start=1):
        # Licence lines start with two spaces; everything else is one record per line.
        if not raw.startswith(b"  ") and raw.strip():
            try:
                out.append((number, offset, raw.decode("ascii").rstrip("\r\n")))
            except UnicodeDecodeError as exc:
                raise WndbError(f"{path}:{number}: not ASCII") from exc
        offset += len(raw)
    return out


def _read_data(path: Path, pos: str) -> dict[SynsetKey, Synset]:
    synsets: dict[SynsetKey, Synset] = {}
    for number, byte_offset, line in _lines(path):
        try:
            synset = _parse_synset(line, pos)
        except (ValueError, IndexError) as exc:
            raise WndbError(f"{path}:{number}: malformed synset ({exc})") from exc
        if synset.key[1] != byte_offset:
            raise WndbError(f"{path}:{number}: offset {synset.key[1]} is not the line's position")
        synsets[synset.key] = synset
    return synsets


def _parse_synset(line: str, pos: str) -> Synset:
    fields = line.split("|", 1)[0].split()
    offset, ss_type, w_cnt = int(fields[0]), fields[2], int(fields[3], 16)
    if ss_type not in ({"a", "s"} if pos == "a" else {pos}) or w_cnt < 1:
        raise ValueError(f"synset type {ss_type!r} or word count {w_cnt} in data.{pos}")
    words = tuple(term(fields[4 + 2 * i]) for i in range(w_cnt))
    i = 4 + 2 * w_cnt
    pointers = []
    for _ in range(int(fields[i])):
        symbol, target, target_pos, words_field = fields[i + 1 : i + 5]
        if len(words_field) != 4 or target_pos not in "nvasr":
            raise ValueError(f"pointer {fields[i + 1 : i + 5]}")
        pointers.append(
            Pointer(
                symbol=symbol,
                target=("a" if target_pos == "s" else target_pos, int(target)),
                source_word=int(words_field[:2], 16),
                target_word=int(words_field[2:], 16),
            )
        )
        i += 4
    return Synset(key=(pos, offset), ss_type=ss_type, words=words, pointers=tuple(pointers))


def _read_index(path: Path, pos: str) -> dict[str, tuple[int, ...]]:
    lemmas: dict[str, tuple[int, ...]] = {}
    for number, _, line in _lines(path):
        fields = line.split()
        try:
            synset_cnt, p_cnt = int(fields[2]), int(fields[3])
            offsets = fields[6 + p_cnt :]
            if fields[1] != pos or len(offsets) != synset_cnt:
                raise ValueError(f"{synset_cnt} senses announced, {len(offsets)} listed")
            lemmas[term(fields[0])] = tuple(int(offset) for offset in offsets)
        except (ValueError, IndexError) as exc:
            raise WndbError(f"{path}:{number}: malformed index line ({exc})") from exc
    return lemmas


def _read_exceptions(path: Path) -> dict[str, tuple[str, ...]]:
    forms: dict[str, tuple[str, ...]] = {}
    for number, _, line in _lines(path):
        fields = line.split()
        if len(fields) < 2:
            raise WndbError(f"{path}:{number}: an exception needs a form and a base form")
        forms[term(fields[0])] = tuple(term(base) for base in fields[1:])
    return forms


def build_tables(wordnet: WordNet, senses_per_pos: int, source: dict[str, object]) -> Tables:
    """The lexicon's tables: each lemma's first ``senses_per_pos`` senses per part of speech.

    Derived forms are kept for every sense: they join word forms rather than meanings, and
    WordNet often puts one on a later sense only ("criminal" -> "crime" is on the adjective's
    third); all senses hold under 5 % more derived pairs than the first two.
    """
    if not 1 <= senses_per_pos <= 255:
        raise ValueError("senses_per_pos must be between 1 and 255")
    derived = _derived_words(wordnet)
    kept: list[tuple[str, str, int, SynsetKey, tuple[str, ...]]] = []  # lemma pos rank key forms
    for pos in POS_ORDER:
        for lemma, offsets in wordnet.index[pos].items():
            if len(offsets) > 255:
                raise WndbError(f"index.{FILE_NAMES[pos]}: {lemma!r} has over 255 senses")
            for rank, offset in enumerate(offsets, start=1):
                key = (pos, offset)
                forms = _sense_derived(derived, wordnet.synsets[key], lemma)
                if rank <= senses_per_pos or forms:
                    kept.append((lemma, pos, rank, key, forms))
    linked = {key for _, _, rank, key, _ in kept if rank <= senses_per_pos}
    links = {key: _synset_links(wordnet.synsets[key]) for key in linked}
    synset_keys = sorted(
        {key for _, _, _, key, _ in kept} | {target for out in links.values() for target, _ in out}
    )
    synset_id = {key: i for i, key in enumerate(synset_keys)}

    terms = sorted(
        {lemma for lemmas in wordnet.index.values() for lemma in lemmas}
        | {word for key in synset_keys for word in wordnet.synsets[key].words}
        | {word for targets in derived.values() for word in targets}
    )
    term_id = {t: i for i, t in enumerate(terms)}
    term_pos = bytearray(len(terms))
    for bit, pos in enumerate(POS_ORDER):
        for lemma in wordnet.index[pos]:
            term_pos[term_id[lemma]] |= 1 << bit

    by_term: dict[int, list[tuple[str, int, SynsetKey, tuple[str, ...]]]] = defaultdict(list)
    for lemma, pos, rank, key, forms in kept:
        by_term[term_id[lemma]].append((pos, rank, key, forms))
    term_senses_start, sense_synset, derived_start, derived_terms = u32([0]), u32(), u32([0]), u32()
    sense_pos, sense_rank = bytearray(), bytearray()
    for tid in range(len(terms)):
        for pos, rank, key, forms in by_term.get(tid, ()):
            sense_synset.append(synset_id[key])
            sense_pos.append(POS_ORDER.index(pos))
            sense_rank.append(rank)
            derived_terms.extend(term_id[form] for form in forms)
            derived_start.append(len(derived_terms))
        term_senses_start.append(len(sense_synset))

    synset_terms_start, synset_terms = u32([0]), u32()
    links_start, link_targets, link_kinds = u32([0]), u32(), bytearray()
    for key in synset_keys:
        synset_terms.extend(term_id[w] for w in dict.fromkeys(wordnet.synsets[key].words))
        synset_terms_start.append(len(synset_terms))
        for target, kind in links.get(key, ()):
            link_targets.append(synset_id[target])
            link_kinds.append(LINK_KINDS.index(kind))
        links_start.append(len(link_targets))

    max_chars, max_separators = term_limits(terms)
    return Tables(
        terms=tuple(terms),
        term_pos=bytes(term_pos),
        term_senses_start=term_senses_start,
        sense_synset=sense_synset,
        sense_pos=bytes(sense_pos),
        sense_rank=bytes(sense_rank),
        sense_derived_start=derived_start,
        derived_terms=derived_terms,
        synset_terms_start=synset_terms_start,
        synset_terms=synset_terms,
        synset_links_start=links_start,
        synset_links=link_targets,
        synset_link_kinds=bytes(link_kinds),
        exceptions=wordnet.exceptions,
        rules=DETACHMENT_RULES,
        senses_per_pos=senses_per_pos,
        source=source,
        max_term_chars=max_chars,
        max_term_separators=max_separators,
    )


def _synset_links(synset: Synset) -> list[tuple[SynsetKey, Relation]]:
    """One level of semantic links out of ``synset``, de-duplicated, in WordNet's order."""
    out: dict[tuple[SynsetKey, Relation], None] = {}
    named = any(p.symbol == "@i" for p in synset.pointers)
    for pointer in synset.pointers:
        kind = _LINK_SYMBOLS.get(pointer.symbol)
        if kind is None and pointer.symbol == _SATELLITE_HEAD and synset.ss_type == "s":
            kind = Relation.BROADER
        if kind is None and pointer.symbol == _PART_HOLONYM and named:
            kind = Relation.PART_OF
        if kind is not None and pointer.source_word == 0:
            out[(pointer.target, kind)] = None
    return list(out)


def _sense_derived(
    derived: dict[tuple[SynsetKey, int], tuple[str, ...]], synset: Synset, lemma: str
) -> tuple[str, ...]:
    """The derived forms of ``lemma``'s word in ``synset``, without ``lemma`` itself."""
    forms: dict[str, None] = {}
    for number, word in enumerate(synset.words, start=1):
        if word == lemma:
            forms.update(dict.fromkeys(derived.get((synset.key, number), ())))
    forms.pop(lemma, None)
    return tuple(forms)


def _derived_words(wordnet: WordNet) -> dict[tuple[SynsetKey, int], tuple[str, ...]]:
    """(synset, word number) -> the words its lexical "derived" pointers lead to, both ways."""
    targets: dict[tuple[SynsetKey, int], dict[str, None]] = defaultdict(dict)
    for synset in wordnet.synsets.values():
        for pointer in synset.pointers:
            if pointer.symbol not in DERIVED_SYMBOLS or pointer.source_word == 0:
                continue
            target = wordnet.synsets.get(pointer.target)
            if target is None or not 0 < pointer.target_word <= len(target.words):
                raise WndbError(f"synset {synset.key}: pointer to a missing word {pointer}")
            targets[(synset.key, pointer.source_word)][target.words[pointer.target_word - 1]] = None
            back = (target.key, pointer.target_word)
            targets[back][synset.words[pointer.source_word - 1]] = None
    return {key: tuple(words) for key, words in targets.items()}
