"""Ack receipts: whether the response carrying a command's ack went out in time."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from bot.delivery.ack_receipt import (
    ACK_DEADLINE_S,
    ACK_NOT_SENT,
    ACK_TIMEOUT,
    ACK_UNCONFIRMED,
    AckReceiptMiddleware,
    Receipt,
    pending_receipt,
)


def test_an_ack_sent_in_time_is_confirmed() -> None:
    receipt = Receipt()
    receipt.dispatched(carries_ack=True)
    assert receipt.wait(0.01) == ACK_UNCONFIRMED  # not written yet
    receipt.sent(200)
    assert receipt.wait(0.01) is None


def test_a_response_without_the_ack_settles_at_once() -> None:
    receipt = Receipt()
    receipt.dispatched(carries_ack=False)  # Bolt gave up waiting: its 404
    assert receipt.wait(0) == ACK_TIMEOUT
    receipt.sent(404)
    assert receipt.wait(0) == ACK_TIMEOUT


def test_an_ack_written_after_the_deadline_is_late() -> None:
    receipt = Receipt(received_at=time.monotonic() - ACK_DEADLINE_S - 0.1)
    receipt.dispatched(carries_ack=True)
    receipt.sent(200)
    assert receipt.wait(0) == ACK_TIMEOUT


def respond_through_middleware(*, fail_send: bool = False) -> tuple[Receipt, list[str]]:
    """An ASGI app acking through ``AckReceiptMiddleware``: its receipt, and the messages
    sent. The receipt is still open between the response's start and its body."""
    seen: list[Receipt] = []
    sent: list[str] = []
    open_before_body: list[bool] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        receipt = pending_receipt()
        assert receipt is not None
        seen.append(receipt)
        receipt.dispatched(carries_ack=True)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        open_before_body.append(receipt.wait(0) == ACK_UNCONFIRMED)
        await send({"type": "http.response.body", "body": b"{}", "more_body": False})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if fail_send and message["type"] == "http.response.body":
            raise OSError("connection reset")
        sent.append(message["type"])

    scope = {"type": "http", "method": "POST", "path": "/slack/events", "headers": []}
    with contextlib.suppress(OSError):  # the connection's failure reaches the server
        asyncio.run(AckReceiptMiddleware(app)(scope, receive, send))
    assert open_before_body == [True]
    return seen[0], sent


def test_the_middleware_settles_the_receipt_once_the_body_is_written() -> None:
    receipt, sent = respond_through_middleware()
    assert sent == ["http.response.start", "http.response.body"]
    assert receipt.wait(0) is None
    assert pending_receipt() is None


def test_a_response_that_could_not_be_written_is_not_sent() -> None:
    receipt, _ = respond_through_middleware(fail_send=True)
    assert receipt.wait(0) == ACK_NOT_SENT
