"""One logging pipeline: structlog and stdlib (Bolt, uvicorn) alike, secrets redacted."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from bot.logging import configure_logging, remove_logging, use_json


class Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.fixture
def stream() -> Iterator[Stream]:
    out = Stream(tty=False)
    root = logging.getLogger()
    level = root.level
    handler = configure_logging("INFO", "auto", stream=out, cache_loggers=False)
    yield out
    remove_logging(handler)
    root.setLevel(level)
    structlog.reset_defaults()


def lines(stream: Stream) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_when_not_a_terminal_and_console_on_one() -> None:
    assert use_json("auto", Stream(tty=False)) is True
    assert use_json("auto", Stream(tty=True)) is False
    assert use_json("json", Stream(tty=True)) is True
    assert use_json("console", Stream(tty=False)) is False


def test_structlog_and_stdlib_share_the_pipeline(stream: Stream) -> None:
    structlog.get_logger("licensebot.test").info("answer.served", request_id="r1", answered=True)
    logging.getLogger("slack_bolt.App").warning("Unhandled request (%s)", "body")
    first, second = lines(stream)
    assert first["event"] == "answer.served" and first["request_id"] == "r1"
    assert first["level"] == "info" and "timestamp" in first
    assert second == {
        **second,
        "event": "Unhandled request (body)",
        "level": "warning",
        "logger": "slack_bolt.App",
    }


def test_tokens_are_redacted_whoever_logs_them(stream: Stream) -> None:
    token = "xoxb-123456789012-abcdefghijklmnop"
    structlog.get_logger("x").info("oops", detail=f"token={token}", nested={"t": [token]})
    logging.getLogger("slack_sdk").error("sent Authorization: Bearer %s", token)
    logging.getLogger("other").info("app token xapp-1-A0123-456-deadbeef in text")
    text = stream.getvalue()
    assert token not in text and "xapp-1-A0123" not in text
    assert text.count("[redacted]") == 4


def test_exceptions_render_as_a_field(stream: Stream) -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        structlog.get_logger("x").exception("listener.error", request_id="r9")
    (line,) = lines(stream)
    assert "RuntimeError: boom" in str(line["exception"])
    assert line["request_id"] == "r9"


def test_configuring_twice_keeps_one_handler(stream: Stream) -> None:
    other = Stream(tty=False)
    handler = configure_logging("INFO", "json", stream=other, cache_loggers=False)
    ours = [h for h in logging.getLogger().handlers if h.get_name() == "licensebot"]
    assert ours == [handler]
    structlog.get_logger("x").info("once")
    assert len(lines(other)) == 1 and stream.getvalue() == ""


SIGNING = "8f742231b10e8888abcd99yyyzzz85a5"
CLIENT_SECRET = "not-token-shaped-client-secret-77"
HOSTILE = "a\nb\r\x1b[31mc\x00\x7f\x85d\u2028e\u202ef\u2066g\u061c"


@pytest.fixture(params=["json", "console"])
def secret_stream(request: pytest.FixtureRequest) -> Iterator[tuple[str, Stream]]:
    out = Stream(tty=False)
    root = logging.getLogger()
    level = root.level
    handler = configure_logging(
        "INFO", request.param, stream=out, cache_loggers=False, secrets=[SIGNING, CLIENT_SECRET]
    )
    yield request.param, out
    remove_logging(handler)
    root.setLevel(level)
    structlog.reset_defaults()


class Holder:
    def __repr__(self) -> str:
        return f"Holder(secret={SIGNING})"


def test_configured_secrets_are_redacted_in_every_field(
    secret_stream: tuple[str, Stream],
) -> None:
    _fmt, out = secret_stream
    structlog.get_logger("x").info(
        f"event with {SIGNING}",
        detail=f"secret={SIGNING};",
        nested={"list": [CLIENT_SECRET], SIGNING: "as a key"},
        raw=SIGNING.encode(),
        obj=Holder(),
    )
    logging.getLogger("slack_bolt.App").warning("body: %s", {"text": CLIENT_SECRET})
    try:
        raise ValueError(f"bad secret {SIGNING}")
    except ValueError:
        structlog.get_logger("x").exception("listener.error")
    text = out.getvalue()
    assert SIGNING not in text and CLIENT_SECRET not in text
    assert text.count("[redacted]") >= 8
    assert "ValueError: bad secret [redacted]" in text


def test_short_configured_values_are_not_hunted_for() -> None:
    out = Stream(tty=False)
    handler = configure_logging("INFO", "json", stream=out, cache_loggers=False, secrets=["abc"])
    try:
        structlog.get_logger("x").info("abc and abcdef stay")
    finally:
        remove_logging(handler)
        structlog.reset_defaults()
    assert json.loads(out.getvalue())["event"] == "abc and abcdef stay"


def test_control_characters_cannot_forge_a_line(secret_stream: tuple[str, Stream]) -> None:
    fmt, out = secret_stream
    structlog.get_logger(f"lib{HOSTILE}").info(HOSTILE, **{f"k{HOSTILE}": HOSTILE}, n=[HOSTILE])
    logging.getLogger("other").warning("stdlib %s", HOSTILE)
    try:
        raise RuntimeError(HOSTILE)
    except RuntimeError:
        structlog.get_logger("x").exception("boom")
    text = out.getvalue()
    for char in ("\r", "\x1b", "\x00", "\x7f", "\x85", "\u2028", "\u202e", "\u2066", "\u061c"):
        assert char not in text, repr(char)
    lines = text.splitlines()
    if fmt == "json":
        assert len(lines) == 3
        first = json.loads(lines[0])
        assert first["event"] == HOSTILE and first[f"k{HOSTILE}"] == HOSTILE
        assert first["logger"] == f"lib{HOSTILE}"
    else:
        records = [line for line in lines if not line.startswith("    ")]
        assert len(records) == 3, text
        escaped = "a\\nb\\r\\x1b[31mc\\x00\\x7f\\x85d\\u2028e\\u202ef\\u2066g\\u061c"
        assert records[0].count(escaped) >= 2
        # The traceback keeps its lines, each indented, with the message escaped.
        assert "\n    RuntimeError: a\n    b\\r\\x1b[31mc\\x00\\x7f\\x85d\\u2028e" in text


def test_bolts_dump_of_a_refused_body_is_dropped(stream: Stream) -> None:
    logging.getLogger("slack_bolt.RequestVerification").info("Invalid request (body: secret)")
    logging.getLogger("slack_bolt.App").info("kept")
    assert [line["event"] for line in lines(stream)] == ["kept"]


def test_settings_list_every_configured_secret() -> None:
    from bot.settings import load_settings

    database = "postgresql://bot:s3cr%2Ft-password@127.0.0.1:5432/test"
    settings = load_settings(
        slack_bot_token="xoxb-1",
        slack_signing_secret=SIGNING,
        slack_app_token=None,
        database_url=database,
    )
    assert set(settings.secret_values) == {"xoxb-1", SIGNING, database, "s3cr/t-password"}
