"""The Web API retry policy: only what cannot post twice is retried."""

from __future__ import annotations

import socket
from http.client import RemoteDisconnected
from urllib.error import HTTPError, URLError

import pytest
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.delivery.client import (
    CappedRateLimitRetryHandler,
    IdempotentServerErrorRetryHandler,
    SafeConnectionErrorRetryHandler,
    is_idempotent,
    never_sent,
)

API = "https://slack.com/api/"
POST = HttpRequest(method="POST", url=API + "chat.postMessage", headers={})
INFO = HttpRequest(method="POST", url=API + "files.info", headers={})
HOOK = HttpRequest(method="POST", url="https://hooks.slack.com/commands/T1/2/abc", headers={})


def response(status: int, **headers: str) -> HttpResponse:
    return HttpResponse(status_code=status, headers={k: [v] for k, v in headers.items()}, data=b"")


def test_idempotent_methods_are_named_by_the_url() -> None:
    assert is_idempotent(INFO) and is_idempotent(
        HttpRequest(method="POST", url=API + "auth.test", headers={})
    )
    assert not is_idempotent(POST) and not is_idempotent(HOOK)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried_for_idempotent_calls_only(status: int) -> None:
    handler = IdempotentServerErrorRetryHandler()
    assert handler.can_retry(state=RetryState(), request=INFO, response=response(status))
    for request in (POST, HOOK):
        assert not handler.can_retry(state=RetryState(), request=request, response=response(status))


def test_a_rate_limit_is_retried_for_every_call() -> None:
    handler = CappedRateLimitRetryHandler()
    for request in (POST, HOOK, INFO):
        limited = response(429, **{"Retry-After": "1"})
        assert handler.can_retry(state=RetryState(), request=request, response=limited)


@pytest.mark.parametrize(
    "error",
    [
        URLError(ConnectionRefusedError(111, "refused")),
        URLError(socket.gaierror(-2, "Name or service not known")),
        URLError(TimeoutError("timed out")),
    ],
)
def test_a_connection_that_never_opened_is_retried_even_for_a_post(error: URLError) -> None:
    assert never_sent(error)
    handler = SafeConnectionErrorRetryHandler()
    assert handler.can_retry(state=RetryState(), request=POST, error=error)


@pytest.mark.parametrize(
    "error",
    [
        ConnectionResetError(104, "reset"),
        RemoteDisconnected("closed"),
        URLError(ConnectionResetError(104, "reset")),
    ],
)
def test_a_connection_lost_after_sending_is_retried_only_when_idempotent(error: Exception) -> None:
    assert not never_sent(error)
    handler = SafeConnectionErrorRetryHandler()
    assert not handler.can_retry(state=RetryState(), request=POST, error=error)
    assert not handler.can_retry(state=RetryState(), request=HOOK, error=error)
    assert handler.can_retry(state=RetryState(), request=INFO, error=error)


def test_an_http_error_is_never_a_connection_error() -> None:
    error = HTTPError(API + "chat.postMessage", 500, "boom", None, None)  # type: ignore[arg-type]
    assert not never_sent(error)
