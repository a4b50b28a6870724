"""One knowledge-base version across workers and replicas: each reload is told to the others.

A reload that swapped a new version in (from Slack, SIGHUP or the poller) is announced
on a channel; every other process then checks its own directory at once
(``KBPoller.poll_once(by="peer", force=True)``) instead of waiting for its next poll.
The message names the version only for the logs: each process loads what *its*
directory holds, so a replica whose directory differs never serves content on another's
word, and a lost message costs no more than the wait for the next poll.

Channels (``kb_channel``):

* Redis pub/sub on ``<LICENSEBOT_REDIS_KEY_PREFIX>kb:reloaded`` when ``LICENSEBOT_REDIS_URL``
  is set: every worker and replica subscribes. After a lost connection the subscriber
  reconnects with backoff and checks once, for what it may have missed.
* the supervisor of ``licensebot serve --workers N`` without Redis: a worker signals
  ``SIGUSR1`` to the supervisor, which signals it on to every worker (``bot.supervisor``).
* none: one process, nobody to tell.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import threading
import uuid
from collections.abc import Callable
from typing import Any, Protocol

import redis
import structlog

from bot.settings import Settings
from bot.signals import OnSignal
from bot.stores.redis import client_options
from knowledge.service import KnowledgeBase, ReloadResult
from knowledge.store.watch import KBPoller

PEER_BY = "peer"
CHANNEL_SUFFIX = "kb:reloaded"
# A peer check that finds a reload running tries again this often, this many times.
BUSY_RETRY_S = 0.5
BUSY_RETRIES = 20
RECONNECT_MIN_S = 0.5
RECONNECT_MAX_S = 30.0
# How long the subscriber blocks per read; bounds how long close() waits for it.
LISTEN_TIMEOUT_S = 1.0
# Subscribed connections send PING this often, so a silently dead one is noticed.
HEALTH_CHECK_S = 10

log = structlog.get_logger("licensebot.kb.sync")

PeerHeard = Callable[[str | None], None]


class KbChannel(Protocol):
    """Where reloads are told to the other processes."""

    @property
    def name(self) -> str: ...

    def announce(self, result: ReloadResult) -> None:
        """Tell the others; never raises (a failure is logged: their poll still catches up)."""
        ...

    def start(self, on_peer: PeerHeard) -> None:
        """Call ``on_peer(version or None)`` whenever another process says it reloaded."""
        ...

    def close(self) -> None: ...


def origin_id() -> str:
    """This process among all replicas: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class RedisKbChannel:
    """Redis pub/sub: ``PUBLISH`` on reload, a daemon thread subscribed to the channel."""

    def __init__(self, url: str, *, key_prefix: str, origin: str | None = None) -> None:
        self.channel = key_prefix + CHANNEL_SUFFIX
        self.origin = origin or origin_id()
        self._url = url
        # Publishing shares the dedupe store's short timeouts: a reload never waits long.
        self._publisher: redis.Redis = redis.Redis.from_url(url, **client_options())
        kwargs = self._publisher.connection_pool.connection_kwargs
        where = kwargs.get("path") or f"{kwargs.get('host')}:{kwargs.get('port')}"
        self.name = f"redis:{where}/{kwargs.get('db', 0)}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._subscribed = threading.Event()

    def announce(self, result: ReloadResult) -> None:
        message = json.dumps(
            {"origin": self.origin, "kb_version": result.new_version, "by": result.by}
        )
        try:
            receivers = self._publisher.publish(self.channel, message)
        except redis.RedisError as exc:
            log.warning(
                "kb.sync_announce_failed",
                channel=self.name,
                kb_version=result.new_version,
                error=f"{type(exc).__name__}: {exc}",
                effect="the other replicas catch up at their next poll",
            )
            return
        log.info("kb.sync_announced", kb_version=result.new_version, receivers=receivers)

    def start(self, on_peer: PeerHeard) -> None:
        if self._thread is not None:
            raise RuntimeError("channel already started")
        self._thread = threading.Thread(
            target=self._listen, args=(on_peer,), name="kb-sync-redis", daemon=True
        )
        self._thread.start()

    def wait_subscribed(self, timeout: float) -> bool:
        """True once the subscription is in place (for tests and startup logs)."""
        return self._subscribed.wait(timeout)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(LISTEN_TIMEOUT_S + 2)
            self._thread = None
        self._publisher.close()

    def _listen(self, on_peer: PeerHeard) -> None:
        delay = RECONNECT_MIN_S
        first = True
        while not self._stop.is_set():
            client: redis.Redis = redis.Redis.from_url(
                self._url,
                socket_connect_timeout=client_options()["socket_connect_timeout"],
                socket_timeout=LISTEN_TIMEOUT_S + HEALTH_CHECK_S,
                health_check_interval=HEALTH_CHECK_S,
                decode_responses=True,
            )
            pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
            try:
                pubsub.subscribe(self.channel)
                self._subscribed.set()
                log.info("kb.sync_subscribed", channel=self.name, reconnected=not first)
                if not first:
                    on_peer(None)  # what was announced while we were away
                first = False
                delay = RECONNECT_MIN_S
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=LISTEN_TIMEOUT_S)
                    if message is not None:
                        self._heard(message, on_peer)
            except redis.RedisError as exc:
                self._subscribed.clear()
                log.warning(
                    "kb.sync_disconnected",
                    channel=self.name,
                    error=f"{type(exc).__name__}: {exc}",
                    retry_in_s=delay,
                )
                self._stop.wait(delay)
                delay = min(delay * 2, RECONNECT_MAX_S)
            finally:
                with contextlib.suppress(redis.RedisError, OSError):
                    pubsub.close()
                client.close()

    def _heard(self, message: dict[str, Any], on_peer: PeerHeard) -> None:
        try:
            data = json.loads(message.get("data") or "")
        except (TypeError, ValueError):
            log.warning("kb.sync_message_unreadable", channel=self.name)
            return
        if not isinstance(data, dict) or data.get("origin") == self.origin:
            return
        version = data.get("kb_version")
        on_peer(version if isinstance(version, str) else None)


class SupervisorRelay:
    """Workers of one ``serve --workers N`` without Redis: SIGUSR1 through the supervisor."""

    name = "supervisor"

    def __init__(self, supervisor_pid: int) -> None:
        self.supervisor_pid = supervisor_pid
        self._sigusr1: OnSignal | None = None

    def announce(self, result: ReloadResult) -> None:
        try:
            os.kill(self.supervisor_pid, signal.SIGUSR1)
        except OSError as exc:
            log.warning(
                "kb.sync_announce_failed",
                channel=self.name,
                kb_version=result.new_version,
                error=str(exc),
                effect="the other workers catch up at their next poll",
            )

    def start(self, on_peer: PeerHeard) -> None:
        """Take SIGUSR1 as a peer's news (the handler is installed from the main thread)."""
        self._sigusr1 = OnSignal(signal.SIGUSR1, lambda: on_peer(None), name="kb-sync-sigusr1")
        if not self._sigusr1.install():
            log.warning("kb.sync_not_listening", channel=self.name, reason="not the main thread")

    def close(self) -> None:
        if self._sigusr1 is not None:
            self._sigusr1.close()
            self._sigusr1 = None


class PeerChecks:
    """Checks the directory when a peer says it reloaded: one at a time, on one thread.

    Requests arriving while a check runs are folded into one more check after it, so
    a burst of announcements costs at most two.
    """

    def __init__(self, kb: KnowledgeBase, poller: KBPoller, *, by: str = PEER_BY) -> None:
        self.kb = kb
        self.poller = poller
        # Who the reload a check makes is by: a peer's are not announced again.
        self.by = by
        self._wanted = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kb-peer-checks", daemon=True)
        self._thread.start()

    def request(self, version: str | None = None) -> None:
        """Thread-safe, and quick: only sets a flag."""
        if version is not None and version == self.kb.kb_version:
            return
        self._wanted.set()

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wanted.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            if self._stop.is_set():
                return
            self._wanted.clear()
            self._check()

    def _check(self) -> None:
        for _ in range(BUSY_RETRIES):
            try:
                outcome = self.poller.poll_once(by=self.by, force=True)
            except Exception as exc:
                log.exception("kb.peer_check_failed", error=repr(exc))
                return
            if outcome != "busy":
                log.info("kb.peer_checked", outcome=outcome, serving=self.kb.kb_version)
                return
            if self._stop.wait(BUSY_RETRY_S):
                return
        log.warning("kb.peer_check_gave_up", reason="a reload kept running")


class KbSync:
    """Wires a channel to a knowledge base: announce its reloads, check on the others'."""

    def __init__(self, kb: KnowledgeBase, poller: KBPoller, channel: KbChannel) -> None:
        self.channel = channel
        self.checks = PeerChecks(kb, poller)
        self._unsubscribe = kb.on_reloaded(self._reloaded)
        channel.start(self.checks.request)
        log.info("kb.sync_started", channel=channel.name)

    def _reloaded(self, result: ReloadResult) -> None:
        # A reload a peer prompted was announced by that peer already.
        if result.by != PEER_BY and not result.unchanged:
            self.channel.announce(result)

    def close(self) -> None:
        self._unsubscribe()
        self.channel.close()
        self.checks.close()


def kb_channel(settings: Settings, *, supervisor_pid: int | None = None) -> KbChannel | None:
    """Redis when ``LICENSEBOT_REDIS_URL`` is set, the supervisor for its workers, else none."""
    if settings.redis_url is not None:
        return RedisKbChannel(
            settings.redis_url.get_secret_value(), key_prefix=settings.redis_key_prefix
        )
    if supervisor_pid is not None:
        return SupervisorRelay(supervisor_pid)
    return None
