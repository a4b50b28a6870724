"""What the Slack benchmarks share: requests signed and shaped as Slack sends them; the
fake Slack Web API and ``licensebot serve --workers N`` as processes of their own, run
once per worker count (``measure_each``); and, for benchmarks that script the fake Web
API, the app running in this process (``running_bot``).

``scripts/bench_slack.py`` and ``scripts/bench_followup.py`` send these to a ``licensebot
serve`` process of their own; ``scripts/bench_ack_under_load.py`` to ``running_bot()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import http.client
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from fake_slack import BOT_TOKEN, BOT_USER_ID, TEAM_ID, FakeSlack  # noqa: E402

SECRET = "bench-signing-secret-0123456789ab"
QUESTIONS = (
    "Which US companies is Huawei talking to about licensing its 5G technology?",
    "What did Vincent Pang say about the talks?",
    "When was Huawei added to the Entity List?",
    "Would Huawei license its 5G patents to an American firm?",
)
FAKE = ROOT / "tests" / "e2e" / "fake_slack.py"
READY_TIMEOUT_S = 60.0
ANSWER_TIMEOUT_S = 300.0
REQUEST_TIMEOUT_S = 30.0
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
__all__ = ["BOT_TOKEN", "BOT_USER_ID", "SECRET", "TEAM_ID", "FakeSlack"]


def signature_headers(body: bytes) -> dict[str, str]:
    """Slack's v0 scheme over the raw body, timestamped now."""
    ts = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": "v0=" + digest.hexdigest(),
    }


def signed_post(url: str, body: bytes, content_type: str) -> tuple[int, float]:
    """One request on a fresh connection, as Slack makes them; (status, seconds)."""
    headers = {"Content-Type": content_type, **signature_headers(body)}
    parts = urlparse(url)
    started = time.perf_counter()
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        conn.request("POST", parts.path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        status = response.status
    finally:
        conn.close()
    return status, time.perf_counter() - started


def command_body(i: int, response_url: str) -> bytes:
    """A signed-to-be ``/ask`` with the ``i``-th question."""
    form = {
        "team_id": TEAM_ID,
        "channel_id": "C0BENCH01",
        "user_id": "U0BENCH01",
        "command": "/ask",
        "text": QUESTIONS[i % len(QUESTIONS)],
        "response_url": response_url,
        "trigger_id": f"{i}.bench",
    }
    return urlencode(form).encode()


def event_body(i: int) -> bytes:
    """An ``app_mention`` event_callback; the same ``i`` gives the same event_id (a retry)."""
    ts = f"{int(time.time())}.{i % 1_000_000:06d}"
    envelope: dict[str, Any] = {
        "team_id": TEAM_ID,
        "api_app_id": "A0BENCH01",
        "type": "event_callback",
        "event_id": f"EvBENCH{i:09d}",
        "event_time": int(time.time()),
        "event": {
            "type": "app_mention",
            "user": "U0BENCH01",
            "channel": "C0BENCH01",
            "ts": ts,
            "event_ts": ts,
            "text": f"<@{BOT_USER_ID}> {QUESTIONS[i % len(QUESTIONS)]}",
        },
    }
    return json.dumps(envelope).encode()


def signed(body: bytes, content_type: str, port: int) -> bytes:
    """The whole HTTP request for ``POST /slack/events``, signed, closing its connection."""
    headers = {
        "Host": f"127.0.0.1:{port}",
        "Content-Type": content_type,
        "Content-Length": str(len(body)),
        **signature_headers(body),
        "Connection": "close",
    }
    head = "POST /slack/events HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return (head + "\r\n").encode() + body


async def post(port: int, request: bytes) -> tuple[int, float]:
    """One request on a fresh connection; (status, seconds until the whole reply)."""
    started = time.perf_counter()
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port), REQUEST_TIMEOUT_S
    )
    try:
        writer.write(request)
        await writer.drain()
        reply = await asyncio.wait_for(reader.read(), REQUEST_TIMEOUT_S)  # Connection: close
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    status = int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/") else 0
    return status, time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as reply:  # loopback only
        data = json.loads(reply.read())
    return data if isinstance(data, dict) else {}


class Fake:
    """The fake Slack Web API in a process of its own."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(FAKE)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self.process.stdout is not None
        where = json.loads(self.process.stdout.readline())
        self.url, self.api_url = where["url"], where["api_url"]

    def count(self, method: str) -> int:
        return int(get_json(self.url + "/_stats")["calls"].get(method, 0))

    def wait_count(self, method: str, count: int) -> None:
        deadline = time.monotonic() + ANSWER_TIMEOUT_S
        while self.count(method) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{method}: {self.count(method)} of {count} in time")
            time.sleep(0.01)

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(10)


class Server:
    """``licensebot serve --workers N`` in a process of its own."""

    def __init__(
        self, fake: Fake, workers: int, data_dir: Path, settings: dict[str, str] | None = None
    ) -> None:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "LICENSEBOT_"))}
        env.update(
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=fake.api_url,
            LICENSEBOT_PORT=str(self.port),
            LICENSEBOT_DATA_DIR=str(data_dir),
            LICENSEBOT_KB_POLL_SECONDS="0",
            LICENSEBOT_LOG_FORMAT="json",
        )
        env.update(settings or {})
        self.log_path = data_dir.parent / f"serve-{workers}.log"
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--workers", str(workers)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        self.workers = workers
        self._wait_ready()

    def _wait_ready(self) -> None:
        """Until /readyz has come back 200 from every worker."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        seen: set[int] = set()
        while len(seen) < self.workers:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"serve --workers {self.workers} did not become ready")
            with contextlib.suppress(OSError, ValueError):
                body = get_json(f"http://127.0.0.1:{self.port}/readyz")
                seen.add(int(body.get("worker", {}).get("pid") or self.process.pid))
            time.sleep(0.02)

    def log_tail(self, lines: int = 30) -> str:
        self.log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def close(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        finally:
            self.log.close()


def setting_pairs(pairs: list[str]) -> dict[str, str]:
    """``--setting LICENSEBOT_NAME=value`` options as environment entries for the server."""
    settings = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.startswith("LICENSEBOT_"):
            raise ValueError(f"--setting {pair!r}: expected LICENSEBOT_NAME=value")
        settings[name] = value
    return settings


def summary(samples: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples)
    cuts = statistics.quantiles(ms, n=100, method="inclusive")
    return {
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 1),
        "p95_ms": round(cuts[94], 1),
        "p99_ms": round(cuts[98], 1),
        "max_ms": round(ms[-1], 1),
    }


Measure = Callable[["Server", "Fake", int], list[dict[str, Any]]]


def measure_each(
    workers: list[int], prefix: str, measure: Measure, settings: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """For each count in ``workers``, a fresh ``serve --workers N`` (its own temporary data
    directory, ``settings`` added to its environment) against one fake Web API process:
    the rows of ``measure(server, fake, offset)``, in order (``offset`` keeps each
    server's event ids apart from the others'). A failure prints the server's last log
    lines."""
    rows: list[dict[str, Any]] = []
    fake = Fake()
    try:
        for n, count in enumerate(workers):
            with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
                server = Server(fake, count, Path(tmp) / "var", settings)
                try:
                    rows += measure(server, fake, (n + 1) * 10_000_000)
                except Exception:
                    print(server.log_tail(), file=sys.stderr)
                    raise
                finally:
                    server.close()
    finally:
        fake.close()
    return rows


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kib / 1024 / 1024:.1f} GiB"
    load = ", load {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())
    return (
        f"{cpu}, {os.cpu_count()} CPUs{mem}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}{load}"
    )


@contextmanager
def running_bot() -> Iterator[tuple[str, FakeSlack, Path]]:
    """The real app on 127.0.0.1 in this process, its Web API the fake Slack, logs
    discarded: (the events URL, the fake, the audit trail's path)."""
    from bot.app import build_deps, create_app  # noqa: PLC0415  (only this use needs them)
    from bot.audit.trail import AuditTrail  # noqa: PLC0415
    from bot.logging import configure_logging  # noqa: PLC0415
    from bot.server import BackgroundServer, build_asgi_app, deps_readiness  # noqa: PLC0415
    from bot.settings import load_settings  # noqa: PLC0415
    from knowledge.service import KnowledgeBase  # noqa: PLC0415

    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeSlack(BOT_TOKEN) as fake,
        open(os.devnull, "w") as devnull,
    ):
        configure_logging("INFO", "json", stream=devnull)
        settings = load_settings(
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SECRET,
            slack_api_url=fake.api_url,
            data_dir=Path(tmp),
        )
        audit_path = Path(tmp) / "audit.jsonl"
        audit = AuditTrail(audit_path)
        deps = build_deps(settings, kb=KnowledgeBase.load(), audit=audit)
        app = create_app(settings, deps, verify_token=True)
        try:
            with BackgroundServer(build_asgi_app(app, deps_readiness(deps))) as server:
                yield server.url + "/slack/events", fake, audit_path
        finally:
            audit.close()
