"""HTTP serving: Starlette + uvicorn in front of the Bolt app, and the Socket Mode runner.

Routes: ``POST /slack/events`` (events, commands and interactivity), ``GET /healthz``
(the process is up) and ``GET /readyz`` (knowledge base loaded, audit trail writable);
with OAuth installs also ``GET /slack/install`` and ``GET /slack/oauth_redirect``.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

import structlog
import uvicorn
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.starlette.handler import (
    SlackRequestHandler,
    to_bolt_request,
    to_starlette_response,
)
from slack_sdk.errors import SlackApiError, SlackClientError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from handlers.common import new_request_id
from handlers.deps import Deps

EVENTS_PATH = "/slack/events"
# Slack's payloads are a few KiB; anything near this is not from Slack.
MAX_BODY_BYTES = 1024 * 1024
# Beyond this many open connections uvicorn answers 503 instead of queueing.
LIMIT_CONCURRENCY = 256
GRACEFUL_SHUTDOWN_S = 10

Readiness = Callable[[], tuple[bool, Mapping[str, Any]]]
Lifespan = Callable[[Starlette], AbstractAsyncContextManager[None]]

log = structlog.get_logger("licensebot.server")


class BodyTooLarge(Exception):
    pass


class SocketModeUnavailable(Exception):
    """The Socket Mode connection could not be opened; the message says why."""


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


# Fields Bolt's middleware reads without checking their type, with the types Slack sends.
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "event": (dict,),
    "actions": (list,),
    "container": (dict,),
    "view": (dict,),
    "message": (dict,),
    "user": (dict, str),
    "channel": (dict, str),
    "team": (dict, str, type(None)),
    "enterprise": (dict, str, type(None)),
    "authorizations": (list,),
}


def shape_problem(body: object) -> str | None:
    """Why a parsed body cannot be a Slack payload, or None when its shape is plausible."""
    if not isinstance(body, dict):
        return "not an object"
    for name, types in _FIELD_TYPES.items():
        if name in body and not isinstance(body[name], types):
            return f"{name} has the wrong type"
    if body.get("type") == "event_callback" and not isinstance(body.get("event"), dict):
        return "event_callback without an event"
    actions = body.get("actions")
    if isinstance(actions, list) and not all(isinstance(a, dict) for a in actions):
        return "actions are not objects"
    return None


class ThreadedSlackRequestHandler(SlackRequestHandler):
    """Bolt's Starlette adapter with ``App.dispatch`` moved off the event loop.

    The stock handler calls the blocking dispatch inside the coroutine, so a command
    waiting for its ack would stall every other request. Bodies that cannot be parsed
    are answered 400 here rather than 500 from inside Bolt.
    """

    async def handle(
        self, req: Request, addition_context_properties: dict[str, Any] | None = None
    ) -> Response:
        received_at = time.monotonic()
        if req.method == "GET" and self.app.oauth_flow is not None:
            return await self.handle_oauth(req)
        if req.method != "POST":
            return PlainTextResponse("method not allowed", status_code=405)
        try:
            body = await read_body(req)
        except BodyTooLarge:
            log.warning("request.too_large", path=req.url.path)
            return PlainTextResponse("request body too large", status_code=413)
        props: dict[str, Any] = {"request_id": new_request_id(), "received_at": received_at}
        props.update(addition_context_properties or {})
        try:
            bolt_request = to_bolt_request(req, body, props)
            problem = shape_problem(bolt_request.body)
        except Exception as exc:
            # Parsing untrusted input: any failure here is the client's.
            problem = type(exc).__name__
        if problem is not None:
            log.warning("request.malformed", path=req.url.path, problem=problem)
            return PlainTextResponse("malformed request body", status_code=400)
        bolt_response = await run_in_threadpool(self.app.dispatch, bolt_request)
        return to_starlette_response(bolt_response)

    async def handle_oauth(self, req: Request) -> Response:
        """``GET /slack/install`` and ``/slack/oauth_redirect`` (Bolt's OAuth flow): both
        touch the state and installation stores, the callback calls ``oauth.v2.access``."""
        flow = self.app.oauth_flow
        assert flow is not None
        if req.url.path == flow.install_path:
            step = flow.handle_installation
        elif req.url.path == flow.redirect_uri_path:
            step = flow.handle_callback
        else:
            return PlainTextResponse("not found", status_code=404)
        try:
            bolt_response = await run_in_threadpool(step, to_bolt_request(req, b""))
        except Exception as exc:
            # A store that cannot be reached: the installer may simply try again.
            log.error("oauth.failed", path=req.url.path, error=f"{type(exc).__name__}: {exc}")
            return PlainTextResponse(
                "The installation could not be completed right now. Please try again.",
                status_code=503,
            )
        return to_starlette_response(bolt_response)


def deps_readiness(deps: Deps) -> Readiness:
    """Ready when the knowledge base has passages and the audit trail can be written."""

    def check() -> tuple[bool, Mapping[str, Any]]:
        try:
            snapshot = deps.kb.snapshot
            kb: dict[str, Any] = {
                "ok": len(snapshot.passages) > 0,
                "kb_version": snapshot.kb_version,
                "articles": len(snapshot.articles),
                "passages": len(snapshot.passages),
            }
        except Exception as exc:
            kb = {"ok": False, "error": type(exc).__name__}
        probe = getattr(deps.audit, "probe", None)
        # An unhealthy trail re-checks itself in probe(); a trail without it is taken at its word.
        audit_ok = bool(probe()) if callable(probe) else bool(getattr(deps.audit, "healthy", True))
        return kb["ok"] and audit_ok, {"kb": kb, "audit": {"ok": audit_ok}}

    return check


def build_asgi_app(
    bolt_app: App | None,
    readiness: Readiness,
    *,
    lifespan: Lifespan | None = None,
) -> Starlette:
    """The ASGI app; ``bolt_app=None`` serves only the health routes (Socket Mode).

    An app with Bolt's OAuth flow also serves ``GET /slack/install`` and
    ``GET /slack/oauth_redirect``. ``lifespan`` runs around serving (workers).
    """

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        ready, details = await run_in_threadpool(readiness)
        return JSONResponse(
            {"status": "ready" if ready else "not ready", **details},
            status_code=200 if ready else 503,
        )

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]
    if bolt_app is not None:
        handler = ThreadedSlackRequestHandler(bolt_app)

        async def events(request: Request) -> Response:
            return await handler.handle(request)

        routes.append(Route(EVENTS_PATH, events, methods=["POST"]))
        flow = bolt_app.oauth_flow
        if flow is not None:
            routes += [
                Route(path, events, methods=["GET"])
                for path in (flow.install_path, flow.redirect_uri_path)
            ]
    return Starlette(routes=routes, lifespan=lifespan)


def uvicorn_config(
    asgi_app: Starlette | str, *, host: str, port: int, **options: Any
) -> uvicorn.Config:
    """uvicorn's configuration for every way of serving; ``options`` add to it (workers:
    an import string for the app factory, ``workers=N``, ``lifespan="on"``)."""
    settings: dict[str, Any] = {
        # None: uvicorn's loggers propagate to the root handler set up by bot.logging.
        "log_config": None,
        "lifespan": "off",
        "server_header": False,
        "limit_concurrency": LIMIT_CONCURRENCY,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_S,
    }
    return uvicorn.Config(asgi_app, host=host, port=port, **{**settings, **options})


def serve_http(asgi_app: Starlette, *, host: str, port: int) -> None:
    """Serve until SIGINT/SIGTERM; both shut down gracefully.

    After its graceful shutdown uvicorn re-raises the signal it caught to the handler
    that was installed before it ran. For SIGTERM that is a no-op installed here, so
    a stop requested by the supervisor returns normally (exit 0, cleanup runs);
    SIGINT still ends in KeyboardInterrupt.
    """
    log.info("server.starting", host=host, port=port, path=EVENTS_PATH)
    server = uvicorn.Server(uvicorn_config(asgi_app, host=host, port=port))
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _note_sigterm) if in_main else None
    try:
        server.run()
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)
    log.info("server.stopped")


def _note_sigterm(signum: int, _frame: object) -> None:
    log.info("server.sigterm", signal=signum)


def serve_socket_mode(
    bolt_app: App, app_token: str, health: Starlette, *, host: str, port: int
) -> None:
    """Socket Mode for Slack traffic; the health routes still listen on ``host:port``."""
    handler = SocketModeHandler(bolt_app, app_token=app_token)
    try:
        handler.connect()  # type: ignore[no-untyped-call]
    except SlackApiError as exc:
        # e.g. invalid_auth, or not_allowed_token_type for an xoxb- token given as app token.
        raise SocketModeUnavailable(str(exc.response.get("error") or exc)) from None
    except (SlackClientError, OSError) as exc:
        raise SocketModeUnavailable(f"{type(exc).__name__}: {exc}") from None
    log.info("socket_mode.connected")
    try:
        serve_http(health, host=host, port=port)
    finally:
        handler.close()  # type: ignore[no-untyped-call]
        log.info("socket_mode.closed")


class BackgroundServer:
    """uvicorn on a loopback port in a thread: for tests and benchmarks.

    ``with BackgroundServer(app) as server:`` binds ``127.0.0.1:0``, waits until the
    server accepts connections and stops it (with the thread) on exit.
    """

    def __init__(self, asgi_app: Starlette, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.host = host
        self.port: int = self._sock.getsockname()[1]
        self._server = uvicorn.Server(uvicorn_config(asgi_app, host=host, port=self.port))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, name="uvicorn", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the HTTP server did not start")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._sock.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
