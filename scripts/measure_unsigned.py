"""Re-measure issue 13's figures for unsigned requests and idle connections.

Starts the real app behind uvicorn on 127.0.0.1 (bundled knowledge base, audit trail in
a temporary directory, Web API and response_url pointed at the fake Slack from
tests/e2e/fake_slack.py) and reports, as JSON:

- ``malformed``: the HTTP status of each malformed-header request from the issue and how
  many calls reached the fake Slack because of them (should be 0);
- ``stall``: 42 such requests in parallel with response_url answering 429 Retry-After 10,
  and the time a signed ``/ask`` and ``/readyz`` take meanwhile;
- ``log_flood``: how many bytes twenty unsigned 512 KiB POSTs add to the JSON log;
- ``idle``: with 300 idle sockets open, ``/healthz`` status and latency (p50/p95 of 50
  GETs), a signed ``/ask``, and how long until the server has closed all 300.

Everything is bounded and loopback only.

    .venv/bin/python scripts/measure_unsigned.py
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import selectors
import socket
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from fake_slack import BOT_TOKEN, TEAM_ID, FakeSlack  # noqa: E402

from bot.app import build_deps, create_app  # noqa: E402
from bot.audit.trail import AuditTrail  # noqa: E402
from bot.logging import configure_logging  # noqa: E402
from bot.server import BackgroundServer, build_asgi_app, deps_readiness  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from knowledge.service import KnowledgeBase  # noqa: E402

SECRET = "measure-signing-secret-0123456789"
FORM = "application/x-www-form-urlencoded"
QUESTION = "What did Vincent Pang say about the talks?"


class CountingLog(io.TextIOBase):
    def __init__(self) -> None:
        self.written = 0

    def write(self, text: str) -> int:
        self.written += len(text.encode("utf-8"))
        return len(text)

    def isatty(self) -> bool:
        return False


def post(
    url: str, body: bytes, headers: dict[str, str], timeout: float = 40.0
) -> tuple[int, float]:
    """(status, seconds); status 0 when no answer came within ``timeout``."""
    return fetch(urllib.request.Request(url, data=body, method="POST", headers=headers), timeout)


def get(url: str, timeout: float = 10.0) -> tuple[int, float]:
    return fetch(urllib.request.Request(url), timeout)


def fetch(request: urllib.request.Request, timeout: float) -> tuple[int, float]:
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (TimeoutError, urllib.error.URLError, ConnectionError):
        status = 0
    return status, time.monotonic() - started


def signed(body: bytes, content_type: str = FORM) -> dict[str, str]:
    ts = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": "v0=" + digest.hexdigest(),
    }


def ask_body(fake: FakeSlack, n: int) -> bytes:
    return urlencode(
        {
            "command": "/ask",
            "text": QUESTION,
            "user_id": "U0MEASURE",
            "channel_id": "C0MEASURE",
            "team_id": TEAM_ID,
            "response_url": fake.response_url(f"ask{n}"),
            "trigger_id": f"{n}.{TEAM_ID}.t",
        }
    ).encode()


def summary(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def malformed(url: str, fake: FakeSlack) -> dict[str, Any]:
    target = fake.response_url("attacker")
    cases: dict[str, tuple[bytes, dict[str, str]]] = {
        "timestamp x, block_actions form": (
            urlencode({"type": "block_actions", "response_url": target}).encode(),
            {"X-Slack-Request-Timestamp": "x", "X-Slack-Signature": "v0=0"},
        ),
        "timestamp x, /ask command": (
            urlencode({"command": "/ask", "text": "hi", "response_url": target}).encode(),
            {"X-Slack-Request-Timestamp": "x", "X-Slack-Signature": "v0=0"},
        ),
        "non-ASCII signature": (
            urlencode({"type": "block_actions", "response_url": target}).encode(),
            {
                "X-Slack-Request-Timestamp": str(int(time.time())),
                # Latin-1 on the wire: the UTF-8 bytes of "é" repeated.
                "X-Slack-Signature": ("v0=" + "é" * 64).encode().decode("latin-1"),
            },
        ),
        "absurd timestamp": (
            urlencode({"type": "block_actions", "response_url": target}).encode(),
            {"X-Slack-Request-Timestamp": "9" * 400, "X-Slack-Signature": "v0=" + "0" * 64},
        ),
    }
    fake.reset()
    statuses = {
        name: post(url, body, {"Content-Type": FORM, **headers})[0]
        for name, (body, headers) in cases.items()
    }
    calls = fake.quiet(1.0)
    return {"statuses": statuses, "outbound_calls": len(calls)}


def stall(url: str, base: str, fake: FakeSlack) -> dict[str, Any]:
    fake.reset()
    fake.fail("response_url", status=429, times=None, headers={"Retry-After": "10"})
    body = urlencode({"type": "block_actions", "response_url": fake.response_url("x")}).encode()
    headers = {"Content-Type": FORM, "X-Slack-Request-Timestamp": "x", "X-Slack-Signature": "v0=0"}
    with ThreadPoolExecutor(42) as pool:
        flood = [pool.submit(post, url, body, headers) for _ in range(42)]
        time.sleep(0.5)
        ask_body_ = ask_body(fake, 0)
        ask_status, ask_s = post(url, ask_body_, signed(ask_body_))
        ready_status, ready_s = get(base + "/readyz", timeout=40)
        statuses = sorted({f.result()[0] for f in flood})
    result = {
        "forged_statuses": statuses,
        "signed_ask": {"status": ask_status, "seconds": round(ask_s, 3)},
        "readyz": {"status": ready_status, "seconds": round(ready_s, 3)},
        "response_url_calls": len(fake.calls("response_url")),
    }
    fake.reset()
    return result


def log_flood(url: str, log: CountingLog) -> dict[str, Any]:
    # A well-formed command, so that only the signature is wrong.
    prefix = b"command=%2Fask&text="
    body = prefix + b"Z" * (512 * 1024 - len(prefix))
    before = log.written
    statuses = {post(url, body, {"Content-Type": FORM})[0] for _ in range(20)}
    return {"statuses": sorted(statuses), "log_bytes_added": log.written - before}


def idle(base: str, url: str, fake: FakeSlack) -> dict[str, Any]:
    host, port = base.removeprefix("http://").split(":")
    socks = [socket.create_connection((host, int(port)), timeout=5) for _ in range(300)]
    opened = time.monotonic()
    try:
        health = [get(base + "/healthz") for _ in range(50)]
        body = ask_body(fake, 1)
        ask_status, ask_s = post(url, body, signed(body), timeout=10)
        closed_after = wait_closed(socks, opened, timeout=20)
    finally:
        for sock in socks:
            sock.close()
    return {
        "healthz_statuses": sorted({status for status, _ in health}),
        "healthz_latency": summary([seconds for _, seconds in health]),
        "signed_ask": {"status": ask_status, "seconds": round(ask_s, 3)},
        "all_300_closed_by_server_after_s": closed_after,
    }


def wait_closed(socks: list[socket.socket], opened: float, timeout: float) -> float | None:
    open_socks = set(socks)
    with selectors.DefaultSelector() as selector:
        for sock in socks:
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while open_socks and time.monotonic() < deadline:
            for key, _ in selector.select(0.5):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    if sock.recv(4096):
                        continue
                except ConnectionResetError:
                    pass
                selector.unregister(sock)
                open_socks.discard(sock)
    return None if open_socks else round(time.monotonic() - opened, 2)


def main() -> int:
    log = CountingLog()
    configure_logging("INFO", "json", stream=log)
    with tempfile.TemporaryDirectory() as tmp, FakeSlack(BOT_TOKEN) as fake:
        settings = load_settings(
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SECRET,
            slack_api_url=fake.api_url,
            data_dir=Path(tmp),
        )
        audit = AuditTrail(Path(tmp) / "audit.jsonl")
        deps = build_deps(settings, kb=KnowledgeBase.load(), audit=audit)
        app = create_app(settings, deps, verify_token=True)
        with BackgroundServer(build_asgi_app(app, deps_readiness(deps))) as server:
            url = server.url + "/slack/events"
            steps: dict[str, Callable[[], dict[str, Any]]] = {
                "malformed": lambda: malformed(url, fake),
                "stall": lambda: stall(url, server.url, fake),
                "log_flood": lambda: log_flood(url, log),
                "idle": lambda: idle(server.url, url, fake),
            }
            report = {name: step() for name, step in steps.items()}
        audit.close()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
