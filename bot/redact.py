"""The one secret scrubber, for logs and the audit trail alike.

Slack tokens of every kind are recognisable by their prefix: ``xoxb-`` (bot), ``xoxp-``
(user), ``xapp-`` (app-level), ``xoxe-`` (rotating refresh token), ``xoxe.xoxp-`` /
``xoxe.xoxb-`` (rotating access tokens), and the legacy ``xoxa-``, ``xoxo-``, ``xoxr-``,
``xoxs-``. The configured secrets (``Settings.secret_values``: the signing secret, the
tokens, the database's and Redis's URLs and passwords) are removed by value, wherever
they appear. A field named like a secret (``token``, ``*_secret``, ``password``, …) is
redacted whatever it holds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "[redacted]"

# Slack bot/user/app/config tokens, whoever's they are.
_TOKEN_RE = re.compile(r"\b(?:xox[a-z]|xapp|xoxe(?:\.xox[a-z])?)-[A-Za-z0-9-]{6,}")
_SECRET_KEY_RE = re.compile(
    r"(?:^|_)(?:token|tokens|secret|secrets|password|passwd|api_?key|authorization|cookie)(?:$|_)",
    re.IGNORECASE,
)
# Configured values shorter than this are not looked for: they would blank ordinary words,
# and Slack's secrets and tokens are 32 characters or more.
MIN_SECRET_CHARS = 8


def is_secret_field(key: str, value: object) -> bool:
    """A field named like a secret and set: its value is never written anywhere."""
    return value is not None and bool(_SECRET_KEY_RE.search(key))


class Redactor:
    """Replaces the configured secrets' values and token-shaped strings, in any field."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = sorted({s for s in secrets if len(s) >= MIN_SECRET_CHARS}, key=len, reverse=True)
        self._values = re.compile("|".join(map(re.escape, values))) if values else None

    def text(self, text: str) -> str:
        if self._values is not None:
            text = self._values.sub(REDACTED, text)
        return _TOKEN_RE.sub(REDACTED, text)

    def field(self, key: str, value: Any) -> Any:
        """The value of field ``key`` as it may be written."""
        return REDACTED if is_secret_field(key, value) else self.value(value)

    def value(self, value: Any) -> Any:
        """``value`` with every string in it redacted; containers keep their type."""
        if isinstance(value, str):
            return self.text(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, Mapping):
            return {self.value(k): self.field(str(k), v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return type(value)(self.value(v) for v in value)
        # Anything else is rendered through its repr (or bytes' text): keep the object
        # unless that rendering holds a secret.
        if isinstance(value, bytes):
            shown = value.decode("utf-8", "backslashreplace")
        else:
            shown = repr(value)
        cleaned = self.text(shown)
        return value if cleaned == shown else cleaned


# Token shapes and secret-named fields only: for a trail or log with no settings behind it.
TOKENS_ONLY = Redactor()
