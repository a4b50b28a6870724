"""The conversation surfaces through `licensebot serve` as a real process: a follow-up
that outlives a restart, the Home tab, the agent surface and the check_claim shortcut."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from conftest import app_mention, dm_message, event_callback, http, sign
from conversation_payloads import app_home_opened, message_action, thread_reply
from fake_slack import BOT_USER_ID, FakeSlack
from serve_process import free_port, run, serve_env, wait_healthy

pytestmark = pytest.mark.slow


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def send(url: str, body: bytes, content_type: str) -> int:
    headers = {"Content-Type": content_type, **sign(body)}
    return http("POST", url + "/slack/events", body, headers).status


def event(url: str, payload: dict[str, Any]) -> int:
    return send(url, json.dumps(event_callback(payload)).encode(), "application/json")


def interact(url: str, payload: dict[str, Any]) -> int:
    body = urlencode({"payload": json.dumps(payload)}).encode()
    return send(url, body, "application/x-www-form-urlencoded")


def serve(fake: FakeSlack, tmp_path: Path, **env: str) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    process = run(["serve"], serve_env(fake, tmp_path, port, **env), tmp_path)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, process)
    return process, url


def stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err


def test_the_conversation_surfaces_through_serve(fake: FakeSlack, tmp_path: Path) -> None:
    process, url = serve(fake, tmp_path, LICENSEBOT_AGENT_VIEW="true")
    try:
        mention = app_mention(f"<@{BOT_USER_ID}> When was Huawei added to the Entity List?")
        assert event(url, mention) == 200
        fake.wait_for("chat.postMessage")
        assert event(url, app_home_opened("home")) == 200
        (home,) = fake.wait_for("views.publish")
        assert home.view()["type"] == "home"
        assert event(url, app_home_opened("messages")) == 200
        fake.wait_for("assistant.threads.setSuggestedPrompts")
        claim = "Nokia acquired Alcatel-Lucent in 2015."
        assert interact(url, message_action(claim, response_url=fake.response_url("c"))) == 200
        (checked,) = fake.wait_for("response_url")
        assert "Differs" in json.dumps(checked.body["blocks"], ensure_ascii=False)
        assert event(url, dm_message("What did Ren say about security requirements?")) == 200
        fake.wait_for("assistant.threads.setStatus")
    finally:
        stop(process)
    # A new process on the same data directory still knows the thread.
    process, url = serve(fake, tmp_path)
    try:
        before = len(fake.calls("chat.postMessage"))
        assert event(url, thread_reply("and Nokia?", thread_ts=mention["ts"])) == 200
        reply = fake.wait_for("chat.postMessage", before + 1)[-1]
        assert reply.body["thread_ts"] == mention["ts"]
        assert "Answering: and Nokia?" in reply.all_text()
    finally:
        stop(process)
    audit = [
        json.loads(line) for line in (tmp_path / "var" / "audit.jsonl").read_text().splitlines()
    ]
    surfaces = [r["surface"] for r in audit if r["event"] == "answer.served"]
    assert surfaces == ["mention", "check_claim", "agent", "thread"]
