"""Downloading an uploaded file safely, and the in-order progress message."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from slack_sdk import WebClient

from handlers.blocks.kit import Message
from handlers.blocks.notices import notice_message
from handlers.kb.admin import ProgressMessage
from handlers.kb.upload import (
    DownloadError,
    SlackFile,
    download,
    is_file_share_dm,
    token_may_go_to,
)
from handlers.replies import Delivered
from knowledge.service import ReloadStage

TOKEN = "xoxb-test-token"


class _Server:
    """Loopback HTTP server: /ok serves bytes, /big too many, /redirect points at /elsewhere."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                server.seen.append((self.path, self.headers.get("Authorization")))
                if self.path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", "/elsewhere")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = b"x" * 5000 if self.path == "/big" else b"article text"
                status = 403 if self.path == "/forbidden" else 200
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server()
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()
    srv.thread.join(5)


def client_for(server: _Server) -> WebClient:
    return WebClient(token=TOKEN, base_url=server.url + "/api/")


def test_the_token_goes_only_to_slack_or_the_api_host() -> None:
    api = "https://slack.com/api/"
    assert token_may_go_to("https://files.slack.com/files-pri/T1-F1/download/a.txt", api)
    assert not token_may_go_to("http://files.slack.com/files-pri/a.txt", api)
    assert not token_may_go_to("https://files.slack.com.evil.example/a.txt", api)
    assert not token_may_go_to("https://evil.example/slack.com", api)
    assert token_may_go_to("http://127.0.0.1:8080/files/F1", "http://127.0.0.1:8080/api/")
    assert not token_may_go_to("http://127.0.0.1:9999/files/F1", "http://127.0.0.1:8080/api/")


def test_download_sends_the_bot_token(server: _Server) -> None:
    data = download(client_for(server), SlackFile("F1", "a.txt", 12, server.url + "/ok"))
    assert data == b"article text"
    assert server.seen == [("/ok", f"Bearer {TOKEN}")]


def test_a_redirect_is_not_followed_with_the_token(server: _Server) -> None:
    with pytest.raises(DownloadError, match="redirected"):
        download(client_for(server), SlackFile("F1", "a.txt", None, server.url + "/redirect"))
    assert [path for path, _ in server.seen] == ["/redirect"]


def test_a_foreign_host_gets_no_request(server: _Server) -> None:
    client = WebClient(token=TOKEN, base_url="https://slack.com/api/")
    with pytest.raises(DownloadError, match="not on Slack"):
        download(client, SlackFile("F1", "a.txt", None, server.url + "/ok"))
    assert server.seen == []


def test_size_limits_are_enforced_before_and_while_downloading(server: _Server) -> None:
    client = client_for(server)
    with pytest.raises(DownloadError, match="limit is 1,000"):
        download(client, SlackFile("F1", "a.txt", 5000, server.url + "/big"), max_bytes=1000)
    assert server.seen == []
    with pytest.raises(DownloadError, match="larger than the limit"):
        download(client, SlackFile("F1", "a.txt", None, server.url + "/big"), max_bytes=1000)


def test_http_errors_and_missing_urls_are_reported(server: _Server) -> None:
    client = client_for(server)
    with pytest.raises(DownloadError, match="HTTP 403"):
        download(client, SlackFile("F1", "a.txt", None, server.url + "/forbidden"))
    with pytest.raises(DownloadError, match="no download"):
        download(client, SlackFile("F1", "a.txt", None, None))


class _Context(dict[str, Any]):
    bot_user_id = "UBOT"


DM_FILE: dict[str, Any] = {"channel_type": "im", "user": "U1", "files": [{"id": "F1"}]}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, True),
        ({"subtype": "file_share"}, True),
        ({"channel_type": "channel"}, False),
        ({"files": []}, False),
        ({"files": None}, False),
        ({"user": "UBOT"}, False),
        ({"bot_id": "B1"}, False),
        ({"subtype": "message_changed"}, False),
    ],
)
def test_only_file_shares_in_a_dm_by_a_person_are_taken(
    changes: dict[str, Any], expected: bool
) -> None:
    event = {**DM_FILE, **changes}
    assert is_file_share_dm(event, _Context()) is expected  # type: ignore[arg-type]


def test_progress_is_sent_in_order_and_the_final_message_last() -> None:
    sent: list[str] = []
    gate = threading.Event()

    def slow_send(message: Message) -> Delivered:
        gate.wait(5)
        sent.append(message.text)
        return Delivered(ok=True)

    def final(message: Message) -> Delivered:
        sent.append("final:" + message.text)
        return Delivered(ok=True)

    progress = ProgressMessage("Reloading", slow_send, final)
    progress.start()
    started = time.monotonic()
    progress.on_stage(ReloadStage("validate", 0.1, "v"))
    progress.on_stage(ReloadStage("index", 0.2, "i"))
    # Stage callbacks never wait for Slack.
    assert time.monotonic() - started < 0.5
    gate.set()
    assert progress.finish(notice_message("done")).ok
    assert sent[-1] == "final:done"
    # The first update was already on its way; the one overtaken before sending is skipped.
    assert len(sent) <= 3
    assert all(not s.startswith("final") for s in sent[:-1])


def test_a_failing_progress_send_does_not_stop_the_final_one() -> None:
    def broken(message: Message) -> Delivered:
        return Delivered(ok=False, error="channel_not_found")

    delivered: list[str] = []
    progress = ProgressMessage(
        "Adding", broken, lambda m: delivered.append(m.text) or Delivered(ok=True)
    )
    progress.start()
    progress.on_stage(ReloadStage("validate", 0.1, "v"))
    assert progress.finish(notice_message("done")).ok
    assert delivered == ["done"]
