"""One knowledge-base version across processes: a reload is told to the others, who then
check their own directory at once (Redis pub/sub, or the supervisor's SIGUSR1 relay)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from kb_copies import writable_kb
from tcp_proxy import TcpProxy

from bot.kb_sync import (
    NEWS_FILE,
    PEER_BY,
    KbSync,
    PeerHeard,
    RedisKbChannel,
    SupervisorRelay,
    skipped_invalid,
)
from bot.reloaders import poller_for
from knowledge.service import KnowledgeBase, ReloadResult
from knowledge.store.admin import directory_version

ARTICLE = b"""Ericsson signs a 5G patent licence with a handset maker

Ericsson said on Tuesday it had signed a licence covering its 5G standard-essential patents.
"""


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def kb_dir(tmp_path: Path) -> Path:
    return writable_kb(tmp_path)


class MemoryChannel:
    """Channel double: records announcements; ``tell`` plays a peer's message."""

    name = "memory"

    def __init__(self) -> None:
        self.announced: list[ReloadResult] = []
        self.on_peer: PeerHeard | None = None
        self.closed = False

    def announce(self, result: ReloadResult) -> None:
        self.announced.append(result)

    def start(self, on_peer: PeerHeard) -> None:
        self.on_peer = on_peer

    def close(self) -> None:
        self.closed = True

    def tell(self, version: str | None, skip_invalid: bool = False) -> None:
        assert self.on_peer is not None
        self.on_peer(version, skip_invalid)


@pytest.fixture
def syncs() -> Iterator[list[KbSync]]:
    made: list[KbSync] = []
    yield made
    for sync in made:
        sync.close()


def synced(kb: KnowledgeBase, channel: object, syncs: list[KbSync]) -> KbSync:
    # A long interval: nothing here may be the poller's doing.
    sync = KbSync(kb, poller_for(kb, 3600, None), channel)  # type: ignore[arg-type]
    syncs.append(sync)
    return sync


def test_own_reloads_are_announced_but_not_unchanged_or_peer_ones(
    kb_dir: Path, syncs: list[KbSync]
) -> None:
    kb = KnowledgeBase.load(kb_dir)
    channel = MemoryChannel()
    synced(kb, channel, syncs)
    kb.reload(by="U0ADMIN01")  # nothing changed
    assert channel.announced == []
    (kb_dir / "ericsson.txt").write_bytes(ARTICLE)
    result = kb.reload(by="U0ADMIN01")
    assert [r.new_version for r in channel.announced] == [result.new_version]
    (kb_dir / "ericsson.txt").unlink()
    channel.tell(directory_version(kb_dir))  # a peer reloaded to what is there now
    wait_for(lambda: kb.article("ericsson") is None)
    assert kb.last_reload is not None and kb.last_reload.by == PEER_BY
    assert len(channel.announced) == 1  # that peer told the others already


def test_a_peer_message_makes_this_process_load_its_own_directory(
    kb_dir: Path, syncs: list[KbSync]
) -> None:
    kb = KnowledgeBase.load(kb_dir)
    channel = MemoryChannel()
    synced(kb, channel, syncs)
    (kb_dir / "ericsson.txt").write_bytes(ARTICLE)
    channel.tell("0123456789abcdef")  # a version this directory does not hold
    wait_for(lambda: kb.article("ericsson") is not None)
    assert kb.last_reload is not None and kb.last_reload.by == PEER_BY
    # It landed elsewhere than the peer: news for the others, who check again.
    assert [r.new_version for r in channel.announced] == [kb.kb_version]


def test_news_of_a_skip_invalid_reload_is_followed_with_the_same_choice(
    kb_dir: Path, syncs: list[KbSync]
) -> None:
    origin, peer = KnowledgeBase.load(kb_dir), KnowledgeBase.load(kb_dir)
    channel = MemoryChannel()
    synced(peer, channel, syncs)
    (kb_dir / "ericsson.txt").write_bytes(ARTICLE)
    (kb_dir / "broken.md").write_bytes(b"\x00\x01binary")
    skipped = origin.reload(by="U0ADMIN01", skip_invalid=True)
    assert skipped.skipped and skipped_invalid(skipped)
    channel.tell(skipped.new_version, skipped_invalid(skipped))
    wait_for(lambda: peer.kb_version == skipped.new_version)
    assert peer.status().skipped == skipped.skipped
    assert channel.announced == []  # it landed where the news said
    assert peer.last_refusal is None


def test_a_peer_message_about_other_content_changes_nothing(
    kb_dir: Path, syncs: list[KbSync]
) -> None:
    kb = KnowledgeBase.load(kb_dir)
    before = kb.kb_version
    channel = MemoryChannel()
    sync = synced(kb, channel, syncs)
    channel.tell("fedcba9876543210")
    time.sleep(0.3)
    assert kb.kb_version == before and kb.last_reload is None
    assert sync.checks.poller.poll_once(by=PEER_BY, force=True) == "same_version"


def test_the_supervisor_relay_signals_and_hears_sigusr1(kb_dir: Path) -> None:
    heard = threading.Event()
    relay = SupervisorRelay(os.getpid())  # this process plays the supervisor too
    before = signal.getsignal(signal.SIGUSR1)
    relay.start(lambda _version, _skip=False: heard.set())
    try:
        kb = KnowledgeBase.load(kb_dir)
        (kb_dir / "ericsson.txt").write_bytes(ARTICLE)
        relay.announce(kb.reload(by="U0ADMIN01"))
        assert heard.wait(5)
    finally:
        relay.close()
    assert signal.getsignal(signal.SIGUSR1) is before


def test_the_supervisor_relay_leaves_the_news_for_the_other_workers(
    kb_dir: Path, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    origin = SupervisorRelay(2**22 + 12345, data_dir)  # no supervisor: only the file
    kb = KnowledgeBase.load(kb_dir)
    (kb_dir / "broken.md").write_bytes(b"\x00\x01binary")
    result = kb.reload(by="U0ADMIN01", skip_invalid=True)
    origin.announce(result)
    news = json.loads((data_dir / NEWS_FILE).read_text())
    assert news == {"pid": os.getpid(), "kb_version": result.new_version, "skip_invalid": True}
    news["pid"] = os.getpid() + 1  # as another worker wrote it
    (data_dir / NEWS_FILE).write_text(json.dumps(news))
    heard: list[tuple[str | None, bool]] = []
    got = threading.Event()
    relay = SupervisorRelay(os.getpid(), data_dir)
    relay.start(lambda version, skip=False: (heard.append((version, skip)), got.set()))
    try:
        os.kill(os.getpid(), signal.SIGUSR1)
        assert got.wait(5)
    finally:
        relay.close()
    assert heard == [(result.new_version, True)]


def test_a_relay_whose_supervisor_is_gone_only_logs(kb_dir: Path) -> None:
    kb = KnowledgeBase.load(kb_dir)
    (kb_dir / "ericsson.txt").write_bytes(ARTICLE)
    SupervisorRelay(2**22 + 12345).announce(kb.reload(by="U0ADMIN01"))  # no such pid


# --------------------------------------------------------------------------- Redis


@pytest.mark.needs_redis
def test_replicas_on_one_directory_converge_at_once_through_redis(
    kb_dir: Path, redis_url: str, redis_prefix: str, syncs: list[KbSync]
) -> None:
    replicas = [KnowledgeBase.load(kb_dir) for _ in range(3)]
    channels = [RedisKbChannel(redis_url, key_prefix=redis_prefix) for _ in replicas]
    for kb, channel in zip(replicas, channels, strict=True):
        synced(kb, channel, syncs)
    assert all(c.wait_subscribed(5) for c in channels)
    (kb_dir / "ericsson.txt").write_bytes(ARTICLE)
    started = time.monotonic()
    new = replicas[0].reload(by="U0ADMIN01").new_version
    wait_for(lambda: all(kb.kb_version == new for kb in replicas), timeout=5)
    assert time.monotonic() - started < 3  # not the poll interval (an hour here)
    assert [kb.last_reload.by for kb in replicas[1:] if kb.last_reload] == [PEER_BY, PEER_BY]


@pytest.mark.needs_redis
def test_an_announcement_missed_while_disconnected_is_caught_up_on_reconnect(
    kb_dir: Path, redis_url: str, redis_prefix: str, syncs: list[KbSync]
) -> None:
    parts = urlsplit(redis_url)
    with TcpProxy(parts.hostname or "127.0.0.1", parts.port or 6379) as proxy:
        near, far = KnowledgeBase.load(kb_dir), KnowledgeBase.load(kb_dir)
        synced(near, RedisKbChannel(redis_url, key_prefix=redis_prefix), syncs)
        far_channel = RedisKbChannel(proxy.url(), key_prefix=redis_prefix)
        synced(far, far_channel, syncs)
        assert far_channel.wait_subscribed(5)
        proxy.set_mode("down")
        wait_for(lambda: not far_channel.wait_subscribed(0))
        (kb_dir / "ericsson.txt").write_bytes(ARTICLE)
        new = near.reload(by="U0ADMIN01").new_version
        time.sleep(0.5)
        assert far.kb_version != new  # it heard nothing
        proxy.set_mode("up")
        wait_for(lambda: far.kb_version == new, timeout=10)


@pytest.mark.needs_redis
def test_announcing_while_redis_is_down_never_fails_the_reload(
    kb_dir: Path, redis_url: str, redis_prefix: str
) -> None:
    parts = urlsplit(redis_url)
    with TcpProxy(parts.hostname or "127.0.0.1", parts.port or 6379) as proxy:
        channel = RedisKbChannel(proxy.url(), key_prefix=redis_prefix)
        kb = KnowledgeBase.load(kb_dir)
        sync = KbSync(kb, poller_for(kb, 3600, None), channel)
        try:
            proxy.set_mode("down")
            (kb_dir / "ericsson.txt").write_bytes(ARTICLE)
            started = time.monotonic()
            result = kb.reload(by="U0ADMIN01")
            assert kb.kb_version == result.new_version
            assert time.monotonic() - started < 3
        finally:
            sync.close()


@pytest.mark.needs_redis
def test_the_channel_carries_no_content(redis_url: str, redis_prefix: str, kb_dir: Path) -> None:
    listener = redis.Redis.from_url(redis_url, decode_responses=True)
    pubsub = listener.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(redis_prefix + "kb:reloaded")
    channel = RedisKbChannel(redis_url, key_prefix=redis_prefix)
    try:
        kb = KnowledgeBase.load(kb_dir)
        (kb_dir / "ericsson.txt").write_bytes(ARTICLE)
        channel.announce(kb.reload(by="U0ADMIN01"))
        message = None
        deadline = time.monotonic() + 5
        while message is None and time.monotonic() < deadline:
            message = pubsub.get_message(timeout=0.5)
        assert message is not None
        assert set(json.loads(message["data"])) == {"origin", "kb_version", "by", "skip_invalid"}
    finally:
        channel.close()
        pubsub.close()
        listener.close()
