"""Events answered in a process of their own, at a lower CPU priority than acknowledging.

Composing an answer takes a few ms of CPU; acknowledging an event far less. In one
interpreter the two shared the GIL and, under load, the CPUs with everything else on
the host, so acknowledgements queued behind answers (issue 18: 87–218 ms p99 at 20
clients against a goal of 50 ms). Threads cannot fix that: the GIL has no priorities,
and a thread at a lower OS priority that holds it stalls everyone. So each serving
process (``licensebot serve``, or each of its ``--workers``) starts one *answerer*: a
child process, ``LICENSEBOT_ANSWER_NICE`` (default 10) below it, with its own knowledge
base, audit trail, stores and Bolt app. The server acknowledges an event
(``bot.delivery.intake``) and sends it here; the answerer dispatches it to its Bolt app,
which answers as the server would have.

- **One version.** The two are knowledge-base peers over their pipes (a
  ``bot.kb_sync.KbChannel``): the server tells the answerer of every reload it makes or
  hears of, the answerer tells the server of its own (an article uploaded in a DM);
  each then checks the directory, as replicas do.
- **Bounded.** The answerer takes the next event only while its delivery pool has room;
  until then the pipe fills, the server's intake fills, and the server answers new
  events 503 (``event.busy``) before claiming them, so Slack delivers them again.
- **Failures.** If the answerer is gone or its pipe broken, the server answers events
  itself (``answerer.unavailable``) and starts a new answerer at most every
  ``RESPAWN_S``. The answerer leaves when its pipe from the server closes (the server
  stopped, or was killed): it first finishes what it was given. Events it held when
  it was itself killed are lost (docs/deploy.md).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

import structlog
from slack_bolt import BoltRequest

from bot.delivery.intake import CLAIMED, DELIVERY_RESERVE
from bot.http.signature import VERIFIED
from bot.kb_sync import KbSync, PeerChecks, PeerHeard, skipped_invalid
from bot.settings import Settings
from knowledge.service import KnowledgeBase, ReloadResult
from knowledge.store.watch import KBPoller

# A new answerer after one was lost, at most this often (it loads the knowledge base).
RESPAWN_S = 5.0
# How long a stopping server waits for its answerer to finish what it was given.
STOP_WAIT_S = 20.0
# How often a full answerer looks for room in its delivery pool again.
ROOM_POLL_S = 0.005
# The reload a server makes because its answerer told of one: announced to the other
# replicas as its own (an upload in the answerer must reach them too).
ANSWERER_BY = "answerer"

log = structlog.get_logger("licensebot.answerer")

_EVENT = "event"
_KB = "kb"


class AnswererLink:
    """The serving process's side: starts the answerer, sends it events and reloads.

    Also the ``KbChannel`` to the answerer (``name``, ``announce``, ``start``, ``close``).
    """

    name = "answerer"

    def __init__(
        self, settings: Settings, kb_version: str, log_fields: dict[str, Any] | None = None
    ) -> None:
        self.settings = settings
        # On every line the answerer logs, with ``answerer_of`` (the server's pid).
        self.log_fields = {"answerer_of": os.getpid(), **(log_fields or {})}
        self._kb_version = kb_version
        self._skip_invalid = False
        self._lock = threading.Lock()
        self._on_peer: PeerHeard | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self._to_child: Connection | None = None
        self._last_start = 0.0
        self._closed = False
        self._start()

    # -- events ----------------------------------------------------------------------

    def forward(self, request: BoltRequest) -> bool:
        """Send an acknowledged event to the answerer; False when it cannot take it
        (then answer it here). Blocks while the answerer's pipe is full."""
        item = (
            _EVENT,
            request.raw_body,
            {k: list(v) for k, v in request.headers.items()},
            {k: request.context.get(k) for k in ("request_id", "received_at")},
        )
        with self._lock:
            if self._closed:
                return False
            if not self._alive():
                self._respawn()
                return False
            assert self._to_child is not None
            try:
                self._to_child.send(item)
            except (OSError, ValueError) as exc:
                log.error("answerer.unavailable", error=f"{type(exc).__name__}: {exc}")
                self._respawn()
                return False
        return True

    # -- KbChannel -------------------------------------------------------------------

    def announce(self, result: ReloadResult) -> None:
        self._kb_version, self._skip_invalid = result.new_version, skipped_invalid(result)
        with self._lock:
            if self._to_child is not None and not self._closed:
                _send_kb_news(self._to_child, result.new_version, self._skip_invalid)

    def start(self, on_peer: PeerHeard) -> None:
        self._on_peer = on_peer

    def close(self) -> None:
        """Let the answerer finish what it was given (at most ``STOP_WAIT_S``), then stop it."""
        with self._lock:
            self._closed = True
            process, to_child = self._process, self._to_child
            self._to_child = None
        if to_child is not None:
            to_child.close()  # the answerer's signal to finish and leave
        if process is not None:
            process.join(STOP_WAIT_S)
            if process.is_alive():
                log.warning("answerer.stop_timeout", pid=process.pid, waited_s=STOP_WAIT_S)
                process.terminate()
                process.join(5)

    # -- the process -----------------------------------------------------------------

    def _alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def _respawn(self) -> None:
        """Called with the lock held: a new answerer, unless one started just now."""
        if time.monotonic() - self._last_start < RESPAWN_S:
            return
        if self._process is not None:
            log.error("answerer.lost", pid=self._process.pid, exitcode=self._process.exitcode)
        if self._to_child is not None:
            self._to_child.close()
        self._start()

    def _start(self) -> None:
        self._last_start = time.monotonic()
        context = multiprocessing.get_context("spawn")
        from_parent, to_child = context.Pipe(duplex=False)
        from_child, to_parent = context.Pipe(duplex=False)
        process = context.Process(
            target=answer_events,
            args=(self.settings, from_parent, to_parent, self.log_fields),
            name="licensebot-answerer",
            daemon=True,
        )
        process.start()
        # The child holds these ends now; closing ours makes the child's EOF mean ours.
        from_parent.close()
        to_parent.close()
        self._process, self._to_child = process, to_child
        # What the child loaded may already be behind: it checks against this version.
        to_child.send((_KB, self._kb_version, self._skip_invalid))
        threading.Thread(
            target=self._hear, args=(from_child,), name="answerer-news", daemon=True
        ).start()
        log.info("answerer.started", pid=process.pid, nice=self.settings.answer_nice)

    def _hear(self, from_child: Connection) -> None:
        """The answerer's reloads, until its pipe closes."""
        with from_child:
            while True:
                try:
                    kind, version, skip_invalid = from_child.recv()
                except (EOFError, OSError):
                    return
                if kind == _KB and self._on_peer is not None:
                    self._on_peer(version, skip_invalid)


class AnswererSync:
    """The serving process's knowledge base and its answerer's, kept on one version:
    every reload here that changed something is told to the answerer (whoever prompted
    it); a reload the answerer tells of is checked for here, and that reload is
    announced to the other replicas as this one's (``ANSWERER_BY``)."""

    def __init__(self, kb: KnowledgeBase, poller: KBPoller, link: AnswererLink) -> None:
        self.link = link
        self.checks = PeerChecks(kb, poller, by=ANSWERER_BY)
        self._unsubscribe = kb.on_reloaded(self._reloaded)
        link.start(self.checks.request)

    def _reloaded(self, result: ReloadResult) -> None:
        if not result.unchanged:
            self.link.announce(result)

    def close(self) -> None:
        self._unsubscribe()
        self.checks.close()


class _ServerChannel:
    """The answerer's side of the knowledge-base news: tell the server of its reloads."""

    name = "server"

    def __init__(self, to_parent: Connection) -> None:
        self._to_parent = to_parent
        self._lock = threading.Lock()
        self.on_peer: PeerHeard | None = None

    def announce(self, result: ReloadResult) -> None:
        with self._lock:
            _send_kb_news(self._to_parent, result.new_version, skipped_invalid(result))

    def start(self, on_peer: PeerHeard) -> None:
        self.on_peer = on_peer

    def close(self) -> None:
        self._to_parent.close()


def _send_kb_news(connection: Connection, version: str, skip_invalid: bool) -> None:
    """Tell the other side of ``connection`` of a reload (the caller holds its lock)."""
    try:
        connection.send((_KB, version, skip_invalid))
    except (OSError, ValueError) as exc:
        # Its next peer check or event still brings it level, as a replica's poll does.
        log.warning("answerer.kb_news_lost", kb_version=version, error=str(exc))


def answer_events(
    settings: Settings, from_parent: Connection, to_parent: Connection, log_fields: dict[str, Any]
) -> None:
    """The answerer process: dispatch each event the server sends until its pipe closes."""
    # The server decides when this process stops (by closing the pipe); a terminal's
    # Ctrl-C or a SIGHUP sent to the whole process group is the server's to handle.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    os.nice(settings.answer_nice)
    # Imported here: the server process needs none of this to start an answerer.
    from bot.logging import configure_logging  # noqa: PLC0415
    from bot.reloaders import PEER_CHECK_ONLY_INTERVAL_S, poller_for  # noqa: PLC0415
    from bot.runtime import open_runtime  # noqa: PLC0415
    from knowledge.service import KnowledgeBase  # noqa: PLC0415

    configure_logging(
        settings.log_level,
        settings.log_format,
        secrets=settings.secret_values,
        fields=log_fields,
    )
    kb = KnowledgeBase.load_serving(
        settings.kb_dir, data_dir=settings.data_dir, skip_invalid=settings.kb_skip_invalid
    )
    runtime = open_runtime(settings, kb, workers=settings.workers, verify_token=False)
    poller = poller_for(kb, PEER_CHECK_ONLY_INTERVAL_S, runtime.audit)
    channel = _ServerChannel(to_parent)
    sync = KbSync(kb, poller, channel)
    log.info("answerer.ready", kb_version=kb.kb_version, nice=os.nice(0))
    try:
        with from_parent:
            while True:
                try:
                    item = from_parent.recv()
                except (EOFError, OSError):
                    break
                if item[0] == _KB:
                    sync.checks.request(item[1], item[2])
                    continue
                _wait_for_room(runtime.deliveries)
                _dispatch(runtime.app.dispatch, *item[1:])
    finally:
        log.info("answerer.stopping")
        runtime.close()
        sync.close()
        poller.stop()
        log.info("answerer.stopped")


def _wait_for_room(deliveries: Any) -> None:
    # Not taking the next event is what tells the server to refuse new ones for a while.
    while deliveries.room() <= DELIVERY_RESERVE:
        time.sleep(ROOM_POLL_S)


def _dispatch(
    dispatch: Any, raw_body: str, headers: dict[str, str | Sequence[str]], fields: dict[str, Any]
) -> None:
    context = {VERIFIED: True, CLAIMED: True, **{k: v for k, v in fields.items() if v is not None}}
    request = BoltRequest(body=raw_body, headers=headers, context=context)
    try:
        response = dispatch(request)
    except Exception:
        log.exception("event.dispatch_crashed", request_id=fields.get("request_id"))
        return
    if response.status != 200:
        ref = fields.get("request_id")
        log.error("event.not_dispatched", request_id=ref, status=response.status)
