"""What `licensebot serve` writes to its log, in both formats (issue 13, items 2 and 5).

Text from outside must not forge a log line (console lines escape control characters;
JSON lines escape them by construction), and the configured secrets' values never appear,
whatever logs them — here Bolt's own warning about a signed request it has no listener
for, which quotes the request's ``action_id``.
"""

from __future__ import annotations

import json
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from conftest import SIGNING_SECRET, block_actions, http, sign
from fake_slack import FakeSlack
from serve_process import free_port, run, serve_env, wait_healthy

pytestmark = pytest.mark.slow

# Deliberately not token-shaped: only the configured value can identify them.
BOT_TOKEN = "corp-issued-bot-credential-5f1e2d3c4b5a6978"
APP_TOKEN = "corp-issued-app-credential-0a9b8c7d6e5f4a3b"
SECRETS = (SIGNING_SECRET, BOT_TOKEN, APP_TOKEN)

FORGED = "2031-01-01T00:00:00.000000Z [error    ] forged.line"
HOSTILE = f"probe\n{FORGED}\r\x1b[2J\x85\u2028\u202eevil\u2066"
RAW_CONTROLS = ("\r", "\x1b", "\x85", "\u2028", "\u202e", "\u2066")


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(BOT_TOKEN) as fake:
        yield fake


def serve_and_log(fake: FakeSlack, tmp_path: Path, fmt: str) -> str:
    """Start serve, send the hostile requests, stop it; what it wrote to stderr."""
    port = free_port()
    env = serve_env(
        fake,
        tmp_path,
        port,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_APP_TOKEN=APP_TOKEN,
        LICENSEBOT_LOG_FORMAT=fmt,
    )
    process = run(["serve"], env, tmp_path)
    url = f"http://127.0.0.1:{port}/slack/events"
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process)
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        # Unsigned, otherwise well formed: refused, and only its size is logged.
        unsigned = urlencode({"command": "/ask", "text": f"{HOSTILE} {' '.join(SECRETS)}"}).encode()
        assert http("POST", url, unsigned, form).status == 401
        # Signed, for an action nobody listens to: Bolt logs a suggestion quoting its id.
        action = {"action_id": f"{HOSTILE} {' '.join(SECRETS)}", "value": "v"}
        payload = block_actions(action, response_url=fake.response_url("x"))
        body = urlencode({"payload": json.dumps(payload)}).encode()
        assert http("POST", url, body, {**form, **sign(body)}).status == 404
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    return err


def assert_no_secrets(err: str) -> None:
    for secret in SECRETS:
        assert secret not in err
    assert "[redacted]" in err


def test_json_log_has_no_secret_and_no_forged_line(fake: FakeSlack, tmp_path: Path) -> None:
    err = serve_and_log(fake, tmp_path, "json")
    assert_no_secrets(err)
    records = [json.loads(line) for line in err.splitlines()]  # every line is one record
    assert not any(line.startswith("2031-") for line in err.splitlines())
    assert not any(char in err for char in RAW_CONTROLS)
    (refused,) = [r for r in records if r["event"] == "request.refused"]
    assert refused["reason"] == "missing timestamp" and refused["size"] > 0
    unhandled = [r for r in records if str(r["event"]).startswith("Unhandled request")]
    assert len(unhandled) == 1
    # The hostile text is there, as data inside a JSON string.
    assert FORGED in unhandled[0]["event"]


def test_console_log_has_no_secret_and_no_forged_line(fake: FakeSlack, tmp_path: Path) -> None:
    err = serve_and_log(fake, tmp_path, "console")
    assert_no_secrets(err)
    assert not any(char in err for char in RAW_CONTROLS)
    lines = err.splitlines()
    assert not any(line.startswith("2031-") for line in lines)
    # One record, one line: each starts with its timestamp (tracebacks would be indented).
    record_start = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
    assert all(record_start.match(line) or line.startswith("    ") for line in lines), err
    (refused,) = [line for line in lines if "request.refused" in line]
    assert "missing timestamp" in refused and "size=" in refused and "probe" not in refused
    (unhandled,) = [line for line in lines if "Unhandled request" in line]
    assert "\\n2031-01-01T00:00:00.000000Z" in unhandled and "\\x1b[2J" in unhandled
    assert "\\u202eevil" in unhandled
