"""Past LIMIT_CONCURRENCY requests in hand the server answers 503; /healthz always answers."""

from __future__ import annotations

import selectors
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from bot.server import LIMIT_CONCURRENCY, BackgroundServer, build_asgi_app

EXTRA = 6


class Gate:
    """A readiness check that holds every caller until opened."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.waiting = 0
        self._lock = threading.Lock()

    def __call__(self) -> tuple[bool, Mapping[str, Any]]:
        with self._lock:
            self.waiting += 1
        self.opened.wait(30)
        return True, {}


@pytest.fixture
def gate() -> Iterator[Gate]:
    gate = Gate()
    yield gate
    gate.opened.set()


def readable_within(socks: list[socket.socket], wanted: int, timeout: float) -> set[socket.socket]:
    """The sockets with a reply waiting: once ``wanted`` are, and a moment more for strays."""
    answered: set[socket.socket] = set()
    with selectors.DefaultSelector() as selector:
        for sock in socks:
            selector.register(sock, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while len(answered) < wanted and time.monotonic() < deadline:
            answered.update(key.fileobj for key, _ in selector.select(0.5))
        time.sleep(0.3)
        answered.update(key.fileobj for key, _ in selector.select(0))
    return answered


def status_of(sock: socket.socket) -> int:
    line = sock.makefile("rb").readline()
    return int(line.split()[1])


def test_requests_beyond_the_limit_get_503_and_health_still_answers(gate: Gate) -> None:
    with BackgroundServer(build_asgi_app(None, gate)) as server:
        socks = []
        try:
            for _ in range(LIMIT_CONCURRENCY + EXTRA):
                sock = socket.create_connection((server.host, server.port), timeout=20)
                sock.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                socks.append(sock)
            deadline = time.monotonic() + 10
            while gate.waiting == 0 and time.monotonic() < deadline:
                time.sleep(0.01)
            # EXTRA of them (normally the last ones in) are refused at once; the rest are held.
            answered = readable_within(socks, EXTRA, timeout=10)
            assert len(answered) == EXTRA
            assert [status_of(s) for s in answered] == [503] * EXTRA
            with socket.create_connection((server.host, server.port), timeout=5) as probe:
                probe.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                assert status_of(probe) == 200
            gate.opened.set()
            held = [s for s in socks if s not in answered]
            assert [status_of(s) for s in held] == [200] * LIMIT_CONCURRENCY
        finally:
            for sock in socks:
                sock.close()
