"""The request-body limit, for bodies whose length is not declared up front."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.requests import Request

from bot.server import BodyTooLarge, read_body


def streamed_request(
    chunks: list[bytes], headers: list[tuple[bytes, bytes]]
) -> tuple[Request, list[dict[str, Any]]]:
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    scope = {"type": "http", "method": "POST", "path": "/slack/events", "headers": headers}
    return Request(scope, receive), messages


def test_chunked_body_over_the_limit_is_refused_while_streaming() -> None:
    request, unread = streamed_request([b"x" * 400] * 5, [(b"transfer-encoding", b"chunked")])
    with pytest.raises(BodyTooLarge):
        asyncio.run(read_body(request, limit=1000))
    # It stopped at the third chunk instead of buffering the rest.
    assert len(unread) == 2


def test_body_at_the_limit_is_read_whole() -> None:
    request, _ = streamed_request([b"a" * 500, b"b" * 500], [])
    assert asyncio.run(read_body(request, limit=1000)) == b"a" * 500 + b"b" * 500


def test_declared_length_over_the_limit_is_refused_before_reading() -> None:
    request, unread = streamed_request([b"never read"], [(b"content-length", b"5000")])
    with pytest.raises(BodyTooLarge):
        asyncio.run(read_body(request, limit=1000))
    assert len(unread) == 1
