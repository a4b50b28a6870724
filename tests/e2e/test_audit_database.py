"""The real app behind the real HTTP server, auditing into PostgreSQL: signed Slack
requests answered, every delivered answer chained in the table before it was posted,
and no answer at all while the database is away."""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import CHANNEL, Bot, BotFactory, app_mention, event_callback, http, sign
from fake_slack import BOT_USER_ID, FakeSlack
from tcp_proxy import TcpProxy
from test_serve import free_port, run, serve_env, wait_healthy

from bot.audit.postgres import PostgresTrail, rows
from bot.cli import main

pytestmark = pytest.mark.needs_postgres

QUESTIONS = (
    "Which US companies is Huawei talking to about licensing its 5G technology?",
    "What did Vincent Pang say about the talks?",
    "When was Huawei added to the Entity List?",
    "Who would control the licensed technology?",
)


def records(url: str, event: str | None = None) -> list[dict[str, Any]]:
    found = [json.loads(r.record) for r in rows(url)]
    return [r for r in found if event is None or r["event"] == event]


def verify_cli(url: str, capsys: pytest.CaptureFixture[str]) -> list[str]:
    capsys.readouterr()
    code = main(["audit", "verify", "--database-url", url])
    out = capsys.readouterr().out.splitlines()
    assert code == 0, out
    return out


@pytest.fixture
def database_bot(make_bot: BotFactory, pg_schema_url: str) -> Iterator[Bot]:
    with PostgresTrail(pg_schema_url) as trail:
        yield make_bot(audit=trail)


def test_answers_over_signed_requests_are_chained_in_the_database(
    database_bot: Bot, pg_schema_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    bot = database_bot
    assert bot.get("/readyz").status == 200
    events = [app_mention(f"<@{BOT_USER_ID}> {QUESTIONS[i % len(QUESTIONS)]}") for i in range(16)]
    statuses: list[int] = []
    lock = threading.Lock()

    def send(chunk: list[dict[str, Any]]) -> None:
        for event in chunk:
            status = bot.event(event).status
            with lock:
                statuses.append(status)

    senders = [threading.Thread(target=send, args=(events[i::4],)) for i in range(4)]
    for t in senders:
        t.start()
    for t in senders:
        t.join(timeout=60)
    assert statuses == [200] * len(events)
    posts = bot.fake.wait_for("chat.postMessage", count=len(events), timeout=60)
    bot.fake.quiet()

    lines = verify_cli(pg_schema_url, capsys)
    assert lines[0].endswith("records, chain intact")
    assert lines[2].startswith("verified: PostgreSQL table licensebot_audit")
    served = {r["thread_ts"]: r for r in records(pg_schema_url, "answer.served")}
    delivered = {r["request_id"]: r for r in records(pg_schema_url, "answer.delivered")}
    assert {e["ts"] for e in events} == set(served)
    for post in posts:
        record = served[post.body["thread_ts"]]  # every posted answer has its served record
        assert record["channel"] == post.body["channel"] == CHANNEL
        assert record["surface"] == "mention" and record["answered"] is True
        assert all(q["passage_id"] in str(post.blocks()) for q in record["quotes"])
        outcome = delivered[record["request_id"]]
        assert outcome["outcome"] == "delivered" and outcome["seq"] > record["seq"]


def test_no_database_no_answer_then_answers_again(
    make_bot: BotFactory,
    pg_schema_url: str,
    pg_proxy: tuple[TcpProxy, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    proxy, via_proxy = pg_proxy
    with PostgresTrail(via_proxy) as trail:
        bot = make_bot(audit=trail)
        bot.event(app_mention(f"<@{BOT_USER_ID}> {QUESTIONS[0]}"))
        bot.fake.wait_for("chat.postMessage")

        proxy.set_mode("down")
        withheld = app_mention(f"<@{BOT_USER_ID}> {QUESTIONS[1]}")
        assert bot.event(withheld).status == 200
        posts = bot.fake.wait_for("chat.postMessage", count=2)
        assert posts[1].body["text"].startswith("I can't answer right now (ref ")
        assert "quote_" not in str(posts[1].blocks())
        assert bot.logs.wait_for("answer.withheld")[0]["reason"] == "audit_unavailable"
        ready = bot.get("/readyz")
        assert ready.status == 503 and ready.json()["audit"]["ok"] is False

        proxy.set_mode("up")
        assert bot.get("/readyz").status == 200
        again = app_mention(f"<@{BOT_USER_ID}> {QUESTIONS[2]}")
        bot.event(again)
        posts = bot.fake.wait_for("chat.postMessage", count=3)
        assert "quote_" in str(posts[2].blocks())
        bot.fake.quiet()

    verify_cli(pg_schema_url, capsys)
    served = [r["thread_ts"] for r in records(pg_schema_url, "answer.served")]
    assert withheld["ts"] not in served
    assert again["ts"] in served and len(served) == 2


@pytest.mark.slow
def test_two_serve_replicas_one_killed_share_one_chain(
    pg_schema_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two `licensebot serve` processes (replicas with data directories of their own)
    audit into one table; one is SIGKILLed while it answers; what it had not answered is
    delivered again to the other (as Slack retries); the chain stays whole."""
    with FakeSlack() as fake:
        replicas = []
        for name in ("a", "b"):
            port = free_port()
            env = serve_env(fake, tmp_path / name, port, LICENSEBOT_DATABASE_URL=pg_schema_url)
            replicas.append((f"http://127.0.0.1:{port}", run(["serve"], env, tmp_path)))
        (url_a, _), (url_b, serve_b) = replicas
        try:
            for url, process in replicas:
                wait_healthy(url, process)
                assert http("GET", url + "/readyz").status == 200
            events = [app_mention(f"<@{BOT_USER_ID}> {QUESTIONS[i % 4]}") for i in range(30)]
            to_a, to_b = events[0::2], events[1::2]

            def deliver(url: str, event: dict[str, Any], retry: bool = False) -> None:
                body = json.dumps(event_callback(event)).encode()
                headers = {"Content-Type": "application/json", **sign(body)}
                if retry:
                    headers.update({"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "timeout"})
                with contextlib.suppress(OSError):  # the killed replica's connection
                    http("POST", url + "/slack/events", body, headers, timeout=5)

            def posted(among: list[dict[str, Any]]) -> set[str]:
                wanted = {e["ts"] for e in among}
                return {c.body["thread_ts"] for c in fake.calls("chat.postMessage")} & wanted

            senders = [
                threading.Thread(target=lambda u=u, es=es: [deliver(u, e) for e in es])
                for u, es in ((url_a, to_a), (url_b, to_b))
            ]
            for t in senders:
                t.start()
            deadline = time.monotonic() + 30
            while len(posted(to_b)) < 4 and time.monotonic() < deadline:
                time.sleep(0.01)
            serve_b.kill()  # SIGKILL mid-run: no shutdown, its connections just vanish
            serve_b.wait(timeout=10)
            answered_by_b = posted(to_b)
            for t in senders:
                t.join(timeout=60)
            fake.wait_for("chat.postMessage", count=len(posted(to_b)) + len(to_a), timeout=60)
            for event in to_b:
                if event["ts"] not in posted(to_b):
                    deliver(url_a, event, retry=True)
            fake.wait_for("chat.postMessage", count=len(events), timeout=60)
            fake.quiet()
            posts = fake.calls("chat.postMessage")
        finally:
            for _url, process in replicas:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
                process.communicate(timeout=20)

    assert len(answered_by_b) >= 4
    assert {p.body["thread_ts"] for p in posts} == {e["ts"] for e in events}
    verify_cli(pg_schema_url, capsys)
    served = {r["thread_ts"] for r in records(pg_schema_url, "answer.served")}
    assert {p.body["thread_ts"] for p in posts} <= served  # every posted answer was recorded
    for name in ("a", "b"):
        assert not (tmp_path / name / "var" / "audit.jsonl").exists()  # no file trail
