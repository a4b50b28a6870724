"""Reloads that do not come from Slack: ``SIGHUP`` from an operator, directory polling,
and the checks other replicas ask for.

``licensebot serve`` wraps serving in ``kb_maintenance(settings, kb, audit)``, which

* writes ``<LICENSEBOT_DATA_DIR>/licensebot.pid`` (removed again on exit),
* reloads the knowledge base on ``SIGHUP`` (in a background thread: the signal handler
  itself only starts it) and writes the outcome to ``<data dir>/kb-reload.json``,
* polls the knowledge-base directory every ``LICENSEBOT_KB_POLL_SECONDS`` (0: off),
* tells the other workers or replicas of each reload, and checks the directory at once
  when they tell of theirs (``bot.kb_sync``),

and audits ``kb.reloaded`` / ``kb.reload_refused`` for all of them. ``licensebot kb
reload`` (``request_reload``) signals the server named by the pid file and waits for its
``kb-reload.json`` to report this request's outcome. Under ``serve --workers N`` the pid
file names the supervisor, which passes the signal to every worker and writes one report
for all of them (``bot.supervisor``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from bot.answerer import AnswererLink, AnswererSync
from bot.kb_sync import KbChannel, KbSync
from bot.settings import Settings
from bot.signals import OnSignal
from handlers.deps import Auditor
from handlers.kb.records import problem_fields, record_kb_event, reload_fields
from knowledge.service import KBInvalid, KnowledgeBase, ReloadInProgress, ReloadResult
from knowledge.store.watch import POLL_BY, KBPoller

PID_FILE = "licensebot.pid"
RESULT_FILE = "kb-reload.json"
SIGNAL_BY = "sighup"
# A signalled reload waits this long for one already running (Slack, poll) to finish.
SIGNAL_RELOAD_WAIT_S = 120.0
# At shutdown, how long a reload already signalled may take to write its report (within
# the 10 s a container runtime gives between SIGTERM and SIGKILL).
SHUTDOWN_DRAIN_S = 8.0
# The poller object also runs peer-prompted checks; with polling off this interval is unused.
PEER_CHECK_ONLY_INTERVAL_S = 30.0

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
    workers: int = 1


def write_pid_file(data_dir: Path, kb_dir: Path, *, workers: int = 1) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / PID_FILE
    existing = read_pid_file(data_dir)
    if existing is not None and existing.pid != os.getpid() and process_is(existing):
        log.warning("server.pid_file_taken", path=str(path), other_pid=existing.pid)
    pid = os.getpid()
    write_json(
        path,
        {"pid": pid, "started": _proc_start_time(pid), "kb_dir": str(kb_dir), "workers": workers},
    )
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
            pid=int(data["pid"]),
            started=data.get("started"),
            kb_dir=str(data.get("kb_dir", "")),
            workers=int(data.get("workers") or 1),
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


def write_json(path: Path, data: dict[str, Any]) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
            fh.write("\n")
        os.replace(tmp_name, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)


def read_result(data_dir: Path, name: str = RESULT_FILE) -> dict[str, Any] | None:
    try:
        data = json.loads((data_dir / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


# --------------------------------------------------------------------------- SIGHUP


class SignalReloader:
    """Reloads ``kb`` on SIGHUP and reports each outcome in ``result_file`` (under
    ``data_dir``; ``kb-reload.json`` for a server)."""

    def __init__(
        self,
        kb: KnowledgeBase,
        data_dir: Path,
        audit: Auditor | None,
        *,
        result_file: str = RESULT_FILE,
    ) -> None:
        self.kb = kb
        self.data_dir = data_dir
        self.audit = audit
        self.result_file = result_file
        self._seq = 0
        self._seq_lock = threading.Lock()
        self._sighup = OnSignal(signal.SIGHUP, self._start_reload, name="kb-sighup")
        self._workers: list[threading.Thread] = []

    def install(self) -> bool:
        """Install the handler; False (and a log line) outside the main thread."""
        if not self._sighup.install():
            log.warning("kb.sighup_not_installed", reason="not the main thread")
            return False
        return True

    def uninstall(self, *, drain_s: float = SHUTDOWN_DRAIN_S) -> None:
        """Restore the previous handler and let reloads already signalled finish.

        A reload that swapped the knowledge base but has not yet written its report
        and audit record would otherwise die with the process (its thread is a
        daemon), leaving ``licensebot kb reload`` waiting for a report that never comes.
        """
        self._sighup.close()
        deadline = time.monotonic() + drain_s
        for worker in list(self._workers):
            worker.join(max(0.0, deadline - time.monotonic()))
            if worker.is_alive():
                log.warning("kb.reload_unfinished_at_shutdown", thread=worker.name)

    def _start_reload(self) -> None:
        # On the signal's own thread (bot.signals): the reload gets one of its own.
        worker = threading.Thread(target=self.reload_now, name="kb-sighup-reload", daemon=True)
        self._workers = [w for w in self._workers if w.is_alive()]
        self._workers.append(worker)
        worker.start()

    def reload_now(self) -> dict[str, Any]:
        with self._seq_lock:
            self._seq += 1
            seq = self._seq
        outcome: dict[str, Any] = {
            "pid": os.getpid(),
            "seq": seq,
            "requested_at": dt.datetime.now(dt.UTC).isoformat(),
            "by": SIGNAL_BY,
        }
        kb = self.kb
        try:
            result = kb.reload(by=SIGNAL_BY, wait=SIGNAL_RELOAD_WAIT_S)
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
        self._write(outcome)
        return outcome

    def report_started(self) -> None:
        """Report sequence 0, "started": this process now takes SIGHUP as a reload."""
        now = dt.datetime.now(dt.UTC).isoformat()
        self._write(
            {
                "pid": os.getpid(),
                "seq": 0,
                "outcome": "started",
                "serving": self.kb.kb_version,
                "requested_at": now,
                "finished_at": now,
            }
        )

    def _write(self, outcome: dict[str, Any]) -> None:
        try:
            write_json(self.data_dir / self.result_file, outcome)
        except OSError as exc:
            log.error("kb.reload_result_unwritten", path=str(self.data_dir), error=str(exc))


def request_reload(data_dir: Path, *, timeout: float = 60.0) -> dict[str, Any]:
    """Signal the running server and return its report of this reload.

    Raises ``ReloadRequestError`` when no live server owns the pid file or it does not
    report back within ``timeout``.
    """
    info = read_pid_file(data_dir)
    if info is None:
        raise ReloadRequestError(
            f"no running server found (no pid file at {data_dir / PID_FILE}; "
            "is LICENSEBOT_DATA_DIR the server's?)"
        )
    if not process_is(info):
        raise ReloadRequestError(f"the server (pid {info.pid}) is not running (stale pid file)")
    before = read_result(data_dir)
    before_key = (before.get("pid"), before.get("seq")) if before else None
    os.kill(info.pid, signal.SIGHUP)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        report = read_result(data_dir)
        if (
            report
            and report.get("pid") == info.pid
            and ((report.get("pid"), report.get("seq")) != before_key)
        ):
            return report
        time.sleep(0.05)
    raise ReloadRequestError(f"the server (pid {info.pid}) did not report back in {timeout:g} s")


# --------------------------------------------------------------------------- wiring


def poller_for(kb: KnowledgeBase, interval: float, audit: Auditor | None) -> KBPoller:
    """A poller whose reloads (its own, or a peer's prompt: ``by``) are audited."""

    def reloaded(result: ReloadResult) -> None:
        by = result.by
        record_kb_event(audit, "kb.reloaded", surface=by, user=by, **reload_fields(result))

    def refused(exc: KBInvalid) -> None:
        by = kb.last_refusal.by if kb.last_refusal is not None else POLL_BY
        record_kb_event(
            audit,
            "kb.reload_refused",
            surface=by,
            user=by,
            reason="invalid",
            serving=kb.kb_version,
            problems=problem_fields(exc.problems),
        )

    return KBPoller(kb, interval, on_reloaded=reloaded, on_refused=refused)


WORKER_RESULT_GLOB = "kb-reload.worker-*.json"


def worker_result_file(pid: int) -> str:
    """Where a worker of ``serve --workers`` reports its reloads (the supervisor reads it)."""
    return WORKER_RESULT_GLOB.replace("*", str(pid))


@contextlib.contextmanager
def kb_maintenance(
    settings: Settings,
    kb: KnowledgeBase,
    audit: Auditor | None,
    *,
    channel: KbChannel | None = None,
    supervisor_pid: int | None = None,
    answerer: AnswererLink | None = None,
) -> Iterator[KBPoller | None]:
    """SIGHUP reloads, directory polling and telling peers, for the lifetime of a server;
    yields the running poller (None when ``LICENSEBOT_KB_POLL_SECONDS`` is 0).

    A server writes the pid file and reports SIGHUP reloads in ``kb-reload.json``. A
    worker of ``serve --workers`` (``supervisor_pid``) leaves both to its supervisor: it
    reports in ``worker_result_file(pid)``, whose first report ("started") tells the
    supervisor that this worker can now take a SIGHUP. ``channel`` tells other
    processes of each reload and checks the directory when they tell of theirs; the
    server's ``answerer`` (``bot.answerer``) is kept on its version the same way.
    """
    worker = supervisor_pid is not None
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    pid_path = None if worker else write_pid_file(settings.data_dir, kb.kb_dir)
    result_file = worker_result_file(os.getpid()) if worker else RESULT_FILE
    reloader = SignalReloader(kb, settings.data_dir, audit, result_file=result_file)
    reloader.install()
    interval = settings.kb_poll_seconds
    # Without polling the poller still serves the checks a peer asks for.
    poller = poller_for(kb, interval or PEER_CHECK_ONLY_INTERVAL_S, audit)
    if interval:
        poller.start()
    sync = KbSync(kb, poller, channel) if channel is not None else None
    follower = AnswererSync(kb, poller, answerer) if answerer is not None else None
    if worker:
        reloader.report_started()
        # A change made while this worker was loading reached none of its signals.
        if sync is not None:
            sync.checks.request()
    try:
        yield poller if interval else None
    finally:
        if follower is not None:
            follower.close()
        if sync is not None:
            sync.close()
        poller.stop()
        reloader.uninstall()
        if pid_path is not None:
            remove_pid_file(pid_path)
        else:
            with contextlib.suppress(FileNotFoundError):
                (settings.data_dir / result_file).unlink()
