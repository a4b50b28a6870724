"""Reloads that do not come from Slack: ``SIGHUP`` from an operator, and directory polling.

``licensebot serve`` wraps serving in ``kb_maintenance(settings, kb, audit)``, which

* writes ``<LICENSEBOT_DATA_DIR>/licensebot.pid`` (removed again on exit),
* reloads the knowledge base on ``SIGHUP`` (in a background thread: the signal handler
  itself only starts it) and writes the outcome to ``<data dir>/kb-reload.json``,
* polls the knowledge-base directory every ``LICENSEBOT_KB_POLL_SECONDS`` (0: off),

and audits ``kb.reloaded`` / ``kb.reload_refused`` for both. ``licensebot kb reload``
(``request_reload``) leaves a request in ``<data dir>/kb-reload-requests/`` (whether to
skip invalid articles), signals the server named by the pid file, follows the stages
the server writes to ``kb-reload-progress.json`` and waits for its ``kb-reload.json``
to report this request's outcome.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import structlog

from bot.settings import Settings
from handlers.deps import Auditor
from handlers.kb.records import problem_fields, record_kb_event, reload_fields
from knowledge.service import (
    KBInvalid,
    KnowledgeBase,
    ReloadInProgress,
    ReloadResult,
    ReloadStage,
)
from knowledge.store.watch import KBPoller

PID_FILE = "licensebot.pid"
RESULT_FILE = "kb-reload.json"
PROGRESS_FILE = "kb-reload-progress.json"
REQUEST_DIR = "kb-reload-requests"
SIGNAL_BY = "sighup"
# A signalled reload waits this long for one already running (Slack, poll) to finish.
SIGNAL_RELOAD_WAIT_S = 120.0
# At shutdown, how long a reload already signalled may take to write its report (within
# the 10 s a container runtime gives between SIGTERM and SIGKILL).
SHUTDOWN_DRAIN_S = 8.0

log = structlog.get_logger("licensebot.kb")


class ReloadRequestError(Exception):
    """No server to signal, or it did not report back; the message says which."""


# --------------------------------------------------------------------------- pid file


def _proc_start_time(pid: int) -> str | None:
    """The process start time from /proc (Linux), to tell a reused pid from ours."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; fields after its ")" are plain.
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


@dataclass(frozen=True)
class PidInfo:
    pid: int
    started: str | None
    kb_dir: str


def write_pid_file(data_dir: Path, kb_dir: Path) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / PID_FILE
    existing = read_pid_file(data_dir)
    if existing is not None and existing.pid != os.getpid() and process_is(existing):
        log.warning("server.pid_file_taken", path=str(path), other_pid=existing.pid)
    pid = os.getpid()
    _write_json(path, {"pid": pid, "started": _proc_start_time(pid), "kb_dir": str(kb_dir)})
    return path


def remove_pid_file(path: Path) -> None:
    """Remove the pid file if it is still ours (another server may have taken it over)."""
    info = read_pid_file(path.parent)
    if info is not None and info.pid == os.getpid():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def read_pid_file(data_dir: Path) -> PidInfo | None:
    try:
        data = json.loads((data_dir / PID_FILE).read_text(encoding="utf-8"))
        return PidInfo(
            pid=int(data["pid"]), started=data.get("started"), kb_dir=str(data.get("kb_dir", ""))
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def process_is(info: PidInfo) -> bool:
    """True if the process the pid file names is still the one that wrote it."""
    try:
        os.kill(info.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    started = _proc_start_time(info.pid)
    return info.started is None or started is None or started == info.started


# --------------------------------------------------------------------------- results


def _write_json(path: Path, data: dict[str, Any]) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
            fh.write("\n")
        os.replace(tmp_name, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)


def read_result(data_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((data_dir / RESULT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


# --------------------------------------------------------------------------- SIGHUP


class SignalReloader:
    """Reloads ``kb`` on SIGHUP and reports each outcome in ``kb-reload.json``."""

    def __init__(self, kb: KnowledgeBase, data_dir: Path, audit: Auditor | None) -> None:
        self.kb = kb
        self.data_dir = data_dir
        self.audit = audit
        self._seq = 0
        self._seq_lock = threading.Lock()
        self._previous: Any = None
        self._installed = False
        self._workers: list[threading.Thread] = []

    def install(self) -> bool:
        """Install the handler; False (and a log line) outside the main thread."""
        if threading.current_thread() is not threading.main_thread():
            log.warning("kb.sighup_not_installed", reason="not the main thread")
            return False
        self._previous = signal.signal(signal.SIGHUP, self._on_signal)
        self._installed = True
        return True

    def uninstall(self, *, drain_s: float = SHUTDOWN_DRAIN_S) -> None:
        """Restore the previous handler and let reloads already signalled finish.

        A reload that swapped the knowledge base but has not yet written its report
        and audit record would otherwise die with the process (its thread is a
        daemon), leaving ``licensebot kb reload`` waiting for a report that never comes.
        """
        if self._installed:
            signal.signal(signal.SIGHUP, self._previous)
            self._installed = False
        deadline = time.monotonic() + drain_s
        for worker in list(self._workers):
            worker.join(max(0.0, deadline - time.monotonic()))
            if worker.is_alive():
                log.warning("kb.reload_unfinished_at_shutdown", thread=worker.name)

    def _on_signal(self, _signum: int, _frame: FrameType | None) -> None:
        # Signal handlers run between bytecodes of the main thread: do the work elsewhere.
        worker = threading.Thread(target=self.reload_now, name="kb-sighup-reload", daemon=True)
        self._workers = [w for w in self._workers if w.is_alive()]
        self._workers.append(worker)
        worker.start()

    def reload_now(self) -> dict[str, Any]:
        with self._seq_lock:
            self._seq += 1
            seq = self._seq
        requests = take_requests(self.data_dir)
        skip_invalid = any(r.get("skip_invalid") is True for r in requests)
        outcome: dict[str, Any] = {
            "pid": os.getpid(),
            "seq": seq,
            "requested_at": dt.datetime.now(dt.UTC).isoformat(),
            "by": SIGNAL_BY,
            "request_ids": [str(r.get("id")) for r in requests],
            "skip_invalid": skip_invalid,
        }
        kb = self.kb

        def progress(stage: ReloadStage) -> None:
            _write_json(
                self.data_dir / PROGRESS_FILE,
                {"pid": os.getpid(), "seq": seq, "stage": dataclasses.asdict(stage)},
            )

        try:
            result = kb.reload(
                by=SIGNAL_BY,
                wait=SIGNAL_RELOAD_WAIT_S,
                skip_invalid=skip_invalid,
                progress=progress,
            )
        except ReloadInProgress:
            outcome.update(outcome="busy", serving=kb.kb_version)
            log.warning("kb.reload_refused", by=SIGNAL_BY, reason="in_progress")
            record_kb_event(
                self.audit,
                "kb.reload_refused",
                surface="signal",
                user=SIGNAL_BY,
                reason="in_progress",
                serving=kb.kb_version,
                problems=[],
            )
        except KBInvalid as exc:
            outcome.update(
                outcome="refused", serving=kb.kb_version, problems=problem_fields(exc.problems)
            )
            log.warning(
                "kb.reload_refused",
                by=SIGNAL_BY,
                reason="invalid",
                problems=[str(p) for p in exc.problems],
            )
            record_kb_event(
                self.audit,
                "kb.reload_refused",
                surface="signal",
                user=SIGNAL_BY,
                reason="invalid",
                serving=kb.kb_version,
                problems=problem_fields(exc.problems),
            )
        else:
            fields = reload_fields(result)
            outcome.update(outcome="reloaded", serving=result.new_version, **fields)
            log.info("kb.reloaded", by=SIGNAL_BY, **fields)
            record_kb_event(self.audit, "kb.reloaded", surface="signal", user=SIGNAL_BY, **fields)
        outcome["finished_at"] = dt.datetime.now(dt.UTC).isoformat()
        try:
            _write_json(self.data_dir / RESULT_FILE, outcome)
        except OSError as exc:
            log.error("kb.reload_result_unwritten", path=str(self.data_dir), error=str(exc))
        return outcome


def take_requests(data_dir: Path) -> list[dict[str, Any]]:
    """The reload requests left for this server, removed as they are read."""
    root = data_dir / REQUEST_DIR
    try:
        paths = sorted(root.glob("*.json"))
    except OSError:
        return []
    requests = []
    for path in paths:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            path.unlink()
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            requests.append(data)
    return requests


def request_reload(
    data_dir: Path,
    *,
    timeout: float = 60.0,
    skip_invalid: bool = False,
    progress: Callable[[ReloadStage], None] | None = None,
) -> dict[str, Any]:
    """Signal the running server and return its report of this reload.

    ``skip_invalid`` asks it to serve the valid articles if some are invalid;
    ``progress`` hears the stages the server reports meanwhile. Raises
    ``ReloadRequestError`` when no live server owns the pid file or it does not report
    back within ``timeout``.
    """
    info = read_pid_file(data_dir)
    if info is None:
        raise ReloadRequestError(
            f"no running server found (no pid file at {data_dir / PID_FILE}; "
            "is LICENSEBOT_DATA_DIR the server's?)"
        )
    if not process_is(info):
        raise ReloadRequestError(f"the server (pid {info.pid}) is not running (stale pid file)")
    request_id = uuid.uuid4().hex
    (data_dir / REQUEST_DIR).mkdir(parents=True, exist_ok=True)
    _write_json(
        data_dir / REQUEST_DIR / f"{request_id}.json",
        {"id": request_id, "skip_invalid": skip_invalid, "at": dt.datetime.now(dt.UTC).isoformat()},
    )
    before = read_result(data_dir)
    before_key = (before.get("pid"), before.get("seq")) if before else None
    os.kill(info.pid, signal.SIGHUP)
    deadline = time.monotonic() + timeout
    shown: Any = None
    while time.monotonic() < deadline:
        report = read_result(data_dir)
        if (
            report
            and report.get("pid") == info.pid
            and ((report.get("pid"), report.get("seq")) != before_key)
            and request_id in (report.get("request_ids") or [request_id])
        ):
            return report
        shown = _follow_progress(data_dir, info.pid, before_key, shown, progress)
        time.sleep(0.05)
    raise ReloadRequestError(f"the server (pid {info.pid}) did not report back in {timeout:g} s")


def _follow_progress(
    data_dir: Path,
    pid: int,
    before_key: Any,
    shown: Any,
    progress: Callable[[ReloadStage], None] | None,
) -> Any:
    """Pass on a stage the server reported since ``shown``; returns the last shown."""
    if progress is None:
        return shown
    try:
        data = json.loads((data_dir / PROGRESS_FILE).read_text(encoding="utf-8"))
        stage = ReloadStage(**data["stage"])
    except (OSError, ValueError, KeyError, TypeError):
        return shown
    if data.get("pid") != pid or (pid, data.get("seq")) == before_key or data == shown:
        return shown
    progress(stage)
    return data


# --------------------------------------------------------------------------- wiring


def poller_for(kb: KnowledgeBase, interval: float, audit: Auditor | None) -> KBPoller:
    def reloaded(result: ReloadResult) -> None:
        record_kb_event(audit, "kb.reloaded", surface="poll", user="poll", **reload_fields(result))

    def refused(exc: KBInvalid) -> None:
        record_kb_event(
            audit,
            "kb.reload_refused",
            surface="poll",
            user="poll",
            reason="invalid",
            serving=kb.kb_version,
            problems=problem_fields(exc.problems),
        )

    return KBPoller(kb, interval, on_reloaded=reloaded, on_refused=refused)


@contextlib.contextmanager
def kb_maintenance(
    settings: Settings, kb: KnowledgeBase, audit: Auditor | None
) -> Iterator[KBPoller | None]:
    """Pid file, SIGHUP reloads and directory polling for the lifetime of a server."""
    pid_path = write_pid_file(settings.data_dir, kb.kb_dir)
    reloader = SignalReloader(kb, settings.data_dir, audit)
    reloader.install()
    poller = poller_for(kb, settings.kb_poll_seconds, audit) if settings.kb_poll_seconds else None
    if poller is not None:
        poller.start()
    try:
        yield poller
    finally:
        if poller is not None:
            poller.stop()
        reloader.uninstall()
        remove_pid_file(pid_path)
