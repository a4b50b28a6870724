from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_runner import Cli, in_process_cli

from knowledge.service import KnowledgeBase, bundled_kb_dir, check_kb_dir

LICENSEBOT = Path(sys.executable).with_name("licensebot")


@pytest.fixture
def cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Cli]:
    yield from in_process_cli(tmp_path, monkeypatch, capsys)


def broken_kb(root: Path) -> Path:
    root.mkdir()
    (root / "good.txt").write_text(
        "Acme Widgets will license its battery patents to three rival carmakers.\n",
        encoding="utf-8",
    )
    (root / "bin.txt").write_bytes(b"\x00\x01\x02")
    (root / "latin.txt").write_bytes(b"caf\xe9 society")
    (root / "empty.txt").write_bytes(b"")
    (root / "manifest.toml").write_text(
        '[articles.good]\ncolour = "blue"\n\n[articles.ghost]\npublished = "soon"\n',
        encoding="utf-8",
    )
    return root


def test_kb_check_of_the_bundled_kb_is_ok(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LICENSEBOT_", "SLACK_"))}
    proc = subprocess.run(
        [str(LICENSEBOT), "kb", "check", str(bundled_kb_dir())],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines() == [f"{bundled_kb_dir()}: OK"]


def test_kb_check_defaults_to_the_bundled_kb(cli: Cli) -> None:
    code, out, _ = cli("kb", "check")
    assert code == 0
    assert out.strip().endswith(": OK")


def test_kb_check_prints_one_line_per_problem_and_exits_1(cli: Cli, tmp_path: Path) -> None:
    kb_dir = broken_kb(tmp_path / "kb")
    problems = check_kb_dir(kb_dir)
    assert len(problems) == 5
    code, out, _ = cli("kb", "check", str(kb_dir))
    assert code == 1
    lines = out.strip().splitlines()
    assert lines == [str(p) for p in problems]
    for name in ("bin.txt", "latin.txt", "empty.txt"):
        assert sum(line.startswith(f"{name}") for line in lines) == 1
    assert sum(line.startswith("manifest.toml:1: ") for line in lines) == 1
    assert sum(line.startswith("manifest.toml:4: ") for line in lines) == 1
    assert "OK" not in out


def test_kb_check_reports_the_manifest_line(cli: Cli, tmp_path: Path) -> None:
    kb_dir = tmp_path / "kb"
    kb_dir.mkdir()
    (kb_dir / "manifest.toml").write_text('\n\n[articles.a]\ntitle = "x\n', encoding="utf-8")
    code, out, _ = cli("kb", "check", str(kb_dir))
    assert code == 1
    assert out.startswith("manifest.toml:4: ")


def test_kb_check_uses_the_env_var(cli: Cli, tmp_path: Path) -> None:
    kb_dir = broken_kb(tmp_path / "kb")
    code, out, _ = cli("kb", "check", LICENSEBOT_KB_DIR=str(kb_dir))
    assert code == 1
    assert "bin.txt" in out


def test_kb_check_of_a_missing_directory(cli: Cli, tmp_path: Path) -> None:
    code, out, _ = cli("kb", "check", str(tmp_path / "nope"))
    assert code == 1
    assert "not a directory" in out


def test_kb_sources_lists_every_article(cli: Cli) -> None:
    code, out, _ = cli("kb", "sources")
    assert code == 0
    lines = out.strip().splitlines()
    kb = KnowledgeBase.load()
    assert lines[0] == f"kb_version {kb.kb_version}: 5 articles"
    assert len(lines) == 6
    by_id = {line.split()[0]: line for line in lines[1:]}
    assert set(by_id) == set(kb.snapshot.articles)
    assert "TechRadar Pro" in by_id["002_98cfeea8a68944c7"]
    assert "≈ 2019-10-21" in by_id["002_98cfeea8a68944c7"]
    assert "E&T (IET)" in by_id["003_d70c0c6fd59800df"]
    assert " 2019-10-22 " in by_id["001_f90f437b07126a50"]
    assert "≈" not in by_id["001_f90f437b07126a50"]
    assert "derived: title" in by_id["001_f90f437b07126a50"]
    assert "derived: title" in by_id["004_85910a5829b53819"]
    assert "derived" not in by_id["000_9ce69e5facb87b11"]
    assert "publisher unknown" in by_id["004_85910a5829b53819"]
    for doc_id, line in by_id.items():
        assert f"{len(kb.snapshot.passages_of(doc_id))} passages" in line


def test_kb_sources_of_an_invalid_kb(cli: Cli, tmp_path: Path) -> None:
    kb_dir = broken_kb(tmp_path / "kb")
    code, out, err = cli("kb", "sources", "--kb", str(kb_dir))
    assert code == 1
    assert out == ""
    assert "bin.txt" in err


def test_no_command_prints_help_and_exits_2(cli: Cli) -> None:
    code, out, _ = cli()
    assert code == 2
    assert "ask" in out
    assert "kb" in out


def test_kb_without_a_subcommand_is_a_usage_error(cli: Cli) -> None:
    with pytest.raises(SystemExit) as exc:
        cli("kb")
    assert exc.value.code == 2
