"""One knowledge-base version across workers and replicas: each reload is told to the others.

A reload that swapped a new version in (from Slack, SIGHUP or the poller) is announced
on a channel; every other process then checks its own directory at once
(``KBPoller.poll_once(by="peer", force=True)``) instead of waiting for its next poll.
Each process loads what *its* directory holds, so a replica whose directory differs
never serves content on another's word, and a lost message costs no more than the wait
for the next poll.

The news (``KbNews``) carries the version and whether it left invalid articles out
(``/kb reload skip-invalid``): the peer checks its directory with the same choice, so
the same directory gives the same version. A peer check that lands on another version
than the one announced (the directory changed in between) is announced in turn, and
the others check again: every step follows the directory, so once it stops changing
all processes serve one version. Loading the announced hash from the saved versions
instead would not converge: replicas need not share a data directory, and when two
reloads cross, a process that already serves the newer version would go back to the
older one on its late news.

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
import tempfile
import threading
import uuid
from pathlib import Path
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

NEWS_FILE = "kb-news.json"


class PeerHeard(Protocol):
    """What a channel calls with another process's news: its version (None: unknown,
    check anyway) and whether that version left invalid articles out."""

    def __call__(self, version: str | None, skip_invalid: bool = False) -> None: ...


def skipped_invalid(result: ReloadResult) -> bool:
    """Whether the version a reload swapped in leaves invalid articles out."""
    return bool(result.skipped)


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
            {
                "origin": self.origin,
                "kb_version": result.new_version,
                "by": result.by,
                "skip_invalid": skipped_invalid(result),
            }
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
        on_peer(version if isinstance(version, str) else None, data.get("skip_invalid") is True)


class SupervisorRelay:
    """Workers of one ``serve --workers N`` without Redis: SIGUSR1 through the supervisor.

    A signal carries nothing, so the news itself is left in ``<data dir>/kb-news.json``
    (shared by the workers) before signalling; without it (no data directory, or the
    file unreadable) a worker checks its directory as it would for any news.
    """

    name = "supervisor"

    def __init__(self, supervisor_pid: int, data_dir: Path | None = None) -> None:
        self.supervisor_pid = supervisor_pid
        self.news_path = data_dir / NEWS_FILE if data_dir is not None else None
        self._sigusr1: OnSignal | None = None

    def announce(self, result: ReloadResult) -> None:
        if self.news_path is not None:
            try:
                _write_news(self.news_path, result)
            except OSError as exc:
                # Still signalled: the others check their directory, as for any news.
                log.warning("kb.sync_news_unwritten", path=str(self.news_path), error=str(exc))
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
        self._sigusr1 = OnSignal(
            signal.SIGUSR1, lambda: self._heard(on_peer), name="kb-sync-sigusr1"
        )
        if not self._sigusr1.install():
            log.warning("kb.sync_not_listening", channel=self.name, reason="not the main thread")

    def close(self) -> None:
        if self._sigusr1 is not None:
            self._sigusr1.close()
            self._sigusr1 = None

    def _heard(self, on_peer: PeerHeard) -> None:
        data: Any = None
        if self.news_path is not None:
            with contextlib.suppress(OSError, ValueError):
                data = json.loads(self.news_path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            on_peer(None)
            return
        if data.get("pid") == os.getpid():
            return  # the supervisor passes each worker's news back to it too
        version = data.get("kb_version")
        on_peer(version if isinstance(version, str) else None, data.get("skip_invalid") is True)


def _write_news(path: Path, result: ReloadResult) -> None:
    """The news, replaced atomically: a reader sees the previous news or this one."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(
                {
                    "pid": os.getpid(),
                    "kb_version": result.new_version,
                    "skip_invalid": skipped_invalid(result),
                },
                fh,
            )
        os.replace(tmp_name, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)


class PeerChecks:
    """Checks the directory when a peer says it reloaded: one at a time, on one thread.

    Requests arriving while a check runs are folded into one more check after it, so
    a burst of announcements costs at most two; that check skips invalid articles if
    any news folded into it did, and ``heard`` is the latest version announced.
    """

    def __init__(self, kb: KnowledgeBase, poller: KBPoller, *, by: str = PEER_BY) -> None:
        self.kb = kb
        self.poller = poller
        # Who the reload a check makes is by: a peer's are not announced again.
        self.by = by
        self.heard: str | None = None
        self._skip_invalid = False
        self._lock = threading.Lock()
        self._wanted = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kb-peer-checks", daemon=True)
        self._thread.start()

    def request(self, version: str | None = None, skip_invalid: bool = False) -> None:
        """Thread-safe, and quick: only notes the news and sets a flag."""
        if version is not None and version == self.kb.kb_version:
            return
        with self._lock:
            self.heard = version
            self._skip_invalid = self._skip_invalid or skip_invalid
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
            with self._lock:
                skip_invalid, self._skip_invalid = self._skip_invalid, False
            self._check(skip_invalid)

    def _check(self, skip_invalid: bool) -> None:
        for _ in range(BUSY_RETRIES):
            try:
                outcome = self.poller.poll_once(by=self.by, force=True, skip_invalid=skip_invalid)
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
        # A reload a peer prompted to the version it announced was announced already;
        # one that found the directory elsewhere is news for the others.
        if result.unchanged:
            return
        if result.by == PEER_BY and result.new_version == self.checks.heard:
            return
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
        return SupervisorRelay(supervisor_pid, settings.data_dir)
    return None
