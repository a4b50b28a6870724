"""Connections that never finish a request cannot lock anyone out (issue 13, item 4).

The issue's reproduction: 300 idle sockets made ``/healthz`` and signed requests answer 503
for as long as they stayed open.
"""

from __future__ import annotations

import json
import selectors
import socket
import time
from collections.abc import Iterator

import pytest
from conftest import Bot, dm_message, event_callback

from bot.server import MAX_WAITING_CONNECTIONS, REQUEST_TIMEOUT_S

QUESTION = "What did Vincent Pang say about the talks?"
HEAD = b"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
HALF_BODY = HEAD + b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"


def address(bot: Bot) -> tuple[str, int]:
    host, port = bot.url.removeprefix("http://").split(":")
    return host, int(port)


@pytest.fixture
def open_sockets() -> Iterator[list[socket.socket]]:
    held: list[socket.socket] = []
    yield held
    for sock in held:
        sock.close()


def hold(bot: Bot, held: list[socket.socket], count: int, sends: tuple[bytes, ...]) -> None:
    """Open ``count`` connections, the n-th sending ``sends[n % len(sends)]`` and no more."""
    for n in range(count):
        sock = socket.create_connection(address(bot), timeout=5)
        if sends[n % len(sends)]:
            sock.sendall(sends[n % len(sends)])
        held.append(sock)


def read_until_closed(socks: list[socket.socket], timeout: float) -> dict[socket.socket, bytes]:
    """What each socket received before the server closed it; raises if one stays open."""
    received = {sock: b"" for sock in socks}
    with selectors.DefaultSelector() as selector:
        for sock in socks:
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{len(selector.get_map())} connections still open")
            for key, _ in selector.select(left):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    chunk = sock.recv(4096)
                except ConnectionResetError:
                    chunk = b""
                if chunk:
                    received[sock] += chunk
                else:
                    selector.unregister(sock)
    return received


def timed_get(bot: Bot, path: str) -> tuple[int, float]:
    started = time.monotonic()
    status = bot.get(path).status
    return status, time.monotonic() - started


def test_300_idle_sockets_leave_health_and_slack_answering(
    bot: Bot, open_sockets: list[socket.socket]
) -> None:
    # A third send nothing, a third half a request head, a third a head and half a body.
    hold(bot, open_sockets, 300, (b"", HEAD, HALF_BODY))
    opened = time.monotonic()

    status, took = timed_get(bot, "/healthz")
    assert status == 200 and took < 1.0, (status, took)
    assert timed_get(bot, "/readyz")[0] == 200
    bot.fake.reset()
    reply = bot.event(dm_message(QUESTION))
    assert reply.status == 200
    bot.fake.wait_for("chat.postMessage")
    ask = bot.command(QUESTION)
    assert ask.status == 200 and ask.json()["blocks"]
    assert time.monotonic() - opened < REQUEST_TIMEOUT_S, "the checks ran too slowly to count"

    # Then the server lets go of every one of them.
    received = read_until_closed(open_sockets, REQUEST_TIMEOUT_S + 5)
    assert time.monotonic() - opened >= REQUEST_TIMEOUT_S - 0.5
    for n, sock in enumerate(open_sockets):
        if n % 3 == 0:
            assert received[sock] == b"", received[sock]  # idle: just closed
        else:
            assert received[sock].startswith(b"HTTP/1.1 408 "), received[sock]
    closed = bot.logs.records("connection.closed")
    assert len(closed) == 200  # the idle third is logged at DEBUG only
    assert {r["phase"] for r in closed} == {"head", "body"}
    assert {r["reason"] for r in closed} == {"timeout"}
    assert len(bot.logs.records("request.incomplete")) == 100
    assert bot.logs.records("listener.error") == []
    assert timed_get(bot, "/healthz")[0] == 200


def test_beyond_the_cap_the_longest_waiting_connections_are_closed(
    bot: Bot, open_sockets: list[socket.socket]
) -> None:
    extra = 40
    hold(bot, open_sockets, MAX_WAITING_CONNECTIONS + extra, (b"",))
    oldest, newest = open_sockets[:extra], open_sockets[extra:]
    # The oldest make room at once, long before any timeout.
    read_until_closed(oldest, timeout=REQUEST_TIMEOUT_S / 2)
    for sock in newest[-5:]:
        sock.setblocking(False)
        with pytest.raises(BlockingIOError):
            sock.recv(1)  # still open, nothing sent
    status, took = timed_get(bot, "/healthz")
    assert status == 200 and took < 1.0
    evicted = [r for r in bot.logs.records("connection.closed") if r["reason"] == "evicted"]
    # /healthz's own connection made one more waiting connection.
    assert extra <= len(evicted) <= extra + 1


def test_a_kept_alive_connection_still_serves_its_next_request(bot: Bot) -> None:
    body = json.dumps(event_callback(dm_message(QUESTION))).encode()
    with socket.create_connection(address(bot), timeout=10) as sock:
        stream = sock.makefile("rb")
        for _ in range(2):
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert stream.readline().startswith(b"HTTP/1.1 200")
            while stream.readline() not in (b"\r\n", b""):
                pass
            stream.read(len(b'{"status":"ok"}'))
            time.sleep(1.0)
    assert bot.post(body, "application/json").status == 200
