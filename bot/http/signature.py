"""Slack's v0 request signature, checked in front of Bolt before anything parses the body.

slack_sdk's ``SignatureVerifier`` raises on some malformed headers (``int("x")``, a
non-ASCII signature in ``hmac.compare_digest``, a body that is not UTF-8) where it should
refuse, and Bolt hands such an exception to the app's error handler with the unverified
body. So each header's form is checked first, strictly as Slack sends it, and only then
does the SDK compare the signature (with its own 300 s window).
"""

from __future__ import annotations

import re
from typing import Protocol

from slack_bolt import BoltRequest
from slack_sdk.signature import Clock, SignatureVerifier

# Set in the Bolt request context by the HTTP server once a request has passed.
VERIFIED = "licensebot_signature_verified"

# slack_sdk's window, restated so the refusal can say which check failed.
MAX_AGE_S = 300
# Unix seconds as ASCII digits; a leading zero or two is harmless, anything longer is not time.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")

TIMESTAMP_HEADER = "x-slack-request-timestamp"
SIGNATURE_HEADER = "x-slack-signature"


class HeaderLists(Protocol):
    """Request headers that can repeat (Starlette's ``Headers``)."""

    def getlist(self, key: str) -> list[str]: ...


class RequestSigner:
    """Decides whether a request was signed with the app's signing secret."""

    def __init__(self, signing_secret: str, clock: Clock | None = None) -> None:
        self._clock = clock or Clock()
        self._verifier = (
            SignatureVerifier(signing_secret, self._clock) if signing_secret.strip() else None
        )

    def problem(self, headers: HeaderLists, body: bytes) -> str | None:
        """Why the request is refused (a short fixed phrase), or None when it is Slack's."""
        if self._verifier is None:
            return "no signing secret configured"
        timestamp, problem = _header(headers, TIMESTAMP_HEADER, "timestamp", _TIMESTAMP)
        if problem is not None:
            return problem
        if abs(self._clock.now() - int(timestamp)) > MAX_AGE_S:
            return "stale timestamp"
        signature, problem = _header(headers, SIGNATURE_HEADER, "signature", _SIGNATURE)
        if problem is not None:
            return problem
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            # Slack sends UTF-8 only, and the SDK signs the decoded text.
            return "body is not UTF-8"
        if not self._verifier.is_valid(text, timestamp, signature):
            return "signature mismatch"
        return None


def _header(
    headers: HeaderLists, name: str, what: str, form: re.Pattern[str]
) -> tuple[str, str | None]:
    """The header's one value, or why it is refused (missing, repeated, malformed)."""
    values = headers.getlist(name)
    if not values:
        return "", f"missing {what}"
    if len(values) > 1:
        return "", f"repeated {what}"
    if not form.fullmatch(values[0]):
        return "", f"malformed {what}"
    return values[0], None


def was_verified(request: BoltRequest) -> bool:
    """True for Socket Mode (the connection is authenticated) or a request that passed here."""
    return request.mode == "socket_mode" or request.context.get(VERIFIED) is True
