"""scripts/build_lexicon.py and the data format, on a hand-written WNDB fixture.

CI has no /usr/share/wordnet: ``wndb_fixture/`` holds a few synsets in WordNet's own file
format (offsets are byte positions, as in the real files) covering every pointer the build
reads: synonyms, derivationally related forms, pertainyms, attributes, hypernyms, instance
hypernyms, adjective satellites, adjective markers, exception lists and a third sense.
"""

from __future__ import annotations

import dataclasses
import gzip
import importlib.util
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from knowledge.retrieval import lexicon_format
from knowledge.retrieval.lexicon import DATA_FILE, Lexicon, LexiconDataError, Relation
from knowledge.retrieval.lexicon_format import decode, encode, validate
from knowledge.retrieval.wndb import build_tables, read_wordnet

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "build_lexicon.py"
FIXTURE = Path(__file__).resolve().parent / "wndb_fixture"


def build_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_lexicon", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(out: Path, *extra: str, wordnet: Path = FIXTURE) -> int:
    argv = ["--wordnet", str(wordnet), "--copyright", str(FIXTURE / "copyright")]
    code: int = build_script().main([*argv, "--out-dir", str(out), "--label", "fixture", *extra])
    return code


@pytest.fixture(scope="module")
def fixture_lexicon(tmp_path_factory: pytest.TempPathFactory) -> Lexicon:
    out = tmp_path_factory.mktemp("lexicon")
    assert build(out) == 0
    return Lexicon.from_bytes((out / DATA_FILE).read_bytes())


def related(lexicon: Lexicon, word: str, relation: Relation) -> list[str]:
    return [r.term for r in lexicon.related(word, relations=[relation])]


def test_the_script_is_deterministic(tmp_path: Path) -> None:
    runs = []
    for seed in ("1", "2"):  # set and dict order must not leak into the file
        out = tmp_path / seed
        args = ["--wordnet", str(FIXTURE), "--copyright", str(FIXTURE / "copyright")]
        result = subprocess.run(
            [sys.executable, str(SCRIPT), *args, "--out-dir", str(out)],
            capture_output=True,
            text=True,
            check=True,
            cwd=tmp_path,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        assert "33 terms" in result.stdout
        runs.append({p.name: p.read_bytes() for p in out.iterdir()})
    assert runs[0] == runs[1]
    assert set(runs[0]) == {DATA_FILE, "WORDNET-LICENSE"}


def test_licence_is_the_wordnet_paragraph(tmp_path: Path) -> None:
    assert build(tmp_path) == 0
    assert (tmp_path / "WORDNET-LICENSE").read_text(encoding="utf-8") == (
        "Copyright: © 2006 Fixture Authors\n\n"
        "Fixture licence, first paragraph.\n\nSecond paragraph.\n"
    )


def test_header_records_parameters_and_sources(tmp_path: Path) -> None:
    assert build(tmp_path, "--senses", "3") == 0
    tables, _ = decode((tmp_path / DATA_FILE).read_bytes())
    assert tables.senses_per_pos == 3
    assert tables.source["label"] == "fixture"
    expected = {f"{k}.{p}" for p in ("noun", "verb", "adj", "adv") for k in ("data", "index")}
    assert set(tables.source["sha256"]) == expected | {
        f"{p}.exc" for p in ("noun", "verb", "adj", "adv")
    }
    assert tables.rules["v"][0] == ("s", "")
    assert tables.rules["r"] == ()


def test_synonyms_and_multi_word_lemmas(fixture_lexicon: Lexicon) -> None:
    assert related(fixture_lexicon, "inventor", Relation.SYNONYM) == ["discoverer"]
    assert related(fixture_lexicon, "News_Agency", Relation.SYNONYM) == ["wire service"]
    assert related(fixture_lexicon, "firm", Relation.SYNONYM) == ["house", "business firm"]


def test_derived_forms_both_ways(fixture_lexicon: Lexicon) -> None:
    assert related(fixture_lexicon, "inventor", Relation.DERIVED) == ["invent"]
    assert related(fixture_lexicon, "invent", Relation.DERIVED) == ["inventor"]
    # Lexical pointers belong to one word of the synset: "get" is not "acquisition"'s.
    assert related(fixture_lexicon, "acquire", Relation.DERIVED) == ["acquisition"]
    assert related(fixture_lexicon, "get", Relation.DERIVED) == []
    assert related(fixture_lexicon, "acquisition", Relation.DERIVED) == ["acquire"]
    # Pertainyms are stored one way (adjective -> noun, adverb -> adjective); both are kept.
    assert related(fixture_lexicon, "criminal", Relation.DERIVED) == ["crime", "criminally"]
    assert related(fixture_lexicon, "crime", Relation.DERIVED) == ["criminal"]
    assert related(fixture_lexicon, "criminally", Relation.DERIVED) == ["criminal"]


def test_attribute_both_ways(fixture_lexicon: Lexicon) -> None:
    assert related(fixture_lexicon, "western", Relation.ATTRIBUTE) == ["west", "occident"]
    assert related(fixture_lexicon, "West", Relation.ATTRIBUTE) == ["western"]


def test_broader_instance_of_and_satellites(fixture_lexicon: Lexicon) -> None:
    assert related(fixture_lexicon, "inventor", Relation.BROADER) == ["creator"]
    assert related(fixture_lexicon, "purchase", Relation.BROADER) == ["get", "acquire"]
    assert related(fixture_lexicon, "reuters", Relation.INSTANCE_OF) == [
        "news agency",
        "wire service",
    ]
    assert related(fixture_lexicon, "reuters", Relation.BROADER) == []
    # A satellite's head is its broader term; "galore(ip)" loses its marker; the head's
    # own "similar to" pointers (to its satellites) are not broader terms.
    assert related(fixture_lexicon, "westerly", Relation.BROADER) == ["west"]
    assert related(fixture_lexicon, "galore", Relation.BROADER) == ["abundant"]
    assert related(fixture_lexicon, "abundant", Relation.BROADER) == []
    # One level only: "creator"'s own hypernym is not "inventor"'s.
    assert "entity" not in related(fixture_lexicon, "inventor", Relation.BROADER)


def test_sense_cut_is_a_build_parameter(tmp_path: Path, fixture_lexicon: Lexicon) -> None:
    def company_senses(lexicon: Lexicon) -> dict[str, int]:
        return {r.term: r.sense_rank for r in lexicon.related("companies")}

    assert company_senses(fixture_lexicon) == {"entity": 1, "companionship": 2}
    assert build(tmp_path, "--senses", "3") == 0
    wider = Lexicon.from_bytes((tmp_path / DATA_FILE).read_bytes())
    assert wider.senses_per_pos == 3
    assert company_senses(wider) == {"entity": 1, "companionship": 2, "troupe": 3}
    assert wider.version != fixture_lexicon.version
    assert wider.version.startswith("wordnet-3.0/1/3/")


def test_morphy_on_the_fixture(fixture_lexicon: Lexicon) -> None:
    assert fixture_lexicon.lemmas("bought") == ("buy",)
    assert fixture_lexicon.lemmas("got") == ("get",)
    # An exception list entry replaces the rules: "axes" is "ax" or "axis", never "axe".
    assert fixture_lexicon.lemmas("axes") == ("ax", "axis")
    assert fixture_lexicon.lemmas("companies") == ("company",)
    assert fixture_lexicon.lemmas("news agencies") == ("news agency",)
    assert fixture_lexicon.lemmas("worse") == ()  # its base form "bad" is not a lemma here
    assert fixture_lexicon.lemmas("Purchasing") == ("purchase",)


def test_tables_round_trip_and_validate() -> None:
    tables = build_tables(read_wordnet(FIXTURE), 2, {"label": "fixture"})
    validate(tables)
    decoded, _ = decode(encode(tables))
    for field in dataclasses.fields(tables):
        original, back = getattr(tables, field.name), getattr(decoded, field.name)
        if field.name == "exceptions":
            assert {p: dict(f) for p, f in back.items() if f} == {
                p: dict(f) for p, f in original.items() if f
            }
        elif field.name == "rules":
            assert dict(back) == dict(original)
        else:
            assert back == original, field.name


def test_validate_names_what_is_broken() -> None:
    tables = build_tables(read_wordnet(FIXTURE), 2, {})
    unsorted = dataclasses.replace(tables, terms=tuple(reversed(tables.terms)))
    with pytest.raises(LexiconDataError, match="terms sorted"):
        validate(unsorted)
    kinds = dataclasses.replace(tables, synset_link_kinds=bytes([9]) * len(tables.synset_links))
    with pytest.raises(LexiconDataError, match="link kinds"):
        validate(kinds)


def copy_fixture(tmp_path: Path) -> Path:
    broken = tmp_path / "wordnet"
    shutil.copytree(FIXTURE, broken)
    return broken


@pytest.mark.parametrize(
    "case",
    [
        ("data.noun", " 18 n 02 inventor", " 18 n 02  inventor", "offset"),  # shifts the rest
        ("data.verb", "002 ~ ", "003 ~ ", "malformed synset"),
        ("data.adj", " a 01 west ", " q 01 west ", "synset type"),
        ("index.verb", "buy v 1 1 @ 1 1 ", "buy v 2 1 @ 1 1 ", "2 senses announced"),
        ("index.adv", "criminally r 1 1 \\ 1 0 0", "criminally r 1 1 \\ 1 0 9", "names no synset"),
        ("noun.exc", "axes ax axis", "axes", "needs a form and a base form"),
    ],
)
def test_malformed_wordnet_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: tuple[str, str, str, str]
) -> None:
    name, old, new, message = case
    broken = copy_fixture(tmp_path)
    text = (broken / name).read_text(encoding="ascii")
    assert old in text
    (broken / name).write_text(text.replace(old, new, 1), encoding="ascii")
    out = tmp_path / "out"
    assert build(out, wordnet=broken) == 1
    assert message in capsys.readouterr().err
    assert not out.exists()  # nothing half-written


def test_missing_files_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = copy_fixture(tmp_path)
    (broken / "verb.exc").unlink()
    assert build(tmp_path / "out", wordnet=broken) == 1
    assert "verb.exc" in capsys.readouterr().err
    assert build(tmp_path / "out", wordnet=tmp_path / "nowhere") == 1
    assert "nowhere" in capsys.readouterr().err


def test_copyright_without_wordnet_licence_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copyright_file = tmp_path / "copyright"
    copyright_file.write_text("Files: *\nLicense: GPL-2+\n Not WordNet's.\n", encoding="utf-8")
    code = build_script().main(
        [
            "--wordnet",
            str(FIXTURE),
            "--copyright",
            str(copyright_file),
            "--out-dir",
            str(tmp_path / "o"),
        ]
    )
    assert code == 1
    assert "no 'License: WordNet" in capsys.readouterr().err


def test_unreadable_data_files_are_refused() -> None:
    tables = build_tables(read_wordnet(FIXTURE), 2, {})
    good = encode(tables)
    payload = gzip.decompress(good)
    magic = lexicon_format.MAGIC

    def gz(data: bytes) -> bytes:
        return gzip.compress(data, mtime=0)

    bad_files = {
        "not a gzip stream": b"plain bytes",
        "not a gzip stream: ": good[: len(good) // 2],  # truncated
        "bad magic": gz(b"x" + payload[1:]),
        "unreadable header": gz(magic + struct.pack("<I", 5) + b"{nope"),
        "format 9": gz(payload.replace(b'"format":1', b'"format":9', 1)),
        "sections do not match": gz(payload[:-1]),
        "malformed data file": gz(magic + b"\x01"),  # no room for the header length
        "malformed data file: KeyError": gz(payload.replace(b'"sections"', b'"sectionz"', 1)),
        "inconsistent": encode(dataclasses.replace(tables, sense_rank=tables.sense_rank[:-1])),
    }
    for message, data in bad_files.items():
        with pytest.raises(LexiconDataError, match=message):
            Lexicon.from_bytes(data)
