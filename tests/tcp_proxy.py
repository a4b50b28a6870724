"""A loopback TCP proxy in front of a real server, for fault tests.

``up`` forwards both ways; ``down`` closes every connection and refuses new ones;
``blackhole`` forwards requests but swallows every reply (the server acts, the client
hears nothing); ``swallow_replies(n)`` swallows only the next ``n`` reply chunks.
Listens on 127.0.0.1 only; ``close()`` (or leaving the ``with``) stops every thread.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Literal

Mode = Literal["up", "down", "blackhole"]


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self._mode: Mode = "up"
        self._swallow = 0
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._closed = threading.Event()
        self._threads: list[threading.Thread] = []
        self._spawn(self._accept_loop)

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def url(self, scheme: str = "redis", path: str = "/0") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def set_mode(self, mode: Mode) -> None:
        with self._lock:
            self._mode = mode
            if mode == "down":
                for conn in self._conns:
                    _shut(conn)
                self._conns.clear()

    def swallow_replies(self, chunks: int) -> None:
        with self._lock:
            self._swallow = chunks

    def close(self) -> None:
        self._closed.set()
        self.set_mode("down")
        self._listener.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                refuse = self._mode == "down"
            if refuse:
                _shut(client)
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=2)
            except OSError:
                _shut(client)
                continue
            with self._lock:
                self._conns += [client, upstream]
            self._spawn(self._pump, client, upstream, False)
            self._spawn(self._pump, upstream, client, True)

    def _pump(self, source: socket.socket, sink: socket.socket, is_reply: bool) -> None:
        try:
            source.settimeout(0.2)
        except OSError:  # closed already: the proxy went down before this thread started
            _shut(sink)
            return
        while not self._closed.is_set():
            try:
                data = source.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:
                break
            with self._lock:
                drop = is_reply and (self._mode == "blackhole" or self._swallow > 0)
                if is_reply and self._swallow > 0:
                    self._swallow -= 1
            if drop:
                continue
            try:
                sink.sendall(data)
            except OSError:
                break
        _shut(source)
        _shut(sink)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
