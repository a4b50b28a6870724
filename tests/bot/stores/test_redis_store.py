"""The Redis store beyond the shared contract: key layout, expiry on the server, and
what happens when Redis is refused, silent, or loses a reply (through a loopback proxy)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import redis
from tcp_proxy import TcpProxy

from bot.stores.redis import RedisTtlStore
from handlers.deps import StoreUnavailable

pytestmark = pytest.mark.needs_redis


@pytest.fixture
def proxy(redis_url: str) -> Iterator[TcpProxy]:
    parts = urlsplit(redis_url)
    with TcpProxy(parts.hostname or "127.0.0.1", parts.port or 6379) as running:
        yield running


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    direct = redis.Redis.from_url(redis_url, decode_responses=True)
    yield direct
    direct.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_keys_are_namespaced_and_carry_their_ttl(
    redis_url: str, redis_prefix: str, client: redis.Redis
) -> None:
    store = RedisTtlStore(redis_url, "dedupe", 3600, key_prefix=redis_prefix)
    assert store.first_time("event:Ev1")
    store.remember("thread:C1", "yes", ttl_seconds=90)
    name = f"{redis_prefix}dedupe:event:Ev1"
    assert len(client.get(name) or "") == 32  # this call's claim token
    assert 3590 <= client.ttl(name) <= 3600
    assert 80 <= client.ttl(f"{redis_prefix}dedupe:thread:C1") <= 90
    assert store.backend.startswith("redis:127.0.0.1:")
    store.close()


def test_refused_connection_is_unavailable_at_once_without_credentials() -> None:
    url = f"redis://:s3cret-password@127.0.0.1:{closed_port()}/0"
    store = RedisTtlStore(url, "dedupe", 3600)
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as caught:
        store.first_time("Ev1")
    assert time.monotonic() - started < 1.0
    assert "s3cret" not in str(caught.value) and "Redis store redis:127.0.0.1:" in str(caught.value)
    store.close()


def test_a_silent_redis_is_given_up_on_well_inside_slacks_three_seconds(
    proxy: TcpProxy, redis_prefix: str
) -> None:
    store = RedisTtlStore(proxy.url(), "dedupe", 3600, key_prefix=redis_prefix)
    assert store.first_time("warm")
    proxy.set_mode("blackhole")
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match="Timeout"):
        store.first_time("Ev1")
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 2.5  # three tries of 0.5 s, a little backoff
    store.close()


def test_the_url_can_shorten_the_timeout(proxy: TcpProxy, redis_prefix: str) -> None:
    store = RedisTtlStore(
        proxy.url(path="/0?socket_timeout=0.1"), "dedupe", 3600, key_prefix=redis_prefix
    )
    assert store.first_time("warm")
    proxy.set_mode("blackhole")
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        store.first_time("Ev1")
    assert time.monotonic() - started < 0.8
    store.close()


def test_a_claim_whose_reply_was_lost_is_still_this_calls(
    proxy: TcpProxy, redis_prefix: str, client: redis.Redis
) -> None:
    store = RedisTtlStore(proxy.url(), "dedupe", 3600, key_prefix=redis_prefix)
    assert store.recall("warm") is None  # connected, handshake done
    proxy.swallow_replies(1)  # the SET lands, its OK never arrives; the client resends
    started = time.monotonic()
    assert store.first_time("Ev1") is True
    assert time.monotonic() - started >= 0.5  # it did time out once
    assert store.first_time("Ev1") is False
    assert client.exists(f"{redis_prefix}dedupe:Ev1") == 1
    store.close()


def test_redis_down_then_back(proxy: TcpProxy, redis_prefix: str) -> None:
    store = RedisTtlStore(proxy.url(), "dedupe", 3600, key_prefix=redis_prefix)
    assert store.first_time("before")
    proxy.set_mode("down")
    for call in (lambda: store.first_time("Ev1"), lambda: store.recall("before")):
        with pytest.raises(StoreUnavailable, match="Connection"):
            call()
    proxy.set_mode("up")
    assert store.first_time("Ev1") is True  # the refused call claimed nothing
    assert store.first_time("before") is False
    store.close()
