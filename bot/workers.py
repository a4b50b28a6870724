"""``licensebot serve --workers N``: N uvicorn worker processes on one port.

The command (``serve_workers``) checks once what every worker would otherwise fail on
(settings, the knowledge base, Slack accepting the token), writes the pid file and runs
the supervisor (``bot.supervisor``). uvicorn starts each worker from the import string
``bot.workers:worker_app``, an app factory: the worker builds its own settings, knowledge
base, audit trail and Bolt app (``bot.runtime``) and, through the ASGI lifespan, takes
SIGHUP, polls the directory and closes its stores when it stops.

What the workers share is what must stay single: the event dedupe (SQLite under
``LICENSEBOT_DATA_DIR``, or Redis), the audit trail (the file's ``flock`` or the
database) and the installation store. Settings reach the workers through the
environment (``LICENSEBOT_WORKERS``, and ``LICENSEBOT_KB_DIR`` for ``--kb``), with
``LICENSEBOT_WORKER_OF`` naming the supervisor: an internal variable, not a setting.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import AsyncIterator, Mapping
from typing import Any

import structlog
from slack_sdk.errors import SlackApiError, SlackClientError
from starlette.applications import Starlette
from uvicorn.config import STARTUP_FAILURE

from bot.delivery.client import build_web_client
from bot.kb_sync import kb_channel
from bot.logging import configure_logging
from bot.reloaders import kb_maintenance, remove_pid_file, write_pid_file
from bot.runtime import InstallsUnavailable, open_runtime
from bot.server import WORKER_PROTOCOL_PATH, build_asgi_app, uvicorn_config
from bot.settings import Settings, load_settings
from bot.supervisor import Supervisor
from knowledge.service import KnowledgeBase, bundled_kb_dir, check_kb_dir

WORKER_OF_ENV = "LICENSEBOT_WORKER_OF"
APP_FACTORY = "bot.workers:worker_app"
# The supervisor waits this long after its workers stop for reload reports in flight.
REPORTS_DRAIN_S = 5.0

log = structlog.get_logger("licensebot.workers")


class PreflightFailed(Exception):
    """What every worker would fail on; the message is one line, the exit code attached."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def preflight(settings: Settings) -> None:
    """Fail once here rather than N times in the workers."""
    kb_dir = settings.kb_dir or bundled_kb_dir()
    problems = check_kb_dir(kb_dir)
    if problems:
        lines = "\n".join(f"  {p}" for p in problems)
        raise PreflightFailed(f"the knowledge base cannot be loaded:\n{lines}", 1)
    if settings.oauth_enabled:
        from bot.installs import open_installs  # noqa: PLC0415  (SQLAlchemy: see there)

        try:
            open_installs(settings).close()  # creates the tables once, before the workers
        except InstallsUnavailable as exc:
            raise PreflightFailed(f"cannot open the installation store ({exc})", 1) from None
        return
    try:
        build_web_client(settings).auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error") or "rejected"
        raise PreflightFailed(f"Slack rejected SLACK_BOT_TOKEN ({error})", 2) from None
    except (SlackClientError, OSError) as exc:
        raise PreflightFailed(
            f"cannot reach Slack at {settings.slack_api_url} ({type(exc).__name__}: {exc})", 1
        ) from None


def serve_workers(settings: Settings, workers: int) -> int:
    """Serve with ``workers`` processes until SIGINT/SIGTERM; the exit code."""
    try:
        preflight(settings)
    except PreflightFailed as exc:
        print(f"licensebot: {exc}", file=sys.stderr)
        return exc.code
    os.environ[WORKER_OF_ENV] = str(os.getpid())
    os.environ["LICENSEBOT_WORKERS"] = str(workers)
    if settings.kb_dir is not None:
        os.environ["LICENSEBOT_KB_DIR"] = str(settings.kb_dir.resolve())
    config = uvicorn_config(
        APP_FACTORY,
        host=settings.host,
        port=settings.port,
        factory=True,
        workers=workers,
        lifespan="on",
        http=WORKER_PROTOCOL_PATH,
    )
    try:
        sock = config.bind_socket()
    except SystemExit:
        # uvicorn has logged why (address in use, permission).
        print(f"licensebot: cannot listen on {settings.host}:{settings.port}", file=sys.stderr)
        return 1
    kb_dir = settings.kb_dir or bundled_kb_dir()
    pid_path = write_pid_file(settings.data_dir, kb_dir, workers=workers)
    supervisor = Supervisor(config, [sock], data_dir=settings.data_dir)
    log.info("server.starting", host=settings.host, port=settings.port, workers=workers)
    try:
        supervisor.run()
    finally:
        supervisor.join_reloads(REPORTS_DRAIN_S)
        supervisor.forget_reports()
        remove_pid_file(pid_path)
        sock.close()
    failed = [p.pid for p in supervisor.processes if p.exitcode == STARTUP_FAILURE]
    if failed:
        print("licensebot: a worker could not start (see its log lines)", file=sys.stderr)
        return 1
    log.info("server.stopped", workers=workers)
    return 0


def worker_app() -> Starlette:
    """The app factory uvicorn calls in each worker process."""
    try:
        return _build_worker(int(os.environ[WORKER_OF_ENV]))
    except Exception as exc:
        # Exit as uvicorn's own startup failures do: the supervisor then stops instead of
        # starting the same failure again and again.
        log.exception("worker.startup_failed", error=f"{type(exc).__name__}: {exc}")
        sys.exit(STARTUP_FAILURE)


def _build_worker(supervisor_pid: int) -> Starlette:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format, fields={"worker_pid": os.getpid()})
    kb = KnowledgeBase.load(settings.kb_dir, data_dir=settings.data_dir)
    runtime = open_runtime(settings, kb, workers=settings.workers, verify_token=False)
    serving = {"ready": False}
    base = runtime.readiness()

    def readiness() -> tuple[bool, Mapping[str, Any]]:
        ready, details = base()
        worker = {"pid": os.getpid(), "serving": serving["ready"]}
        return ready and serving["ready"], {**details, "worker": worker}

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            with kb_maintenance(
                settings,
                kb,
                runtime.audit,
                channel=kb_channel(settings, supervisor_pid=supervisor_pid),
                supervisor_pid=supervisor_pid,
                answerer=runtime.start_answerer({"worker_pid": os.getpid()}),
            ):
                serving["ready"] = True
                log.info("worker.ready", kb_version=kb.kb_version)
                try:
                    yield
                finally:
                    serving["ready"] = False
        finally:
            runtime.close()
            log.info("worker.stopped")

    return build_asgi_app(runtime.app, readiness, lifespan=lifespan)
