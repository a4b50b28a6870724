"""Whether a command's acknowledgement went out in time: ``handlers.deps.AckReceipt``.

Bolt waits ``ACK_DEADLINE_S`` for a listener's ``ack()``; after that it answers 404, and
an ack made later goes nowhere, silently. A listener that answers *in* its ack therefore
cannot tell on its own whether the user saw the answer. Each request gets a ``Receipt``
(in its BoltContext under ``handlers.deps.ACK_RECEIPT``) that says so:

- ``LicenseBotApp.dispatch`` notes whether the response Bolt returns is the listener's
  ack; when it is not (Bolt gave up waiting), the receipt says ``ack_timeout`` at once;
- over HTTP, ``AckReceiptMiddleware`` settles it when the response's last byte has been
  handed to the connection: in time if within ``ACK_DEADLINE_S`` of the request's arrival,
  else ``ack_timeout``. (Nothing on our side can see Slack receive it; a response written
  in time on loopback or a healthy network arrives in time.)
- in Socket Mode, which sends the ack as soon as dispatch returns, dispatch settles it.

The middleware hands the receipt to dispatch in a context variable: Starlette runs the
blocking dispatch in a worker thread with a copy of the request's context.
"""

from __future__ import annotations

import threading
import time
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ACK_DEADLINE_S = 3.0
ACK_TIMEOUT = "ack_timeout"
# The connection closed or failed before the whole response was written.
ACK_NOT_SENT = "ack_not_sent"
# Nothing settled the receipt within the listener's wait.
ACK_UNCONFIRMED = "ack_unconfirmed"

_pending: ContextVar[Receipt | None] = ContextVar("licensebot_ack_receipt", default=None)


class Receipt:
    """One request's acknowledgement: settled once, waited on by the listener."""

    def __init__(self, received_at: float | None = None) -> None:
        self.received_at = time.monotonic() if received_at is None else received_at
        self._carries_ack = False
        self._error: str | None = None
        self._settled = threading.Event()
        self._lock = threading.Lock()

    def dispatched(self, *, carries_ack: bool) -> None:
        """Bolt returned its response; ``carries_ack``: it is the listener's ack."""
        self._carries_ack = carries_ack
        if not carries_ack:
            self.settle(ACK_TIMEOUT)

    def sent(self, status: int) -> None:
        """The response has been handed over whole (to the HTTP connection or socket)."""
        if not self._carries_ack or time.monotonic() - self.received_at > ACK_DEADLINE_S:
            self.settle(ACK_TIMEOUT)
        else:
            self.settle(None if status == 200 else f"http_{status}")

    def settle(self, error: str | None) -> None:
        """Record the outcome; the first one counts."""
        with self._lock:
            if self._settled.is_set():
                return
            self._error = error
            self._settled.set()

    def wait(self, timeout: float) -> str | None:
        if not self._settled.wait(timeout):
            return ACK_UNCONFIRMED
        return self._error


def pending_receipt() -> Receipt | None:
    """The receipt the HTTP middleware made for the request being dispatched, if any."""
    return _pending.get()


class AckReceiptMiddleware:
    """Pure ASGI middleware: one ``Receipt`` per HTTP request, settled once it is sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        receipt = Receipt()
        token = _pending.set(receipt)
        status = 0

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                receipt.sent(status)

        try:
            await self.app(scope, receive, sending)
        finally:
            _pending.reset(token)
            receipt.settle(ACK_NOT_SENT)
