"""structlog configured once for the process, with the stdlib (Bolt, slack_sdk,
uvicorn) routed through the same processors: JSON lines when stderr is not a
terminal, readable console lines when it is. Secrets are redacted from every event,
whoever logs them, by the scrubber the audit trail uses (``bot.redact``); in console
lines every control character is escaped, so logged text cannot start a line.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from collections.abc import Iterable
from typing import Any, Literal, Protocol, TextIO

import structlog
from structlog.typing import EventDict, ExcInfo, Processor, WrappedLogger

from bot.redact import Redactor

LogFormat = Literal["auto", "json", "console"]


class LogStream(Protocol):
    """What the log handler writes to (a file, stderr, a test buffer)."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


# C0, DEL, C1, line/paragraph separators and the bidi marks, embeddings, overrides, isolates.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

_HANDLER_NAME = "licensebot"
# Bolt's verification middleware logs the whole body of a refused request at INFO.
_BODY_DUMPING_LOGGERS = frozenset({"slack_bolt.RequestVerification"})
# Left for the renderer: the traceback (console) is redacted and escaped where it is drawn.
_EXC_KEYS = frozenset({"exc_info"})


def escape_controls(text: str) -> str:
    """``text`` with each control character escaped visibly: ``\\n``, ``\\x1b``, ``\\u202e``."""

    def one(match: re.Match[str]) -> str:
        char = match[0]
        code = ord(char)
        return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")

    return _CONTROL_RE.sub(one, text)


def _redacting(redactor: Redactor) -> Processor:
    """The processor that takes every secret out of an event (keys included)."""

    def redact(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
        return {
            (key if key in _EXC_KEYS else redactor.text(key)): (
                value if key in _EXC_KEYS else redactor.field(key, value)
            )
            for key, value in event_dict.items()
        }

    return redact


def _escape_value(value: Any) -> Any:
    if isinstance(value, str):
        return escape_controls(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return escape_controls(repr(value))


def _escape_block(text: str) -> str:
    # Multi-line text (a stack) keeps its lines, each indented so none can pass for a record.
    lines = text.rstrip("\n").split("\n")
    return "\n".join("    " + escape_controls(line) for line in lines)


def escape_event(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """Console format: every key and value with its control characters escaped."""
    escaped: EventDict = {}
    for key, value in event_dict.items():
        if key in _EXC_KEYS:
            escaped[key] = value
        elif key in ("stack", "exception") and isinstance(value, str):
            escaped[key] = _escape_block(value)
        else:
            escaped[escape_controls(str(key))] = _escape_value(value)
    return escaped


def _traceback_renderer(redactor: Redactor) -> Any:
    def render(sio: TextIO, exc_info: ExcInfo) -> None:
        text = "".join(traceback.format_exception(*exc_info))
        sio.write("\n" + _escape_block(redactor.text(text)))

    return render


class _DropBodyDumps(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.name not in _BODY_DUMPING_LOGGERS


def _drop_duplicates(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    # uvicorn repeats each message with ANSI colours for its own formatter, and the
    # stdlib formatter leaves the rendered message on the record next to "event".
    event_dict.pop("color_message", None)
    if event_dict.get("message") == event_dict.get("event"):
        event_dict.pop("message", None)
    return event_dict


def use_json(fmt: LogFormat, stream: LogStream) -> bool:
    if fmt == "json":
        return True
    if fmt == "console":
        return False
    isatty = getattr(stream, "isatty", None)
    return not (callable(isatty) and isatty())


def configure_logging(
    level: str = "INFO",
    fmt: LogFormat = "auto",
    *,
    stream: LogStream | None = None,
    cache_loggers: bool = True,
    secrets: Iterable[str] = (),
) -> logging.Handler:
    """Install the pipeline on the root logger (replacing an earlier one) and return its handler.

    ``secrets`` are values never to be written (``Settings.secret_values``).
    ``cache_loggers=False`` keeps loggers re-reading the configuration, for callers
    (tests) that configure more than once per process.
    """
    out = stream if stream is not None else sys.stderr
    redactor = Redactor(secrets)
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _drop_duplicates,
    ]
    renderer: Processor
    if use_json(fmt, out):
        renderer = structlog.processors.JSONRenderer()
        final: list[Processor] = [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _redacting(redactor),
            # JSON escapes control characters (and, ensure_ascii, all of non-ASCII) itself.
            renderer,
        ]
    else:
        renderer = structlog.dev.ConsoleRenderer(
            colors=bool(getattr(out, "isatty", lambda: False)()),
            exception_formatter=_traceback_renderer(redactor),
        )
        final = [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _redacting(redactor),
            escape_event,
            renderer,
        ]

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        context_class=dict,
        cache_logger_on_first_use=cache_loggers,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *shared],
        processors=final,
    )
    handler = logging.StreamHandler(out)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)
    handler.addFilter(_DropBodyDumps())

    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # slack_sdk logs every request body at DEBUG; keep it to warnings unless asked.
    sdk_level = logging.DEBUG if level.upper() == "DEBUG" else logging.WARNING
    logging.getLogger("slack_sdk").setLevel(sdk_level)
    return handler


def remove_logging(handler: logging.Handler) -> None:
    """Detach a handler installed by ``configure_logging`` (tests, embedded use)."""
    logging.getLogger().removeHandler(handler)
