"""`licensebot serve` as real processes (single, --workers N, or several replicas), driven
over loopback like Slack drives them, and the checks every deployment must pass.

Each process logs to a file (not a pipe: hundreds of answers would fill one) and is
stopped by the fixture that made it, whatever the test did to it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conftest import Reply, app_mention, event_callback, http, sign
from fake_slack import BOT_USER_ID, FakeSlack
from test_serve import free_port, serve_env

QUESTIONS = (
    "Which US companies is Huawei talking to about licensing its 5G technology?",
    "What did Vincent Pang say about the talks?",
    "When was Huawei added to the Entity List?",
    "Would Huawei license its 5G patents to an American firm?",
)
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Served:
    """One `licensebot serve` process and how to reach it."""

    name: str
    process: subprocess.Popen[bytes]
    url: str
    env: dict[str, str]
    log_path: Path

    @property
    def data_dir(self) -> Path:
        return Path(self.env["LICENSEBOT_DATA_DIR"])

    def readyz(self, timeout: float = 5.0) -> Reply:
        return http("GET", self.url + "/readyz", timeout=timeout)

    def deliver(self, envelope: dict[str, Any], *, retry_num: int | None = None) -> int | None:
        """POST one event as Slack does; the status, or None when the connection failed."""
        body = json.dumps(envelope).encode()
        headers = {"Content-Type": "application/json", **sign(body)}
        if retry_num:
            headers.update({"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "timeout"})
        try:
            return http("POST", self.url + "/slack/events", body, headers, timeout=10).status
        except OSError:
            return None

    def logs(self, event: str | None = None) -> list[dict[str, Any]]:
        lines = self.log_path.read_text(errors="replace").splitlines()
        parsed = []
        for line in lines:
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    parsed.append(json.loads(line))
        return [r for r in parsed if event is None or r.get("event") == event]

    def wait_ready(self, timeout: float = 60.0) -> Reply:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited early:\n{self.log_path.read_text()}")
            with contextlib.suppress(OSError):
                reply = self.readyz(timeout=1)
                if reply.status == 200:
                    return reply
            time.sleep(0.1)
        raise AssertionError(f"{self.name} was not ready in {timeout} s")

    def stop(self, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
            raise AssertionError(f"{self.name} did not stop within {timeout} s") from None


ServeFactory = Callable[..., Served]


def serve_processes(tmp_path: Path) -> Iterator[ServeFactory]:
    """The ``serve`` fixture (tests/e2e/conftest.py): ``serve(fake, name, *args, **env)``
    starts ``licensebot serve *args``; every process is killed at the end if still up."""
    started: list[Served] = []

    def start(fake: FakeSlack, name: str, *args: str, **env: str) -> Served:
        port = free_port()
        values = serve_env(fake, tmp_path / name, port, **env)
        log_path = tmp_path / f"{name}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "bot", "serve", *args],
                env=values,
                cwd=tmp_path,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        served = Served(name, process, f"http://127.0.0.1:{port}", values, log_path)
        started.append(served)
        return served

    yield start
    for served in started:
        if served.process.poll() is None:
            served.process.kill()
            served.process.wait(10)


def mentions(n: int, *, channel: str = "C0LOAD001") -> list[dict[str, Any]]:
    return [
        event_callback(
            app_mention(f"<@{BOT_USER_ID}> {QUESTIONS[i % len(QUESTIONS)]}", channel=channel)
        )
        for i in range(n)
    ]


def thread_of(envelope: dict[str, Any]) -> str:
    return str(envelope["event"]["ts"])


def deliver_all(
    targets: list[Served], envelopes: Iterable[dict[str, Any]], *, clients: int = 8
) -> dict[str, int | None]:
    """Each envelope to one target in turn, ``clients`` at a time: event_id -> status."""
    items = list(envelopes)

    def one(i: int) -> tuple[str, int | None]:
        envelope = items[i]
        return str(envelope["event_id"]), targets[i % len(targets)].deliver(envelope)

    with ThreadPoolExecutor(max_workers=clients) as pool:
        return dict(pool.map(one, range(len(items))))


def deliver_at_once(targets: list[Served], envelope: dict[str, Any]) -> list[int | None]:
    """The same envelope to every target at the same moment (the later ones as retries)."""
    statuses: list[int | None] = [None] * len(targets)
    barrier = threading.Barrier(len(targets))

    def send(i: int) -> None:
        barrier.wait()
        statuses[i] = targets[i].deliver(envelope, retry_num=i or None)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(targets))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return statuses


def answered_threads(fake: FakeSlack) -> list[str]:
    return [str(c.body.get("thread_ts")) for c in fake.calls("chat.postMessage")]


def wait_answered(fake: FakeSlack, envelopes: list[dict[str, Any]], timeout: float = 120) -> None:
    wanted = {thread_of(e) for e in envelopes}
    deadline = time.monotonic() + timeout
    while not wanted <= set(answered_threads(fake)):
        missing = len(wanted - set(answered_threads(fake)))
        assert time.monotonic() < deadline, f"{missing} of {len(wanted)} not answered"
        time.sleep(0.05)


def licensebot(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``licensebot …`` as an operator runs it beside the servers, with their settings."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@dataclass
class Pids:
    """Which worker processes answered /readyz, and what each served."""

    versions: dict[int, str] = field(default_factory=dict)

    def poll(self, served: Served, tries: int = 40, clients: int = 8) -> Pids:
        def one(_: int) -> tuple[int, str] | None:
            with contextlib.suppress(OSError):
                body = served.readyz().json()
                return int(body["worker"]["pid"]), str(body["kb"]["kb_version"])
            return None

        with ThreadPoolExecutor(max_workers=clients) as pool:
            for found in pool.map(one, range(tries)):
                if found is not None:
                    self.versions[found[0]] = found[1]
        return self


def every_worker(served: Served, count: int, timeout: float = 60) -> dict[int, str]:
    """Poll /readyz until ``count`` workers have answered it; pid -> kb_version."""
    deadline = time.monotonic() + timeout
    pids = Pids()
    while len(pids.poll(served, tries=16).versions) < count:
        assert time.monotonic() < deadline, f"only {sorted(pids.versions)} answered /readyz"
        time.sleep(0.1)
    return pids.versions


def live_workers(supervisor_pid: int) -> set[int]:
    """The supervisor's child processes (Linux /proc)."""
    children = Path(f"/proc/{supervisor_pid}/task/{supervisor_pid}/children")
    with contextlib.suppress(OSError):
        return {int(p) for p in children.read_text().split()}
    return set()


def wait_workers(
    supervisor_pid: int, count: int, timeout: float = 60, *, gone: int | None = None
) -> set[int]:
    """The supervisor's ``count`` workers, once ``gone`` (a killed one) is not among them."""
    deadline = time.monotonic() + timeout
    while True:
        # multiprocessing's resource tracker is a child too; workers are the ones with a port.
        pids = {p for p in live_workers(supervisor_pid) if _is_worker(p)}
        if len(pids) >= count and gone not in pids:
            return pids
        assert time.monotonic() < deadline, f"workers {pids}, wanted {count}"
        time.sleep(0.1)


def _is_worker(pid: int) -> bool:
    with contextlib.suppress(OSError):
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        return b"multiprocessing.spawn" in cmdline and b"resource_tracker" not in cmdline
    return False


def environ_without_services() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "LICENSEBOT_"))}
