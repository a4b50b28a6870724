"""A fake Slack Web API on 127.0.0.1 that records every call and can be told to fail.

Serves ``POST /api/<method>`` (auth.test, chat.postMessage, chat.postEphemeral,
chat.update, views.open, files.info, apps.connections.open), ``POST /response/<id>``
for ``response_url`` posts, and ``GET /files/<name>`` for file downloads. Scripts
make the next N calls of a method (or all of them) answer with a given status,
headers and body, e.g. 429 with ``Retry-After: 1`` or 500; ``slow`` makes a method
answer only after a delay (``release`` lets every delayed call answer at once).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

BOT_TOKEN = "xoxb-fake-bot-token"
BOT_USER_ID = "UBOT0001"
BOT_ID = "BBOT0001"
TEAM_ID = "T0000001"


@dataclass(frozen=True)
class Call:
    """One request the fake received."""

    method: str  # Web API method name, or "response_url" / "file"
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float

    def blocks(self) -> list[dict[str, Any]]:
        raw = self.body.get("blocks")
        if isinstance(raw, str):
            raw = json.loads(raw)
        return list(raw or [])

    def all_text(self) -> str:
        """Every text the message would show: the fallback and all block texts."""
        texts: list[str] = [str(self.body.get("text") or "")]

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                if node.get("type") in ("mrkdwn", "plain_text") and "text" in node:
                    texts.append(str(node["text"]))
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for item in node:
                    walk(item)

        walk(self.blocks())
        view = self.body.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        walk(view)
        return "\n".join(texts)


@dataclass
class Script:
    status: int
    body: dict[str, Any] | str
    headers: dict[str, str]
    remaining: int | None  # None: for ever


@dataclass
class _State:
    calls: list[Call] = field(default_factory=list)
    scripts: dict[str, list[Script]] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # id -> (name, bytes)
    delays: dict[str, float] = field(default_factory=dict)  # method -> seconds
    released: threading.Event = field(default_factory=threading.Event)
    lock: threading.Condition = field(default_factory=threading.Condition)


class FakeSlack:
    """``with FakeSlack() as slack:`` — ``slack.api_url`` is what ``SLACK_API_URL`` should be."""

    def __init__(self, token: str = BOT_TOKEN) -> None:
        self.token = token
        self._state = _State()
        self._ts = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def api_url(self) -> str:
        return self.url + "/api/"

    def response_url(self, key: str = "r1") -> str:
        return f"{self.url}/response/{key}"

    def start(self) -> FakeSlack:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- scripting ---------------------------------------------------------------------

    def fail(
        self,
        method: str,
        *,
        status: int = 500,
        times: int | None = 1,
        headers: dict[str, str] | None = None,
        body: dict[str, Any] | str = "",
    ) -> None:
        """The next ``times`` calls of ``method`` (None: all) answer ``status``."""
        with self._state.lock:
            self._state.scripts.setdefault(method, []).append(
                Script(status=status, body=body, headers=dict(headers or {}), remaining=times)
            )

    def rate_limit(self, method: str, *, times: int = 1, retry_after: int = 1) -> None:
        self.fail(
            method,
            status=429,
            times=times,
            headers={"Retry-After": str(retry_after)},
            body={"ok": False, "error": "ratelimited"},
        )

    def api_error(self, method: str, error: str, *, times: int | None = 1) -> None:
        """Answer 200 with ``{"ok": false, "error": error}`` (how Slack reports most errors)."""
        self.fail(method, status=200, times=times, body={"ok": False, "error": error})

    def slow(self, method: str, seconds: float) -> None:
        """Every later call of ``method`` answers after ``seconds`` (or at ``release``)."""
        with self._state.lock:
            self._state.delays[method] = seconds
            self._state.released.clear()

    def release(self) -> None:
        """Answer every delayed call now, and delay none from here on."""
        with self._state.lock:
            self._state.delays.clear()
            self._state.released.set()

    def add_file(self, file_id: str, name: str, content: bytes) -> None:
        with self._state.lock:
            self._state.files[file_id] = (name, content)

    def reset(self) -> None:
        with self._state.lock:
            self._state.calls.clear()
            self._state.scripts.clear()
            self._state.delays.clear()

    # -- inspection --------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        with self._state.lock:
            return [c for c in self._state.calls if method is None or c.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 10.0) -> list[Call]:
        """Block until ``method`` was called ``count`` times; those calls."""
        deadline = time.monotonic() + timeout
        with self._state.lock:
            while True:
                found = [c for c in self._state.calls if c.method == method]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [c.method for c in self._state.calls]
                    raise AssertionError(
                        f"{method} called {len(found)} times, wanted {count}; calls: {seen}"
                    )
                self._state.lock.wait(left)

    def quiet(self, seconds: float = 0.3) -> list[Call]:
        """Wait until no call arrived for ``seconds``; all calls so far."""
        last = -1
        while True:
            time.sleep(seconds)
            with self._state.lock:
                if len(self._state.calls) == last:
                    return list(self._state.calls)
                last = len(self._state.calls)

    # -- HTTP --------------------------------------------------------------------------

    def _delay(self, method: str) -> None:
        with self._state.lock:
            seconds = self._state.delays.get(method, 0.0)
        if seconds > 0:
            self._state.released.wait(seconds)

    def _record(self, call: Call) -> Script | None:
        with self._state.lock:
            self._state.calls.append(call)
            self._state.lock.notify_all()
            scripts = self._state.scripts.get(call.method, [])
            while scripts:
                script = scripts[0]
                if script.remaining is None:
                    return script
                if script.remaining > 0:
                    script.remaining -= 1
                    if script.remaining == 0:
                        scripts.pop(0)
                    return script
                scripts.pop(0)
            return None

    def _answer(self, method: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        if method == "response_url":
            return {}
        auth = headers.get("authorization", "")
        if auth != f"Bearer {self.token}" and body.get("token") != self.token:
            return {"ok": False, "error": "invalid_auth"}
        ts = f"{1700000000 + next(self._ts)}.000100"
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://fake.slack.test/",
                "team": "Fake Team",
                "user": "licensebot",
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "bot_id": BOT_ID,
                "is_enterprise_install": False,
            }
        if method == "chat.postMessage":
            channel = body.get("channel")
            return {"ok": True, "channel": channel, "ts": ts, "message": {"text": body.get("text")}}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": ts}
        if method == "chat.update":
            return {"ok": True, "channel": body.get("channel"), "ts": body.get("ts")}
        if method == "views.open":
            return {"ok": True, "view": {"id": "V" + ts.replace(".", "")[:10]}}
        if method == "files.info":
            file_id = str(body.get("file"))
            with self._state.lock:
                known = self._state.files.get(file_id)
            if known is None:
                return {"ok": False, "error": "file_not_found"}
            name, content = known
            return {
                "ok": True,
                "file": {
                    "id": file_id,
                    "name": name,
                    "size": len(content),
                    "url_private_download": f"{self.url}/files/{file_id}",
                },
            }
        if method == "apps.connections.open":
            return {"ok": False, "error": "not_allowed_token_type"}
        return {"ok": False, "error": "unknown_method"}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _headers(self) -> dict[str, str]:
                return {k.lower(): v for k, v in self.headers.items()}

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                headers = self._headers()
                if self.path.startswith("/files/"):
                    file_id = self.path.removeprefix("/files/")
                    fake._record(Call("file", self.path, headers, {"file": file_id}, time.time()))
                    with fake._state.lock:
                        known = fake._state.files.get(file_id)
                    if known is None or headers.get("authorization") != f"Bearer {fake.token}":
                        self._send(404, b"not found", {"Content-Type": "text/plain"})
                        return
                    self._send(200, known[1], {"Content-Type": "application/octet-stream"})
                    return
                self._send(404, b"not found", {"Content-Type": "text/plain"})

            def do_POST(self) -> None:
                headers = self._headers()
                length = int(headers.get("content-length") or 0)
                raw = self.rfile.read(length).decode("utf-8") if length else ""
                body: dict[str, Any]
                if headers.get("content-type", "").startswith("application/json"):
                    body = json.loads(raw) if raw else {}
                else:
                    body = dict(parse_qsl(raw, keep_blank_values=True))
                if self.path.startswith("/api/"):
                    method = self.path.removeprefix("/api/").split("?")[0]
                elif self.path.startswith("/response/"):
                    method = "response_url"
                else:
                    self._send(404, b"not found", {"Content-Type": "text/plain"})
                    return
                script = fake._record(Call(method, self.path, headers, body, time.time()))
                fake._delay(method)
                if script is not None:
                    payload = script.body
                    data = (
                        json.dumps(payload).encode()
                        if isinstance(payload, dict)
                        else payload.encode()
                    )
                    kind = "application/json" if isinstance(payload, dict) else "text/plain"
                    self._send(script.status, data, {"Content-Type": kind, **script.headers})
                    return
                if method == "response_url":
                    self._send(200, b"ok", {"Content-Type": "text/plain"})
                    return
                answer = fake._answer(method, body, headers)
                self._send(200, json.dumps(answer).encode(), {"Content-Type": "application/json"})

        return Handler
