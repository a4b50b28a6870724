"""The HTTP protocol's request deadline and waiting-connection cap, with short timeouts."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bot.server import BackgroundServer

TIMEOUT = 0.5
MAX_WAITING = 4


async def echo(request: Request) -> Response:
    try:
        body = await request.body()
    except ClientDisconnect:
        return PlainTextResponse("gone", status_code=400)
    return PlainTextResponse(f"got {len(body)}")


async def slow(_request: Request) -> Response:
    await asyncio.sleep(TIMEOUT * 3)
    return PlainTextResponse("slow but complete")


APP = Starlette(routes=[Route("/echo", echo, methods=["POST"]), Route("/slow", slow)])


@pytest.fixture
def server() -> Iterator[BackgroundServer]:
    with BackgroundServer(APP, request_timeout=TIMEOUT, max_waiting=MAX_WAITING) as running:
        yield running


def connect(server: BackgroundServer) -> socket.socket:
    return socket.create_connection((server.host, server.port), timeout=TIMEOUT * 8)


def read_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    return data


def test_a_silent_connection_is_closed_without_a_reply(server: BackgroundServer) -> None:
    with connect(server) as sock:
        started = time.monotonic()
        assert read_all(sock) == b""
        assert TIMEOUT * 0.8 <= time.monotonic() - started < TIMEOUT * 4


def test_half_a_head_gets_408(server: BackgroundServer) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n")
        assert read_all(sock).startswith(b"HTTP/1.1 408 Request Timeout\r\n")


def test_a_body_trickled_past_the_deadline_gets_408(server: BackgroundServer) -> None:
    # Bytes keep arriving, but the deadline is for the whole request, not between bytes.
    with connect(server) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n")
        for _ in range(10):
            try:
                sock.sendall(b"x")
            except OSError:
                break
            time.sleep(TIMEOUT / 4)
        reply = read_all(sock)
    assert reply.startswith(b"HTTP/1.1 408 "), reply


def test_a_complete_request_may_take_longer_than_the_deadline(server: BackgroundServer) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        reply = read_all(sock)
    assert reply.startswith(b"HTTP/1.1 200 ") and reply.endswith(b"slow but complete")


def test_after_a_response_the_next_request_has_its_own_deadline(server: BackgroundServer) -> None:
    with connect(server) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
        time.sleep(TIMEOUT / 2)
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\n")  # half of the second one
        reply = read_all(sock)
    first, _, rest = reply.partition(b"got 2")
    assert first.startswith(b"HTTP/1.1 200 ") and rest.startswith(b"HTTP/1.1 408 ")


def test_past_the_cap_the_longest_waiting_connection_goes(server: BackgroundServer) -> None:
    held = [connect(server) for _ in range(MAX_WAITING + 2)]
    try:
        for sock in held[:2]:
            sock.settimeout(TIMEOUT / 2)
            assert read_all(sock) == b""  # closed well before its deadline
        for sock in held[2:]:
            sock.setblocking(False)
            with pytest.raises(BlockingIOError):
                sock.recv(1)
        # A connection that sends its request at once is served (and evicts one more).
        with connect(server) as sock:
            sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx")
            assert sock.recv(4096).startswith(b"HTTP/1.1 200 ")
    finally:
        for sock in held:
            sock.close()
