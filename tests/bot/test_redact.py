"""One scrubber for logs and the audit trail: every kind of Slack token and the
configured secrets' values go, through either."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from bot.audit.trail import AuditTrail, open_trail
from bot.audit.verify import read_records, verify_trail
from bot.logging import configure_logging, remove_logging
from bot.redact import REDACTED, Redactor
from bot.settings import load_settings

TOKENS = {
    "bot": "xoxb-1234567890-0987654321-AbCdEfGhIjKl",
    "user": "xoxp-1234567890-0987654321-1122334455-abcdef",
    "app-level": "xapp-1-A0123ABCD-4567890123-deadbeefcafe",
    "refresh": "xoxe-1-My0xLTEyMzQ1Njc4OTAtYWJjZGVm",
    "rotated access": "xoxe.xoxp-1-Mi0yLTEyMzQ1Njc4OTAtYWJj",
    "rotated bot": "xoxe.xoxb-1-Mi0yLTk4NzY1NDMyMTAtZGVm",
    "legacy workspace": "xoxa-2-1234567890-abcdefabcdef",
    "legacy refresh": "xoxr-1234567890-abcdefabcdef",
}
# Configured secrets that look like nothing in particular (Settings.secret_values).
SIGNING_SECRET = "8f14e45fceea167a5a36dedd4bea2543"
DATABASE_PASSWORD = "s3cr3t-pass"
SECRETS = (SIGNING_SECRET, DATABASE_PASSWORD)

KINDS = sorted(TOKENS)


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    out = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = configure_logging("INFO", "json", stream=out, cache_loggers=False, secrets=SECRETS)
    yield out
    remove_logging(handler)
    root.setLevel(level)
    structlog.reset_defaults()


def trail(tmp_path: Path) -> AuditTrail:
    return AuditTrail(tmp_path / "audit.jsonl", secrets=SECRETS)


def said(secret: str) -> dict[str, object]:
    """A secret in every place one could turn up: text, a nested value, a list."""
    return {
        "detail": f"request failed with {secret} in it",
        "nested": {"inner": [f"x {secret} y"]},
        "parts": ("a", secret),
    }


@pytest.mark.parametrize("kind", KINDS)
def test_each_token_kind_leaves_the_logs(stream: io.StringIO, kind: str) -> None:
    token = TOKENS[kind]
    structlog.get_logger("licensebot.test").info("probe", **said(token))
    logging.getLogger("slack_sdk").error("sent Authorization: Bearer %s", token)
    text = stream.getvalue()
    assert token not in text
    assert text.count(REDACTED) == 4


@pytest.mark.parametrize("kind", KINDS)
def test_each_token_kind_leaves_the_audit_trail(tmp_path: Path, kind: str) -> None:
    token = TOKENS[kind]
    with trail(tmp_path) as audit:
        audit.record("answer.feedback", **said(token))
    raw = (tmp_path / "audit.jsonl").read_text()
    assert token not in raw
    assert raw.count(REDACTED) == 3
    assert verify_trail(tmp_path / "audit.jsonl").ok


@pytest.mark.parametrize("secret", SECRETS)
def test_configured_secrets_leave_both(stream: io.StringIO, tmp_path: Path, secret: str) -> None:
    structlog.get_logger("licensebot.test").warning("probe", **said(secret))
    with trail(tmp_path) as audit:
        audit.record("answer.feedback", **said(secret))
    logged = stream.getvalue()
    recorded = (tmp_path / "audit.jsonl").read_text()
    for text in (logged, recorded):
        assert secret not in text
        assert text.count(REDACTED) == 3


def test_secret_named_fields_are_redacted_in_both(stream: io.StringIO, tmp_path: Path) -> None:
    fields = {"api_token": "anything", "password": "hunter2", "note": "fine"}
    structlog.get_logger("licensebot.test").info("probe", **fields)
    with trail(tmp_path) as audit:
        audit.record("answer.feedback", **fields)
    (logged,) = [json.loads(line) for line in stream.getvalue().splitlines()]
    (recorded,) = list(read_records(tmp_path / "audit.jsonl"))
    for out in (logged, recorded):
        assert (out["api_token"], out["password"], out["note"]) == (REDACTED, REDACTED, "fine")


def test_the_configured_trail_and_logs_know_the_settings_secrets(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("LICENSEBOT_DATA_DIR", str(tmp_path))
    settings = load_settings()
    with open_trail(settings) as audit:
        audit.record("answer.feedback", **said(SIGNING_SECRET))
    assert SIGNING_SECRET not in settings.resolved_audit_path.read_text()


def test_a_longer_secret_goes_whole_and_short_values_are_left_alone() -> None:
    redactor = Redactor(["abc", "s3cr3t-pass-and-more", "s3cr3t-pass"])
    assert redactor.text("abc s3cr3t-pass-and-more") == f"abc {REDACTED}"
