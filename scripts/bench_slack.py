"""Measure how fast `licensebot serve` acknowledges and answers Slack requests, as a server.

Three kinds of process, so that none measures another's contention for one interpreter:

* the fake Slack Web API (``tests/e2e/fake_slack.py`` run on its own, in its own process),
* ``licensebot serve --workers N`` (bundled knowledge base, the file audit trail and the
  embedded dedupe in a temporary data directory, INFO logs to a file), for each N asked,
* this script: the load generator, one asyncio loop, a fresh connection per request as
  Slack makes them, every request signed with Slack's v0 scheme.

For each client count, that many clients send requests back to back (closed loop) until a
bounded number has been sent: first signed ``/ask`` commands (answered in the ack, so ack
time is answer time), then ``app_mention`` events (acknowledged at once, answered through
``chat.postMessage``, counted at the fake), then the same events again as Slack's retries
(acknowledged and dropped: the acknowledgement path with no answer to compute). Reports
ack p50/p95/p99 and answers per second.
Loopback only; everything stops by itself.

    .venv/bin/python scripts/bench_slack.py [--workers 1,2] [--clients 1,5,20,50]
                                            [--requests 200] [--json] [--markdown]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from slack_load import (  # noqa: E402
    BOT_TOKEN,
    FORM,
    JSON,
    SECRET,
    command_body,
    event_body,
    signature_headers,
)

FAKE = ROOT / "tests" / "e2e" / "fake_slack.py"
READY_TIMEOUT_S = 60.0
ANSWER_TIMEOUT_S = 300.0
REQUEST_TIMEOUT_S = 30.0


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


async def closed_loop(port: int, requests: list[bytes], clients: int) -> tuple[list[float], float]:
    """``clients`` connections' worth of senders sharing ``requests``; (latencies, seconds)."""
    queue = list(reversed(requests))
    latencies: list[float] = []
    failures: list[int] = []

    async def client() -> None:
        while queue:
            status, took = await post(port, queue.pop())
            if status != 200:
                failures.append(status)
            latencies.append(took)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed, e.g. HTTP {failures[0]}")
    return latencies, elapsed


# --------------------------------------------------------------------------- processes


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

    def __init__(self, fake: Fake, workers: int, data_dir: Path) -> None:
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


# --------------------------------------------------------------------------- measuring


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


def level(server: Server, fake: Fake, clients: int, requests: int, offset: int) -> dict[str, Any]:
    port = server.port
    asks = [
        signed(command_body(offset + i, f"{fake.url}/response/b{offset + i}"), FORM, port)
        for i in range(requests)
    ]
    ask_latency, ask_s = asyncio.run(closed_loop(port, asks, clients))
    before = fake.count("chat.postMessage")
    mentions = [signed(event_body(offset + i), JSON, port) for i in range(requests)]
    started = time.perf_counter()
    mention_latency, _ = asyncio.run(closed_loop(port, mentions, clients))
    fake.wait_count("chat.postMessage", before + requests)
    mention_s = time.perf_counter() - started
    # The same events again: Slack's retries, acknowledged and dropped by the dedupe. With
    # nothing to answer, this is the acknowledgement path alone.
    repeats = [signed(event_body(offset + i), JSON, port) for i in range(requests)]
    repeat_latency, _ = asyncio.run(closed_loop(port, repeats, clients))
    return {
        "workers": server.workers,
        "clients": clients,
        "ask_ack": summary(ask_latency),
        "ask_answers_per_s": round(requests / ask_s, 1),
        "mention_ack": summary(mention_latency),
        "mention_answers_per_s": round(requests / mention_s, 1),
        "retry_ack": summary(repeat_latency),
    }


def run(workers: list[int], clients: list[int], requests: int) -> dict[str, Any]:
    rows = []
    fake = Fake()
    try:
        for n, count in enumerate(workers):
            with tempfile.TemporaryDirectory(prefix="bench-slack-") as tmp:
                server = Server(fake, count, Path(tmp) / "var")
                try:
                    warm = (n + 1) * 10_000_000
                    level(server, fake, 4, 40, warm)  # imports, pools, first index use
                    for m, c in enumerate(clients):
                        rows.append(level(server, fake, c, requests, warm + (m + 1) * 100_000))
                except Exception:
                    print(server.log_tail(), file=sys.stderr)
                    raise
                finally:
                    server.close()
    finally:
        fake.close()
    return {"machine": machine(), "requests_per_level": requests, "levels": rows}


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


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "| workers | clients | `/ask` ack p50 | p95 | p99 | `/ask` answers/s "
        "| mention ack p50 | p95 | p99 | mention answers/s | retry ack p50 | p99 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in result["levels"]:
        a, m, r = row["ask_ack"], row["mention_ack"], row["retry_ack"]
        lines.append(
            f"| {row['workers']} | {row['clients']} | {a['p50_ms']} ms | {a['p95_ms']} ms "
            f"| {a['p99_ms']} ms | {row['ask_answers_per_s']} | {m['p50_ms']} ms "
            f"| {m['p95_ms']} ms | {m['p99_ms']} ms | {row['mention_answers_per_s']} "
            f"| {r['p50_ms']} ms | {r['p99_ms']} ms |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    parser.add_argument("--clients", default="1,5,20,50", help="client counts, comma-separated")
    parser.add_argument("--requests", type=int, default=200, help="requests of each kind per level")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()
    workers = [int(w) for w in args.workers.split(",") if w.strip()]
    clients = [int(c) for c in args.clients.split(",") if c.strip()]
    if not workers or not clients or min(workers + clients) < 1 or args.requests < 10:
        parser.error("workers and clients must be positive, requests at least 10")
    result = run(workers, clients, args.requests)
    if args.json:
        print(json.dumps(result))
        return 0
    print(result["machine"])
    if args.markdown:
        print(markdown(result))
        return 0
    for row in result["levels"]:
        a, m, r = row["ask_ack"], row["mention_ack"], row["retry_ack"]
        print(
            f"workers={row['workers']} clients={row['clients']:>2}: "
            f"/ask ack p50 {a['p50_ms']:.1f} p99 {a['p99_ms']:.1f} ms, "
            f"{row['ask_answers_per_s']} answers/s | mention ack p50 {m['p50_ms']:.1f} "
            f"p99 {m['p99_ms']:.1f} ms, {row['mention_answers_per_s']} answers/s | "
            f"retry ack p50 {r['p50_ms']:.1f} p99 {r['p99_ms']:.1f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
