"""``licensebot serve --workers N``: uvicorn's worker supervisor, with licensebot's signals.

uvicorn's ``Multiprocess`` binds the port once, starts N worker processes on it,
replaces a worker that dies and stops them all gracefully on SIGINT/SIGTERM. Two
signals mean something else here:

* ``SIGHUP`` (``licensebot kb reload``) is "reload the knowledge base", as for a single
  server, not uvicorn's "restart every worker": the supervisor passes it on to each
  worker that has started (its ``kb-reload.worker-<pid>.json`` exists), waits for each
  one's report and writes one report for all of them to ``kb-reload.json``.
* ``SIGUSR1`` comes from a worker that reloaded (``bot.kb_sync.SupervisorRelay``, used
  without Redis); it is passed on to every worker, which then checks the directory.

The supervisor loads no knowledge base and answers no request: it only watches.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from socket import socket
from typing import Any

import structlog
from uvicorn.config import Config
from uvicorn.supervisors.multiprocess import Multiprocess

from bot.reloaders import (
    REQUEST_DIR,
    RESULT_FILE,
    SIGNAL_BY,
    SIGNAL_RELOAD_WAIT_S,
    WORKER_RESULT_GLOB,
    pass_requests,
    read_result,
    take_requests,
    worker_request_dir,
    worker_result_file,
    write_json,
)

# Beyond a worker's own wait for a running reload: reading, indexing and reporting.
REPORT_GRACE_S = 30.0

log = structlog.get_logger("licensebot.supervisor")


class Supervisor(Multiprocess):
    """``Multiprocess`` whose SIGHUP reloads in place and whose SIGUSR1 is relayed."""

    def __init__(self, config: Config, sockets: list[socket], *, data_dir: Path) -> None:
        super().__init__(config, sockets)
        self.data_dir = data_dir
        self._seq = 0
        self._reloads = threading.Lock()
        self._threads: list[threading.Thread] = []
        # Reports of an earlier run name pids that are gone (or reused): not ours.
        self.forget_reports()

    def forget_reports(self) -> None:
        """Remove every worker's report (a killed worker cannot remove its own)."""
        for report in self.data_dir.glob(WORKER_RESULT_GLOB):
            with contextlib.suppress(FileNotFoundError):
                report.unlink()

    def worker_pids(self) -> list[int]:
        return [p.pid for p in list(self.processes) if p.pid is not None]

    def started_workers(self) -> dict[int, Mapping[str, Any]]:
        """Each worker that can take a SIGHUP, with its latest report."""
        started: dict[int, Mapping[str, Any]] = {}
        for pid in self.worker_pids():
            report = read_result(self.data_dir, worker_result_file(pid))
            if report is not None and report.get("pid") == pid:
                started[pid] = report
        return started

    # uvicorn calls handle_<signal name> from its main loop, twice a second.
    def handle_hup(self) -> None:
        log.info("supervisor.sighup", workers=len(self.processes))
        thread = threading.Thread(target=self.reload_all, name="kb-reload-all", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()]
        self._threads.append(thread)
        thread.start()

    def handle_usr1(self) -> None:
        for pid in self.started_workers():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGUSR1)

    def reload_all(self) -> dict[str, Any]:
        """Signal every started worker, collect their reports, write the combined one."""
        with self._reloads:
            self._seq += 1
            requested_at = dt.datetime.now(dt.UTC).isoformat()
            before = self.started_workers()
            # ``licensebot kb reload --skip-invalid``: every worker reloads alike.
            requests = take_requests(self.data_dir / REQUEST_DIR)
            for pid in before:
                try:
                    pass_requests(requests, worker_request_dir(self.data_dir, pid))
                except OSError as exc:
                    log.error("kb.reload_request_unpassed", worker=pid, error=str(exc))
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGHUP)
            reports = self._collect(before)
            combined = combine_reports(reports)
            combined.update(
                pid=os.getpid(),
                seq=self._seq,
                request_ids=[str(r.get("id")) for r in requests],
                by=SIGNAL_BY,
                requested_at=requested_at,
                finished_at=dt.datetime.now(dt.UTC).isoformat(),
            )
            try:
                write_json(self.data_dir / RESULT_FILE, combined)
            except OSError as exc:
                log.error("kb.reload_result_unwritten", path=str(self.data_dir), error=str(exc))
            log.info(
                "supervisor.reloaded",
                outcome=combined["outcome"],
                workers=[(w["pid"], w["outcome"]) for w in combined["workers"]],
            )
            return combined

    def _collect(
        self, before: Mapping[int, Mapping[str, Any]]
    ) -> dict[int, Mapping[str, Any] | None]:
        deadline = time.monotonic() + SIGNAL_RELOAD_WAIT_S + REPORT_GRACE_S
        reports: dict[int, Mapping[str, Any] | None] = {}
        while len(reports) < len(before) and time.monotonic() < deadline:
            alive = set(self.worker_pids())
            for pid, old in before.items():
                if pid in reports:
                    continue
                report = read_result(self.data_dir, worker_result_file(pid))
                if report is not None and report.get("seq") != old.get("seq"):
                    reports[pid] = report
                elif pid not in alive:
                    reports[pid] = None  # died (and was replaced) before reporting
            time.sleep(0.05)
        for pid in before:
            reports.setdefault(pid, None)
        return reports

    def join_reloads(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))


def combine_reports(reports: Mapping[int, Mapping[str, Any] | None]) -> dict[str, Any]:
    """One report for every worker, in the shape a single server writes.

    "reloaded" only when every worker reloaded to the same version; otherwise the
    first refusal (with its problems), or else the first other outcome, so that
    ``licensebot kb reload`` exits non-zero unless all of them serve the new version.
    """
    workers = [
        {
            "pid": pid,
            "outcome": (report or {}).get("outcome", "no_report"),
            "serving": (report or {}).get("serving"),
        }
        for pid, report in sorted(reports.items())
    ]
    if not workers:
        return {"outcome": "no_workers", "serving": None, "workers": []}
    given = [r for r in reports.values() if r is not None]
    outcomes = [w["outcome"] for w in workers]
    versions = {w["serving"] for w in workers}
    if set(outcomes) == {"reloaded"} and len(versions) == 1:
        first = dict(given[0])
        first["seconds"] = max(float(r.get("seconds") or 0) for r in given)
        return {**first, "outcome": "reloaded", "workers": workers}
    refused = [r for r in given if r.get("outcome") == "refused"]
    if refused:
        return {**dict(refused[0]), "outcome": "refused", "workers": workers}
    other = next((w for w in workers if w["outcome"] != "reloaded"), workers[0])
    outcome = other["outcome"] if other["outcome"] != "reloaded" else "diverged"
    return {"outcome": outcome, "serving": other["serving"], "workers": workers}
