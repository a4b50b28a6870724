from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cli_runner import in_process_cli

from bot.commands.ask import SAMPLE_QUESTIONS
from knowledge.service import KnowledgeBase

LICENSEBOT = Path(sys.executable).with_name("licensebot")
QUOTE_KEYS = {
    "text", "doc_id", "passage_id", "title", "publisher", "published", "date_estimated",
    "url", "start", "end", "score", "matched_terms", "also_reported_by", "expanded_terms",
}  # fmt: skip
PANG = "What did Pang say about the long journey?"


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The caller's environment without any licensebot or Slack settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LICENSEBOT_", "SLACK_")) and k != "PYTHONWARNINGS"
    }
    env["LICENSEBOT_DATA_DIR"] = str(tmp_path / "var")
    env.update(extra)
    return env


def run(
    tmp_path: Path, *args: str, stdin: str | None = None, module: bool = False, **env: str
) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "bot", *args] if module else [str(LICENSEBOT), *args]
    return subprocess.run(
        cmd,
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        text=True,
        cwd=tmp_path,  # no stray .env is read and nothing is written outside tmp_path
        env=clean_env(tmp_path, **env),
        timeout=60,
        check=False,
    )


@pytest.fixture
def cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Callable[..., tuple[int, str, str]]]:
    yield from in_process_cli(tmp_path, monkeypatch, capsys)


def one_json_object(stdout: str) -> dict[str, object]:
    assert stdout.endswith("\n")
    assert stdout.count("\n") == 1, stdout
    data = json.loads(stdout)
    assert isinstance(data, dict)
    return data


def small_kb(root: Path) -> Path:
    root.mkdir()
    (root / "acme.txt").write_text(
        "Acme Widgets will license its battery patents to three rival carmakers.\n",
        encoding="utf-8",
    )
    return root


def test_the_licensebot_script_is_installed() -> None:
    assert LICENSEBOT.is_file()


def test_ask_json_lists_the_other_words_that_matched(tmp_path: Path) -> None:
    # "buy" is not in the article; "acquired" is, and the lexicon relates them.
    proc = run(tmp_path, "ask", "When did Nokia buy Alcatel-Lucent?", "--json")
    assert proc.returncode == 0, proc.stderr
    data = one_json_object(proc.stdout)
    quotes = data["quotes"]
    assert isinstance(quotes, list)
    first = quotes[0]
    assert set(first) == QUOTE_KEYS
    assert first["expanded_terms"] == [{"term": "acquired", "for": "buy"}]
    assert "acquired" in first["text"]
    assert "buy" not in first["matched_terms"]
    for quote in quotes:
        for item in quote["expanded_terms"]:
            assert set(item) == {"term", "for"}
            assert item["term"] in quote["text"]
            assert isinstance(item["for"], str)


def test_ask_says_which_other_word_matched(tmp_path: Path) -> None:
    proc = run(tmp_path, "ask", "When did Nokia buy Alcatel-Lucent?")
    assert proc.returncode == 0, proc.stderr
    assert "   matched “acquired” for “buy”" in proc.stdout.splitlines()


def test_a_typo_is_shown_as_the_word_it_was_taken_for(tmp_path: Path) -> None:
    proc = run(tmp_path, "ask", "When did Nokia aquire Alcatel-Lucent?", "--json")
    data = one_json_object(proc.stdout)
    assert data["answered"] is True
    quotes = data["quotes"]
    assert isinstance(quotes, list)
    assert {"term": "acquired", "for": "aquire"} in quotes[0]["expanded_terms"]


def test_ask_json_prints_exactly_one_json_object(tmp_path: Path) -> None:
    proc = run(tmp_path, "ask", PANG, "--json")
    assert proc.returncode == 0, proc.stderr
    data = one_json_object(proc.stdout)
    assert set(data) == {"question", "answered", "reason", "kb_version", "quotes"}
    assert data["question"] == PANG
    assert data["answered"] is True
    assert data["kb_version"] == KnowledgeBase.load().kb_version
    quotes = data["quotes"]
    assert isinstance(quotes, list)
    assert 1 <= len(quotes) <= 3
    for quote in quotes:
        assert set(quote) == QUOTE_KEYS
    pang = [q for q in quotes if "long journey" in q["text"]]
    assert len(pang) == 1
    assert len(pang[0]["also_reported_by"]) == 2
    assert "Traceback" not in proc.stderr


def test_ask_json_of_a_refusal(cli: Callable[..., tuple[int, str, str]]) -> None:
    code, out, err = cli("ask", "best pizza recipe", "--json")
    assert code == 0, err
    data = one_json_object(out)
    assert data["answered"] is False
    assert data["quotes"] == []
    assert "pizza" in str(data["reason"])


@pytest.mark.parametrize("top", ["1", "5", "10"])
def test_ask_top(cli: Callable[..., tuple[int, str, str]], top: str) -> None:
    code, out, err = cli("ask", "Huawei", "--json", "--top", top)
    assert code == 0, err
    quotes = one_json_object(out)["quotes"]
    assert isinstance(quotes, list)
    assert len(quotes) == int(top)


def test_ask_top_out_of_range_is_an_error(tmp_path: Path) -> None:
    proc = run(tmp_path, "ask", "Huawei", "--json", "--top", "11")
    assert proc.returncode != 0
    assert proc.stdout == ""
    assert "--top" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_ask_kb_option_and_env_var(
    cli: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    kb_dir = small_kb(tmp_path / "kb")
    by_option = cli("ask", "battery patents", "--json", "--kb", str(kb_dir))
    by_env = cli("ask", "battery patents", "--json", LICENSEBOT_KB_DIR=str(kb_dir))
    for code, out, err in (by_option, by_env):
        assert code == 0, err
        data = one_json_object(out)
        quotes = data["quotes"]
        assert isinstance(quotes, list)
        assert [q["doc_id"] for q in quotes] == ["acme"]
        assert data["kb_version"] == KnowledgeBase.load(kb_dir).kb_version
    assert by_option[1] == by_env[1]


def test_the_kb_option_wins_over_the_env_var(
    cli: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    kb_dir = small_kb(tmp_path / "kb")
    code, out, err = cli(
        "ask", "battery patents", "--json", "--kb", str(kb_dir),
        LICENSEBOT_KB_DIR=str(tmp_path / "missing"),
    )  # fmt: skip
    assert code == 0, err
    assert one_json_object(out)["answered"] is True


def test_ask_with_an_invalid_kb_lists_problems_and_exits_1(tmp_path: Path) -> None:
    kb_dir = small_kb(tmp_path / "kb")
    (kb_dir / "bin.txt").write_bytes(b"\x00\x01\x02")
    (kb_dir / "latin.txt").write_bytes(b"caf\xe9 society")
    (kb_dir / "manifest.toml").write_text('[articles.ghost]\ntitle = "x"\n', encoding="utf-8")
    proc = run(tmp_path, "ask", "battery", "--json", "--kb", str(kb_dir))
    assert proc.returncode == 1
    assert proc.stdout == ""
    for name in ("bin.txt", "latin.txt", "manifest.toml"):
        assert name in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_malformed_setting_is_one_line_and_exit_2(tmp_path: Path) -> None:
    proc = run(tmp_path, "ask", "Huawei", "--json", LICENSEBOT_PORT="abc")
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "LICENSEBOT_PORT" in lines[0]
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("var", "value"),
    [("LICENSEBOT_TOP_K", "99"), ("LICENSEBOT_LOG_LEVEL", "LOUD"), ("LICENSEBOT_PORT", "0")],
)
def test_other_malformed_settings(
    cli: Callable[..., tuple[int, str, str]], var: str, value: str
) -> None:
    code, out, err = cli("ask", "Huawei", "--json", **{var: value})
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert var in lines[0]


def test_python_dash_m_bot_works_the_same(tmp_path: Path) -> None:
    script = run(tmp_path, "ask", PANG, "--json", "--top", "2")
    module = run(tmp_path, "ask", PANG, "--json", "--top", "2", module=True)
    assert module.returncode == script.returncode == 0
    assert module.stdout == script.stdout
    one_json_object(module.stdout)


def test_ask_plain_text_output(cli: Callable[..., tuple[int, str, str]]) -> None:
    code, out, err = cli("ask", PANG)
    assert code == 0, err
    assert "*long* *journey*" in out  # matched words are marked
    assert "also reported by" in out
    assert re.search(r"\[00[012]_[0-9a-f]{16}#\d+\]", out)
    assert "≈ 2019-10-" in out  # an estimated date is marked as such
    assert "\033[" not in out  # no colour codes when stdout is not a terminal


def test_ask_empty_question_prints_a_usage_hint(cli: Callable[..., tuple[int, str, str]]) -> None:
    code, out, err = cli("ask", "")
    assert code == 0, err
    assert "licensebot kb sources" in out
    assert "Huawei" in out


def test_start_without_slack_answers_sample_questions(tmp_path: Path) -> None:
    proc = run(tmp_path, "start")
    assert proc.returncode == 0, proc.stderr
    assert "Slack" in proc.stderr
    assert "SLACK_BOT_TOKEN" in proc.stderr
    for question in SAMPLE_QUESTIONS:
        assert question in proc.stdout
    assert proc.stdout.count("“") >= len(SAMPLE_QUESTIONS)
    assert "Traceback" not in proc.stderr


def test_start_answers_piped_questions(tmp_path: Path) -> None:
    proc = run(tmp_path, "start", stdin="long journey\n\nbest pizza recipe\n")
    assert proc.returncode == 0, proc.stderr
    assert "? long journey" in proc.stdout
    assert "? best pizza recipe" in proc.stdout
    assert "*long* *journey* to really" in proc.stdout
    assert "pizza" in proc.stdout.split("? best pizza recipe", 1)[1]
    for question in SAMPLE_QUESTIONS:
        assert question not in proc.stdout


def test_skip_invalid_at_start_up_answers_from_the_valid_articles_and_lists_the_rest(
    tmp_path: Path,
) -> None:
    kb_dir = small_kb(tmp_path / "kb")
    (kb_dir / "bin.txt").write_bytes(b"\x00\x01\x02")
    proc = run(
        tmp_path, "ask", "battery patents", "--json", "--kb", str(kb_dir),
        LICENSEBOT_KB_SKIP_INVALID="true",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert [q["doc_id"] for q in one_json_object(proc.stdout)["quotes"]] == ["acme"]
    assert "skipped (LICENSEBOT_KB_SKIP_INVALID)" in proc.stderr
    assert "bin.txt: binary file, not text" in proc.stderr
    refused = run(tmp_path, "ask", "battery patents", "--json", "--kb", str(kb_dir))
    assert refused.returncode == 1 and "bin.txt" in refused.stderr
