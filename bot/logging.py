"""structlog configured once for the process, with the stdlib (Bolt, slack_sdk,
uvicorn) routed through the same processors: JSON lines when stderr is not a
terminal, readable console lines when it is. Token-shaped strings are redacted
from every event, whoever logs them.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from typing import Any, Literal, Protocol

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

LogFormat = Literal["auto", "json", "console"]


class LogStream(Protocol):
    """What the log handler writes to (a file, stderr, a test buffer)."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


# Slack bot/user/app/config tokens and signing-secret-like hex are never logged.
_SECRET_RE = re.compile(r"\b(?:xox[a-z]|xapp|xoxe(?:\.xox[a-z])?)-[A-Za-z0-9-]{6,}")
REDACTED = "[redacted]"

_HANDLER_NAME = "licensebot"


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        return _SECRET_RE.sub(REDACTED, value)
    if isinstance(value, Mapping):
        return {k: _redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact(v) for v in value)
    return value


def redact_secrets(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    for key, value in list(event_dict.items()):
        event_dict[key] = _redact(value)
    return event_dict


def _drop_duplicates(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    # uvicorn repeats each message with ANSI colours for its own formatter, and the
    # stdlib formatter leaves the rendered message on the record next to "event".
    event_dict.pop("color_message", None)
    if event_dict.get("message") == event_dict.get("event"):
        event_dict.pop("message", None)
    return event_dict


def _static_fields(fields: dict[str, Any]) -> Processor:
    def add(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
        for key, value in fields.items():
            event_dict.setdefault(key, value)
        return event_dict

    return add


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
    fields: Mapping[str, Any] | None = None,
) -> logging.Handler:
    """Install the pipeline on the root logger (replacing an earlier one) and return its handler.

    ``cache_loggers=False`` keeps loggers re-reading the configuration, for callers
    (tests) that configure more than once per process. ``fields`` are added to every
    line (a worker's pid, so the lines of several workers on one stderr can be told apart).
    """
    out = stream if stream is not None else sys.stderr
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _drop_duplicates,
    ]
    if fields:
        shared.append(_static_fields(dict(fields)))
    renderer: Processor
    if use_json(fmt, out):
        renderer = structlog.processors.JSONRenderer()
        final: list[Processor] = [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_secrets,
            renderer,
        ]
    else:
        renderer = structlog.dev.ConsoleRenderer(
            colors=bool(getattr(out, "isatty", lambda: False)())
        )
        final = [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            redact_secrets,
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
