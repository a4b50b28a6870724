"""Several app instances (workers or replicas) sharing one dedupe store, over real HTTP:
the same event delivered to each of them (as Slack's retries may land) is answered
once, and an event that arrives while the store is unreachable is refused for a retry,
never answered twice nor dropped."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import Bot, BotFactory, Reply, app_mention, event_callback
from fake_slack import BOT_USER_ID
from tcp_proxy import TcpProxy

QUESTION = "When was Huawei added to the Entity List?"


def mention() -> dict[str, Any]:
    return event_callback(app_mention(f"<@{BOT_USER_ID}> {QUESTION}"))


def deliver_at_once(bots: list[Bot], envelope: dict[str, Any]) -> list[Reply]:
    """The same envelope to every bot at the same moment (the later ones as retries)."""
    replies: list[Reply | None] = [None] * len(bots)
    start = threading.Barrier(len(bots))

    def send(i: int) -> None:
        start.wait()
        replies[i] = bots[i].send_envelope(envelope, retry_num=i or None)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bots))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [r for r in replies if r is not None]


def assert_each_answered_once(bots: list[Bot], envelopes: list[dict[str, Any]]) -> None:
    fake = bots[0].fake
    fake.wait_for("chat.postMessage", len(envelopes))
    fake.quiet(0.5)
    posts = fake.calls("chat.postMessage")
    assert len(posts) == len(envelopes)
    # One answer in each asker's thread, not two in one and none in another.
    asked = sorted(e["event"]["ts"] for e in envelopes)
    assert sorted(p.body["thread_ts"] for p in posts) == asked
    served = [r for bot in bots for r in bot.audit_records("answer.served")]
    assert len(served) == len(envelopes)


@pytest.fixture
def redis_proxy(redis_url: str) -> Iterator[TcpProxy]:
    parts = urlsplit(redis_url)
    with TcpProxy(parts.hostname or "127.0.0.1", parts.port or 6379) as proxy:
        yield proxy


@pytest.mark.needs_redis
def test_two_replicas_sharing_redis_answer_each_event_once(
    make_bot: BotFactory, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    replicas = [
        make_bot(redis_url=redis_url, redis_key_prefix=redis_prefix, data_dir=tmp_path / name)
        for name in ("a", "b")
    ]
    envelopes = [mention() for _ in range(6)]
    for envelope in envelopes:
        assert [r.status for r in deliver_at_once(replicas, envelope)] == [200, 200]
    assert_each_answered_once(replicas, envelopes)
    duplicates = replicas[0].logs.records("event.duplicate")
    assert sorted(d["event_id"] for d in duplicates) == sorted(e["event_id"] for e in envelopes)


@pytest.mark.needs_redis
def test_an_event_refused_while_redis_is_unreachable_is_answered_once_on_retry(
    make_bot: BotFactory, redis_url: str, redis_prefix: str, redis_proxy: TcpProxy, tmp_path: Path
) -> None:
    cut_off = make_bot(
        redis_url=redis_proxy.url(), redis_key_prefix=redis_prefix, data_dir=tmp_path / "a"
    )
    healthy = make_bot(redis_url=redis_url, redis_key_prefix=redis_prefix, data_dir=tmp_path / "b")
    redis_proxy.set_mode("down")

    first, second = mention(), mention()
    started = time.monotonic()
    refused = [cut_off.send_envelope(first), cut_off.send_envelope(second)]
    assert [r.status for r in refused] == [503, 503]  # Slack will deliver them again
    assert time.monotonic() - started < 3.0  # inside Slack's own timeout
    logged = cut_off.logs.wait_for("event.dedupe_unavailable", 2)
    assert [r["event_id"] for r in logged] == [first["event_id"], second["event_id"]]
    assert {r["level"] for r in logged} == {"error"}
    cut_off.fake.quiet()
    assert cut_off.fake.calls("chat.postMessage") == []

    # Slack's retry of the first lands on the replica that reaches Redis.
    assert healthy.send_envelope(first, retry_num=1).status == 200
    redis_proxy.set_mode("up")
    # The second's retry comes back to the replica whose Redis is back.
    assert cut_off.send_envelope(second, retry_num=1).status == 200
    # Later retries of both, wherever they land, are duplicates.
    for bot in (cut_off, healthy):
        for envelope in (first, second):
            assert bot.send_envelope(envelope, retry_num=2).status == 200
    assert_each_answered_once([cut_off, healthy], [first, second])


def test_two_workers_on_one_host_share_the_sqlite_store(
    make_bot: BotFactory, tmp_path: Path
) -> None:
    workers = [
        make_bot(workers=2, data_dir=tmp_path, audit_path=tmp_path / f"audit-{n}.jsonl")
        for n in (1, 2)
    ]
    envelopes = [mention() for _ in range(6)]
    for envelope in envelopes:
        assert [r.status for r in deliver_at_once(workers, envelope)] == [200, 200]
    assert_each_answered_once(workers, envelopes)
    assert (tmp_path / "state.sqlite3").exists()
