"""`licensebot serve` as a child process on a loopback port, for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from conftest import SIGNING_SECRET, http
from fake_slack import BOT_TOKEN, FakeSlack


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_env(fake: FakeSlack, tmp_path: Path, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "LICENSEBOT_"))}
    env.update(
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake.api_url,
            "LICENSEBOT_HOST": "127.0.0.1",
            "LICENSEBOT_PORT": str(port),
            "LICENSEBOT_DATA_DIR": str(tmp_path / "var"),
            "LICENSEBOT_KB_POLL_SECONDS": "0",
        }
    )
    env.update(extra)
    return env


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", *args],
        env=env,
        cwd=cwd,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_healthy(url: str, process: subprocess.Popen[str], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"serve exited early: {process.communicate()}")
        try:
            if http("GET", url + "/healthz", timeout=1).status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError("serve did not become healthy")
