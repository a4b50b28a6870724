"""`licensebot serve` as a real process: startup, serving, clean shutdown, startup errors."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SIGNING_SECRET, app_mention, event_callback, http, sign
from fake_slack import BOT_TOKEN, BOT_USER_ID, FakeSlack
from serve_process import free_port, run, serve_env, wait_healthy

pytestmark = pytest.mark.slow


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def test_serve_answers_and_shuts_down_cleanly(fake: FakeSlack, tmp_path: Path) -> None:
    port = free_port()
    process = run(["serve"], serve_env(fake, tmp_path, port), tmp_path)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        ready = http("GET", url + "/readyz")
        assert ready.status == 200 and ready.json()["status"] == "ready"
        body = json.dumps(
            event_callback(
                app_mention(f"<@{BOT_USER_ID}> What did Vincent Pang say about the talks?")
            )
        ).encode()
        headers = {"Content-Type": "application/json", **sign(body)}
        assert http("POST", url + "/slack/events", body, headers).status == 200
        (call,) = fake.wait_for("chat.postMessage")
        assert call.body["thread_ts"]
        # kb_maintenance runs alongside: `licensebot kb reload` finds the server by this.
        assert (tmp_path / "var" / "licensebot.pid").exists()
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert not (tmp_path / "var" / "licensebot.pid").exists()
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    events = [line["event"] for line in lines]
    assert "answer.served" in events
    assert BOT_TOKEN not in err and SIGNING_SECRET not in err
    # Bolt's and uvicorn's stdlib logging went through the same JSON pipeline.
    assert any(line.get("logger", "").startswith("uvicorn") for line in lines)
    audit = (tmp_path / "var" / "audit.jsonl").read_text().splitlines()
    assert [json.loads(r)["event"] for r in audit].count("answer.served") == 1


def test_a_token_slack_rejects_is_one_line_and_exit_2(fake: FakeSlack, tmp_path: Path) -> None:
    env = serve_env(fake, tmp_path, free_port(), SLACK_BOT_TOKEN="xoxb-revoked-000000")
    process = run(["serve"], env, tmp_path)
    _out, err = process.communicate(timeout=30)
    assert process.returncode == 2
    lines = [line for line in err.splitlines() if not line.startswith("{")]
    assert len(lines) == 1 and "SLACK_BOT_TOKEN" in lines[0] and "invalid_auth" in lines[0]
    assert "xoxb-revoked-000000" not in err


def test_socket_mode_failure_is_reported_plainly(fake: FakeSlack, tmp_path: Path) -> None:
    env = serve_env(fake, tmp_path, free_port(), SLACK_APP_TOKEN="xapp-1-A0FAKE-1-abcdef")
    process = run(["serve", "--socket-mode"], env, tmp_path)
    _out, err = process.communicate(timeout=30)
    assert process.returncode == 1
    lines = [line for line in err.splitlines() if not line.startswith("{")]
    # The fake knows only the bot token, as Slack would not know a made-up app token.
    assert lines == ["licensebot: cannot open a Socket Mode connection (invalid_auth)"]
    assert fake.calls("apps.connections.open")
    assert "xapp-1-A0FAKE" not in err


def test_a_first_start_with_an_invalid_kb_says_so_and_exits_2(
    fake: FakeSlack, tmp_path: Path
) -> None:
    kb_dir = tmp_path / "kb"
    kb_dir.mkdir()
    (kb_dir / "good.txt").write_text(
        "Acme will license its battery patents to three rival carmakers.\n", encoding="utf-8"
    )
    (kb_dir / "bin.txt").write_bytes(b"\x00\x01\x02")
    env = serve_env(fake, tmp_path, free_port(), LICENSEBOT_KB_DIR=str(kb_dir))
    process = run(["serve"], env, tmp_path)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "no earlier version of it loaded" in err and "bin.txt: binary file" in err
    assert "Traceback" not in err


def test_a_restart_with_an_invalid_kb_serves_its_last_valid_version(
    fake: FakeSlack, tmp_path: Path
) -> None:
    kb_dir = tmp_path / "kb"
    kb_dir.mkdir()
    (kb_dir / "good.txt").write_text(
        "Acme will license its battery patents to three rival carmakers.\n", encoding="utf-8"
    )
    port = free_port()
    env = serve_env(fake, tmp_path, port, LICENSEBOT_KB_DIR=str(kb_dir))
    for broken in (False, True):
        if broken:
            (kb_dir / "bin.txt").write_bytes(b"\x00\x01\x02")
        process = run(["serve"], env, tmp_path)
        try:
            wait_healthy(f"http://127.0.0.1:{port}", process)
            ready = json.loads(http("GET", f"http://127.0.0.1:{port}/readyz", timeout=5).body)
            assert ready["kb"]["passages"] == 1
        finally:
            process.send_signal(signal.SIGTERM)
            _out, err = process.communicate(timeout=30)
        assert process.returncode == 0
        assert ("serving its last valid version" in err) is broken
