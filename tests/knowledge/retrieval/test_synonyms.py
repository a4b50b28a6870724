"""The knowledge base's own synonyms: ``[synonyms] rules`` in manifest.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.ingest.manifest import MANIFEST_NAME, read_manifest
from knowledge.retrieval.synonyms import RuleError, SynonymRule, compile_rules, parse_rule
from knowledge.retrieval.tokenizer import default_analyzer
from knowledge.service import check_kb_dir


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / MANIFEST_NAME).write_text(text, encoding="utf-8")
    return tmp_path


def test_an_equivalence_finds_every_term_from_every_other() -> None:
    rule = parse_rule("handset, phone, mobile phone")
    assert isinstance(rule, SynonymRule)
    assert rule.sources == rule.targets == ("handset", "phone", "mobile phone")
    assert not rule.explicit


def test_an_explicit_mapping_goes_one_way() -> None:
    rule = parse_rule("blacklist,  trade   blacklist => entity list")
    assert isinstance(rule, SynonymRule)
    assert rule.sources == ("blacklist", "trade blacklist")
    assert rule.targets == ("entity list",)
    assert rule.explicit


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("a => b => c", "more than one “=>”"),
        (" => entity list", "no term left of “=>”"),
        ("blacklist =>", "no term right of “=>”"),
        ("phone, , handset", "an empty term"),
        ("phone,", "an empty term"),
        ("phone", "at least two different terms"),
        ("phone, phone", "at least two different terms"),
        ("a b c d e f, g", "more than 5 words"),
        ("x" * 101 + ", y", "longer than 100 characters"),
    ],
)
def test_malformed_rules_say_why(text: str, reason: str) -> None:
    error = parse_rule(text, line=7)
    assert isinstance(error, RuleError)
    assert reason in error.reason
    assert error.line == 7


def test_compiled_rules_meet_on_index_terms() -> None:
    analyzer = default_analyzer()
    rules = [
        r
        for r in (parse_rule("handsets, mobile phone"), parse_rule("Blacklisted => Entity List"))
        if isinstance(r, SynonymRule)
    ]
    table, errors = compile_rules(rules, analyzer.tokenize)
    assert errors == []
    handset = tuple(analyzer.tokenize("handset"))
    phone = tuple(analyzer.tokenize("mobile phones"))
    entity = tuple(analyzer.tokenize("entity list"))
    # Inflections meet: "handsets" in the rule, "handset" in a question.
    assert table.lookup(handset) == ((phone, "mobile phone"),)
    assert table.lookup(phone) == ((handset, "handsets"),)
    assert table.lookup(tuple(analyzer.tokenize("blacklisting"))) == ((entity, "Entity List"),)
    assert table.lookup(entity) == ()  # explicit: not the other way round
    assert table.longest == 2


def test_a_term_of_stopwords_only_is_an_error() -> None:
    rule = parse_rule("the, of")
    assert isinstance(rule, SynonymRule)
    _, errors = compile_rules([rule], default_analyzer().tokenize)
    assert [e.reason for e in errors] == ["'the' has no word the index keeps"]


def test_manifest_rules_are_read_with_their_lines(tmp_path: Path) -> None:
    manifest, problems = read_manifest(
        write(
            tmp_path,
            "[synonyms]\nrules = [\n  \"handset, phone\",\n  'blacklist => entity list',\n]\n",
        )
    )
    assert problems == []
    assert [(r.text, r.line) for r in manifest.synonyms] == [
        ("handset, phone", 3),
        ("blacklist => entity list", 4),
    ]


def test_no_synonyms_table_is_no_rules(tmp_path: Path) -> None:
    manifest, problems = read_manifest(write(tmp_path, '[cleaning]\nextra_patterns = ["^Ad"]\n'))
    assert problems == []
    assert manifest.synonyms == ()


def test_every_bad_rule_is_a_problem_at_its_line_and_no_rule_is_kept(tmp_path: Path) -> None:
    text = (
        "[synonyms]\n"
        "rules = [\n"
        '  "handset, phone",\n'
        '  "a => ",\n'
        '  "the, of",\n'
        '  "solo",\n'
        "]\n"
        "extra = 1\n"
    )
    manifest, problems = read_manifest(write(tmp_path, text))
    assert manifest.synonyms == ()  # all or nothing, like a reload
    shown = [str(p) for p in problems]
    assert shown == [
        "manifest.toml:1: synonyms: unknown key 'extra'",
        "manifest.toml:4: synonym rule 'a => ': no term right of “=>”",
        "manifest.toml:5: synonym rule 'the, of': 'the' has no word the index keeps",
        "manifest.toml:6: synonym rule 'solo': an equivalence needs at least two different terms",
    ]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('synonyms = "phone, handset"\n', "[synonyms] must be a table"),
        ("[synonyms]\nrules = 3\n", "synonyms.rules must be a list of strings"),
        ('[synonyms]\nrules = ["a, b", 3]\n', "synonyms.rules must be a list of strings"),
    ],
)
def test_malformed_tables_are_problems(tmp_path: Path, text: str, reason: str) -> None:
    _, problems = read_manifest(write(tmp_path, text))
    assert [p.reason for p in problems] == [reason]


def test_too_many_rules_is_a_problem(tmp_path: Path) -> None:
    rules = ", ".join(f'"w{i}, v{i}"' for i in range(1001))
    _, problems = read_manifest(write(tmp_path, f"[synonyms]\nrules = [{rules}]\n"))
    assert [p.reason for p in problems] == ["synonyms.rules has 1001 rules; at most 1000"]


def test_kb_check_reports_bad_rules(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Acme licensed its phone patents.\n", encoding="utf-8")
    write(tmp_path, '[synonyms]\nrules = ["phone"]\n')
    assert [str(p) for p in check_kb_dir(tmp_path)] == [
        "manifest.toml:2: synonym rule 'phone': an equivalence needs at least two different terms"
    ]
