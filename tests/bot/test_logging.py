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
