"""Which trail is written and read: LICENSEBOT_DATABASE_URL, --database-url or the file
(no database needed: these are the choices, not the server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_runner import Cli, in_process_cli

from bot.audit.backend import TrailSource, open_audit_trail, source_for, trail_location
from bot.audit.trail import AuditTrail
from bot.settings import SettingsError, load_settings

URL = "postgresql://auditor:s3cret@db.internal:5432/licensebot"


@pytest.fixture
def cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Cli]:
    yield from in_process_cli(tmp_path, monkeypatch, capsys)


@pytest.fixture(autouse=True)
def no_database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("LICENSEBOT_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)


def test_the_file_trail_stays_the_default(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    assert settings.database_url is None
    with open_audit_trail(settings) as trail:
        assert isinstance(trail, AuditTrail)
    assert source_for(settings) == TrailSource(path=tmp_path / "audit.jsonl")
    assert trail_location(settings) == f"audit file {tmp_path / 'audit.jsonl'}"


@pytest.mark.parametrize(
    "url",
    [URL, URL.replace("postgresql", "postgres", 1), URL.replace("://", "+psycopg://", 1)],
)
def test_a_database_url_is_taken_and_never_shown_with_its_password(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("LICENSEBOT_DATABASE_URL", url)
    settings = load_settings()
    assert settings.database_url is not None
    assert "s3cret" not in repr(settings)
    assert source_for(settings) == TrailSource(database_url=url)
    where = trail_location(settings)
    assert where.startswith("PostgreSQL table licensebot_audit at postgresql+psycopg://auditor:")
    assert "s3cret" not in where and "db.internal:5432/licensebot" in where


def test_explicit_choices_win_over_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LICENSEBOT_DATABASE_URL", URL)
    settings = load_settings()
    assert source_for(settings, path=Path("x.jsonl")) == TrailSource(path=Path("x.jsonl"))
    other = "postgresql://postgres@127.0.0.1/other"
    assert source_for(settings, database_url=other) == TrailSource(database_url=other)


@pytest.mark.parametrize(
    ("value", "problem"),
    [("mysql://u@h/db", "not mysql"), ("127.0.0.1:5432/test", "without a scheme")],
)
def test_a_wrong_database_url_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str, problem: str
) -> None:
    monkeypatch.setenv("LICENSEBOT_DATABASE_URL", value)
    with pytest.raises(SettingsError, match="LICENSEBOT_DATABASE_URL") as err:
        load_settings()
    assert problem in str(err.value) and "\n" not in str(err.value)


def test_an_empty_database_url_means_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LICENSEBOT_DATABASE_URL", "  ")
    assert load_settings().database_url is None


def test_a_file_and_a_database_at_once_is_refused(cli: Cli) -> None:
    code, _, err = cli("audit", "verify", "x.jsonl", "--database-url", URL)
    assert code == 2 and "not both" in err
    code, _, err = cli("audit", "export", "--path", "x.jsonl", "--database-url", URL)
    assert code == 2 and "not both" in err


def test_export_of_the_file_trail_is_its_files_in_chain_order(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "var" / "audit.jsonl"
    with AuditTrail(path, max_bytes=4096) as trail:
        for i in range(40):
            trail.record("answer.served", request_id=f"r{i}", surface="ask", question="q" * 50)
    segments = [path.with_name(f"audit.jsonl.{n}") for n in (1, 2, 3)]
    assert all(p.exists() for p in segments)
    assert segments  # rotated at least once
    code, out, err = cli("audit", "export")
    assert code == 0, err
    assert out.encode() == b"".join(p.read_bytes() for p in [*segments, path])
    assert f"exported 40 records from the audit file {path}" in err


def test_export_without_a_trail_says_so(cli: Cli) -> None:
    code, _, err = cli("audit", "export")
    assert code == 1 and "no audit file" in err
