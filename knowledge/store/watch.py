"""Follow a shared knowledge-base directory so that replicas converge on one kb_version.

Every ``interval`` seconds a daemon thread takes the directory's fingerprint (names,
sizes, mtimes, inodes: no file contents). Only when that changed does it hash the
contents; only when the content differs from what is served does it reload, through
the same ``KnowledgeBase.reload`` as everything else, and not while an article is
being added (``knowledge.store.admin`` holds a lock on the directory meanwhile), so no replica
loads half an addition. A refused reload is reported once per fingerprint: a broken
directory left alone does not flood the logs, and the next change is tried again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Literal, TypeVar

import structlog

from knowledge.service import KBInvalid, KnowledgeBase, ReloadInProgress, ReloadResult
from knowledge.store.admin import dir_fingerprint, directory_version, no_addition_running

log = structlog.get_logger("licensebot.knowledge.watch")

PollOutcome = Literal["unchanged", "same_version", "reloaded", "refused", "busy", "error"]
POLL_BY = "poll"
T = TypeVar("T")


class KBPoller:
    """Polls ``kb.kb_dir`` and reloads ``kb`` when its content changes.

    ``on_reloaded`` / ``on_refused`` let the composition root audit what happened;
    an exception from either is logged and does not stop the poller.
    """

    def __init__(
        self,
        kb: KnowledgeBase,
        interval: float,
        *,
        on_reloaded: Callable[[ReloadResult], None] | None = None,
        on_refused: Callable[[KBInvalid], None] | None = None,
    ) -> None:
        if interval <= 0:
            raise ValueError("poll interval must be positive")
        self.kb = kb
        self.interval = interval
        self._on_reloaded = on_reloaded
        self._on_refused = on_refused
        # The fingerprint last dealt with: None forces a content check on the first poll.
        self._seen: str | None = None
        self._last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll_once(
        self, *, by: str = POLL_BY, force: bool = False, skip_invalid: bool = False
    ) -> PollOutcome:
        """One check; ``force`` compares contents even when the fingerprint has not moved
        (a peer said the directory changed, and a shared volume's metadata may lag);
        ``skip_invalid`` reloads as the peer did, serving the valid articles."""
        try:
            fingerprint = dir_fingerprint(self.kb.kb_dir)
            if fingerprint == self._seen and not force:
                return "unchanged"
            if directory_version(self.kb.kb_dir) == self.kb.kb_version:
                self._seen = fingerprint
                return "same_version"
        except OSError as exc:
            return self._error(exc)
        try:
            with no_addition_running(self.kb.kb_dir) as settled:
                if not settled:
                    return "busy"
                result = self.kb.reload(by=by, skip_invalid=skip_invalid)
        except ReloadInProgress:
            # Leave the fingerprint unseen: the next poll looks again.
            return "busy"
        except KBInvalid as exc:
            self._seen = fingerprint
            log.warning(
                "kb.reload_refused",
                by=by,
                kb_dir=str(self.kb.kb_dir),
                serving=self.kb.kb_version,
                problems=[str(p) for p in exc.problems],
            )
            self._notify(self._on_refused, exc)
            return "refused"
        except OSError as exc:
            return self._error(exc)
        # Taken before the reload read the directory: a change during it is seen next time.
        self._seen = fingerprint
        self._last_error = None
        log.info(
            "kb.reloaded",
            by=by,
            old_version=result.old_version,
            new_version=result.new_version,
            added=list(result.added),
            removed=list(result.removed),
            changed=list(result.changed),
            seconds=result.seconds,
        )
        self._notify(self._on_reloaded, result)
        return "reloaded"

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("poller already started")
        self._thread = threading.Thread(target=self._run, name="kb-poller", daemon=True)
        self._thread.start()
        log.info("kb.poller_started", kb_dir=str(self.kb.kb_dir), interval=self.interval)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll_once()
            except Exception as exc:
                # The poller outlives any one bad poll; the next one tries again.
                log.exception("kb.poll_failed", error=repr(exc))

    def _error(self, exc: OSError) -> PollOutcome:
        message = str(exc)
        if message != self._last_error:
            log.warning("kb.poll_failed", kb_dir=str(self.kb.kb_dir), error=message)
            self._last_error = message
        return "error"

    def _notify(self, callback: Callable[[T], None] | None, value: T) -> None:
        if callback is None:
            return
        try:
            callback(value)
        except Exception as exc:
            log.warning("kb.poll_callback_failed", error=repr(exc))
