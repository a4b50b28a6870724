"""uvicorn's h11 protocol with a deadline for each request to arrive, and a cap on waiters.

uvicorn times out only a kept-alive connection that sends nothing after a response: one
that opens and sends nothing, or half a request, stays open for ever. Here a connection
has ``timeout`` seconds, from opening or from its previous response, to deliver one whole
request (head and body); one that started a request and did not finish gets 408, an idle
one is just closed. At most ``max_waiting`` connections may be waiting at once: beyond
that, a new connection closes the one that has waited longest, so sockets held open on
purpose cannot keep new clients out.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import structlog
from uvicorn.protocols.http.h11_impl import H11Protocol

log = structlog.get_logger("licensebot.server")

_TIMEOUT_REPLY = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: 16\r\n"
    b"connection: close\r\n\r\n"
    b"request timeout\n"
)
# States in which the peer has not yet delivered the whole current request.
_ARRIVING = (h11.IDLE, h11.SEND_BODY)


class DeadlineH11Protocol(H11Protocol):
    """Base for the per-server classes made by ``deadline_protocol``."""

    timeout: float = 5.0
    max_waiting: int = 512
    # Connections waiting for a whole request, oldest first (shared by one server's class).
    waiting: dict[DeadlineH11Protocol, None]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._started = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_request()

    def data_received(self, data: bytes) -> None:
        self._started = True
        super().data_received(data)
        if self.conn.their_state not in _ARRIVING:
            self._stop_waiting()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if (
            self not in self.waiting
            and not self.transport.is_closing()
            and self.conn.their_state in _ARRIVING
        ):
            self._await_request()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)

    def _await_request(self) -> None:
        self._started = bool(self.conn.trailing_data[0])
        while len(self.waiting) >= self.max_waiting:
            next(iter(self.waiting)).expire("evicted")
        self.waiting[self] = None
        self._deadline = self.loop.call_later(self.timeout, self.expire, "timeout")

    def _stop_waiting(self) -> None:
        self.waiting.pop(self, None)
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def expire(self, reason: str) -> None:
        """Close a connection that has not delivered its request (timed out or evicted)."""
        self._stop_waiting()
        if self.transport.is_closing():
            return
        cycle = self.cycle
        # Past the head, self.cycle is this request's; before it, the previous one's or None.
        in_body = self.conn.their_state is h11.SEND_BODY
        answered = in_body and cycle.response_started
        if self._started and not answered:
            self.transport.write(_TIMEOUT_REPLY)
        if in_body and not cycle.response_complete:
            # The app's receive() now reports a disconnect and its send() writes nothing.
            cycle.disconnected = True
            cycle.message_event.set()
        self.transport.close()
        phase = "body" if in_body else "head" if self._started else "idle"
        client = f"{self.client[0]}:{self.client[1]}" if self.client else None
        # An idle socket is routine (keep-alive pools, port probes); a half request is not.
        level = log.debug if phase == "idle" and reason == "timeout" else log.info
        level("connection.closed", reason=reason, phase=phase, client=client)


def deadline_protocol(timeout: float, max_waiting: int) -> type[DeadlineH11Protocol]:
    """A protocol class for one server: its own registry of waiting connections."""
    return type(
        "ServerH11Protocol",
        (DeadlineH11Protocol,),
        {"timeout": timeout, "max_waiting": max_waiting, "waiting": {}},
    )
