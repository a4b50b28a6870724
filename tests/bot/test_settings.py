"""Settings from the environment or .env, and how `licensebot serve` reports problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.settings import DEFAULT_SLACK_API_URL, SettingsError, load_settings

VARIABLES = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_API_URL",
    "LICENSEBOT_HOST",
    "LICENSEBOT_PORT",
    "LICENSEBOT_KB_DIR",
    "LICENSEBOT_ADMINS",
    "LICENSEBOT_DATA_DIR",
    "LICENSEBOT_LOG_LEVEL",
)
BOT_TOKEN = "xoxb-1234567890-abcdefghijkl"
SECRET = "0123456789abcdef0123456789abcdef"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults() -> None:
    settings = load_settings()
    assert settings.host == "127.0.0.1"
    assert settings.port == 3000
    assert settings.slack_api_url == DEFAULT_SLACK_API_URL
    assert settings.slack_bot_token is None and settings.slack_signing_secret is None
    assert settings.admins == frozenset()
    assert settings.kb_dir is None
    assert not settings.has_slack_http_credentials


def test_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9999/api")
    monkeypatch.setenv("LICENSEBOT_HOST", "0.0.0.0")
    monkeypatch.setenv("LICENSEBOT_PORT", "8080")
    monkeypatch.setenv("LICENSEBOT_KB_DIR", str(tmp_path))
    monkeypatch.setenv("LICENSEBOT_ADMINS", "U01ADMIN, W02ADMIN,")
    settings = load_settings()
    assert settings.slack_bot_token is not None
    assert settings.slack_bot_token.get_secret_value() == BOT_TOKEN
    assert settings.slack_api_url == "http://127.0.0.1:9999/api/"
    assert (settings.host, settings.port) == ("0.0.0.0", 8080)
    assert settings.kb_dir == tmp_path
    assert settings.admins == frozenset({"U01ADMIN", "W02ADMIN"})
    assert settings.has_slack_http_credentials


def test_dotenv_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"SLACK_BOT_TOKEN={BOT_TOKEN}\nLICENSEBOT_PORT=4000\n")
    settings = load_settings()
    assert settings.port == 4000
    assert settings.slack_bot_token is not None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LICENSEBOT_PORT", "not-a-port"),
        ("LICENSEBOT_PORT", "70000"),
        ("SLACK_API_URL", "ftp://files.example"),
        ("LICENSEBOT_ADMINS", "U01ADMIN,not an id"),
        ("LICENSEBOT_LOG_LEVEL", "chatty"),
        ("LICENSEBOT_REDIS_URL", "http://127.0.0.1:6379"),
        ("LICENSEBOT_REDIS_URL", "redis://127.0.0.1:6379/0?socket_timeout=soon"),
        ("LICENSEBOT_REDIS_KEY_PREFIX", "has space:"),
        ("LICENSEBOT_REDIS_KEY_PREFIX", ""),
    ],
)
def test_malformed_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert name in message
    assert "\n" not in message


def test_secrets_never_render(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-A111-222-abcdef")
    settings = load_settings()
    for rendered in (repr(settings), str(settings), settings.model_dump_json()):
        assert BOT_TOKEN not in rendered
        assert SECRET not in rendered
        assert "xapp-1-A111" not in rendered


def serve(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.err


def test_serve_without_credentials_exits_2_naming_them(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = serve(["serve"], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert "SLACK_BOT_TOKEN" in lines[0] and "SLACK_SIGNING_SECRET" in lines[0]
    assert "manifest.yml" in lines[0]  # how to connect Slack
    assert "Traceback" not in err


def test_socket_mode_needs_the_app_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    code, err = serve(["serve", "--socket-mode"], capsys)
    assert code == 2
    assert err.startswith("licensebot: missing SLACK_APP_TOKEN:")
    assert BOT_TOKEN not in err


def test_serve_with_a_malformed_setting_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LICENSEBOT_PORT", "eighty")
    code, err = serve(["serve"], capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "LICENSEBOT_PORT" in err
