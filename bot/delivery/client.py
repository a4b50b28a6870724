"""The bot's Slack Web API client and its retry policy.

slack_sdk retries only connection errors by default. Here 429s are retried after
the server's ``Retry-After`` (up to a cap, beyond which waiting would block a
listener for too long), each a bounded number of times; ``response_url`` posts reuse
the same handlers.

A retry must not post an answer twice. A 429 means Slack did nothing, so it is always
retried. A 5xx or a connection lost after the request went out may come after Slack
acted on it (chat.postMessage can answer 500 and still post), so those are retried
only for ``IDEMPOTENT_METHODS``; for anything else (posting a message, opening a view,
a ``response_url``) only a connection that failed before the request was sent is.
"""

from __future__ import annotations

import random
import socket
import time
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.jitter import Jitter
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.settings import Settings

RATE_LIMIT_RETRIES = 3
SERVER_ERROR_RETRIES = 2
CONNECTION_RETRIES = 1
MAX_RETRY_AFTER_S = 30.0
BACKOFF_FACTOR_S = 0.25
WEB_API_TIMEOUT_S = 10

# Web API methods that can be repeated harmlessly: reads, and writes that set a state
# rather than add something (a second chat.update writes the same message again).
IDEMPOTENT_METHODS = frozenset(
    {
        "apps.connections.open",
        "auth.test",
        "bots.info",
        "chat.update",
        "conversations.info",
        "files.info",
        "users.info",
    }
)
# What urllib raises (wrapped in URLError) when the connection could not be made, so no
# byte of the request reached the server.
_NOT_CONNECTED = (ConnectionRefusedError, socket.gaierror, TimeoutError)


def is_idempotent(request: HttpRequest) -> bool:
    """Whether repeating ``request`` cannot do anything twice (see ``IDEMPOTENT_METHODS``)."""
    method = urlsplit(request.url).path.rstrip("/").rsplit("/", 1)[-1]
    return method in IDEMPOTENT_METHODS


def never_sent(error: Exception | None) -> bool:
    """Whether ``error`` says the request failed before it was sent.

    urllib wraps the errors of connecting and sending in ``URLError``; a reset or a
    timeout while waiting for the answer comes unwrapped, after Slack may have acted.
    """
    if not isinstance(error, URLError) or isinstance(error, HTTPError):
        return False
    return isinstance(error.reason, _NOT_CONNECTED)


class ProportionalJitter(Jitter):
    """Spread retries by ±``fraction`` of the interval (slack_sdk's own jitter adds up to 1 s)."""

    def __init__(self, fraction: float = 0.25) -> None:
        self.fraction = fraction

    def recalculate(self, duration: float) -> float:
        return duration * (1 + self.fraction * (2 * random.random() - 1))  # noqa: S311


class CappedRateLimitRetryHandler(RetryHandler):
    """Retries a 429 after ``Retry-After`` seconds, unless that is longer than ``max_wait``."""

    def __init__(
        self, max_retry_count: int = RATE_LIMIT_RETRIES, max_wait: float = MAX_RETRY_AFTER_S
    ) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait = max_wait

    @staticmethod
    def retry_after(response: HttpResponse | None) -> float:
        if response is None:
            return 1.0
        for name, values in response.headers.items():
            if name.lower() == "retry-after" and values:
                try:
                    return max(0.0, float(values[0]))
                except ValueError:
                    return 1.0
        return 1.0

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return (
            response is not None
            and response.status_code == 429
            and self.retry_after(response) <= self.max_wait
        )

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        state.next_attempt_requested = True
        time.sleep(self.retry_after(response) + 0.1 * random.random())  # noqa: S311
        state.increment_current_attempt()


class IdempotentServerErrorRetryHandler(ServerErrorRetryHandler):
    """500 to 504 (a proxy's 502 and 504 are as transient), for idempotent methods only."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return (
            response is not None
            and response.status_code in (500, 502, 503, 504)
            and is_idempotent(request)
        )


class SafeConnectionErrorRetryHandler(ConnectionErrorRetryHandler):
    """slack_sdk's connection-error retries, except where the request may have arrived:
    then only for idempotent methods."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if not super()._can_retry(state=state, request=request, response=response, error=error):
            return False
        return is_idempotent(request) or never_sent(error)


def retry_handlers() -> list[RetryHandler]:
    backoff = BackoffRetryIntervalCalculator(
        backoff_factor=BACKOFF_FACTOR_S, jitter=ProportionalJitter()
    )
    return [
        SafeConnectionErrorRetryHandler(
            max_retry_count=CONNECTION_RETRIES, interval_calculator=backoff
        ),
        CappedRateLimitRetryHandler(),
        IdempotentServerErrorRetryHandler(
            max_retry_count=SERVER_ERROR_RETRIES, interval_calculator=backoff
        ),
    ]


def build_web_client(settings: Settings) -> WebClient:
    """The bot token's client, pointed at ``SLACK_API_URL`` (Slack's, or a local fake)."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    return WebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=WEB_API_TIMEOUT_S,
        retry_handlers=retry_handlers(),
    )
