"""Slack's v0 signature check in front of Bolt: every malformed header is a refusal."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from slack_bolt import BoltRequest
from slack_sdk.signature import Clock, SignatureVerifier
from starlette.datastructures import Headers

from bot.http.signature import MAX_AGE_S, VERIFIED, RequestSigner, was_verified

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
NOW = 1_700_000_000
BODY = b"token=t&command=%2Fask&text=hello"


class FixedClock(Clock):
    def now(self) -> float:
        return float(NOW)


def signature(timestamp: str, body: bytes = BODY) -> str:
    digest = hmac.new(SECRET.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256)
    return "v0=" + digest.hexdigest()


def headers(*pairs: tuple[str, str]) -> Headers:
    return Headers(raw=[(k.encode("latin-1"), v.encode("utf-8")) for k, v in pairs])


def signed(timestamp: int | str = NOW, body: bytes = BODY) -> Headers:
    ts = str(timestamp)
    return headers(("x-slack-request-timestamp", ts), ("x-slack-signature", signature(ts, body)))


SIGNER = RequestSigner(SECRET, FixedClock())


def test_a_request_signed_like_slack_passes_and_agrees_with_the_sdk() -> None:
    assert SIGNER.problem(signed(), BODY) is None
    sdk = SignatureVerifier(SECRET, FixedClock())
    assert sdk.is_valid(BODY, str(NOW), signature(str(NOW)))


@pytest.mark.parametrize("age", [MAX_AGE_S, -MAX_AGE_S])
def test_the_window_is_300_seconds_either_way(age: int) -> None:
    assert SIGNER.problem(signed(NOW - age), BODY) is None
    beyond = NOW - age - (1 if age > 0 else -1)
    assert SIGNER.problem(signed(beyond), BODY) == "stale timestamp"


@pytest.mark.parametrize(
    ("timestamp", "reason"),
    [
        ("x", "malformed timestamp"),
        ("", "malformed timestamp"),
        ("1.7e9", "malformed timestamp"),
        (f"{NOW}.0", "malformed timestamp"),
        (f"-{NOW}", "malformed timestamp"),
        (f"+{NOW}", "malformed timestamp"),
        (f" {NOW}", "malformed timestamp"),
        ("１７００００００００", "malformed timestamp"),  # int() would accept these
        ("1_700_000_000", "malformed timestamp"),  # and these
        ("9" * 13, "malformed timestamp"),
        ("9" * 5000, "malformed timestamp"),
        ("0", "stale timestamp"),
    ],
)
def test_malformed_timestamps_are_refused(timestamp: str, reason: str) -> None:
    zeros = "v0=" + "0" * 64
    sent = headers(("x-slack-request-timestamp", timestamp), ("x-slack-signature", zeros))
    assert SIGNER.problem(sent, BODY) == reason


@pytest.mark.parametrize(
    "value",
    ["", "v0=0", "v0=" + "é" * 64, "v1=" + "0" * 64, "v0=" + "A" * 64, "v0=" + "0" * 65, "0" * 64],
)
def test_malformed_signatures_are_refused(value: str) -> None:
    sent = headers(("x-slack-request-timestamp", str(NOW)), ("x-slack-signature", value))
    assert SIGNER.problem(sent, BODY) == "malformed signature"


def test_missing_repeated_and_wrong() -> None:
    good = signature(str(NOW))
    ts = ("x-slack-request-timestamp", str(NOW))
    assert SIGNER.problem(headers(ts), BODY) == "missing signature"
    assert SIGNER.problem(headers(("x-slack-signature", good)), BODY) == "missing timestamp"
    twice = headers(ts, ts, ("x-slack-signature", good))
    assert SIGNER.problem(twice, BODY) == "repeated timestamp"
    both = headers(ts, ("x-slack-signature", good), ("x-slack-signature", good))
    assert SIGNER.problem(both, BODY) == "repeated signature"
    assert SIGNER.problem(signed(), BODY + b"x") == "signature mismatch"
    other = RequestSigner("another-secret-of-some-length", FixedClock())
    assert other.problem(signed(), BODY) == "signature mismatch"


def test_a_body_that_is_not_utf8_is_refused_not_raised() -> None:
    body = b"text=\xff\xfe"
    assert SIGNER.problem(signed(body=body), body) == "body is not UTF-8"


def test_without_a_secret_everything_is_refused() -> None:
    assert RequestSigner("", FixedClock()).problem(signed(), BODY) == "no signing secret configured"
    assert RequestSigner("  ").problem(signed(), BODY) == "no signing secret configured"


def test_verified_means_socket_mode_or_marked_by_the_server() -> None:
    assert was_verified(BoltRequest(body={}, mode="socket_mode"))
    assert not was_verified(BoltRequest(body=""))
    assert was_verified(BoltRequest(body="", context={VERIFIED: True}))
    assert not was_verified(BoltRequest(body="", context={VERIFIED: "yes"}))
