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
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, contextmanager
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
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.app import LicenseBotApp
from bot.dedupe import event_id_of
from bot.delivery.ack_receipt import AckReceiptMiddleware
from bot.http.payloads import shape_problem
from bot.http.protocol import deadline_protocol
from bot.http.signature import VERIFIED, RequestSigner
from handlers.deps import Deps
from handlers.requests import new_request_id

EVENTS_PATH = "/slack/events"
# Slack's payloads are a few KiB; anything near this is not from Slack.
MAX_BODY_BYTES = 1024 * 1024
# Beyond this many requests being handled at once the server answers 503 instead of
# queueing. Only requests that have fully arrived count, so idle sockets cannot use it up.
LIMIT_CONCURRENCY = 256
# A connection must deliver a whole request this soon after opening (or after its previous
# response); Slack's own requests arrive in milliseconds and must be answered within 3 s.
REQUEST_TIMEOUT_S = 5.0
# Connections waiting for a whole request at once; a new one closes the longest-waiting.
MAX_WAITING_CONNECTIONS = 512
GRACEFUL_SHUTDOWN_S = 10
# `serve --workers`: uvicorn sends its configuration to each worker process, which cannot
# carry a class made at run time; the worker imports this one by name instead (and gets
# its own registry of waiting connections, one per process).
WORKER_PROTOCOL = deadline_protocol(REQUEST_TIMEOUT_S, MAX_WAITING_CONNECTIONS)
WORKER_PROTOCOL_PATH = "bot.server:WORKER_PROTOCOL"

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


class Admission:
    """How many requests are being handled; refuses one beyond the limit.

    Used only from the event loop, so a plain counter is enough.
    """

    def __init__(self, limit: int = LIMIT_CONCURRENCY) -> None:
        self.limit = limit
        self.active = 0

    @contextmanager
    def slot(self) -> Iterator[bool]:
        """``with admission.slot() as admitted:`` — False when the server is full."""
        if self.active >= self.limit:
            yield False
            return
        self.active += 1
        try:
            yield True
        finally:
            self.active -= 1


def _busy(path: str, client: str | None) -> Response:
    log.warning("request.busy", path=path, client=client)
    return PlainTextResponse("server busy", status_code=503, headers={"Retry-After": "1"})


def client_address(request: Request) -> str | None:
    client = request.client
    return f"{client.host}:{client.port}" if client is not None else None


class ThreadedSlackRequestHandler(SlackRequestHandler):
    """Bolt's Starlette adapter, with the signature checked first and dispatch off the loop.

    A request that fails Slack's v0 signature check is answered 401 here and reaches
    nothing else: no Bolt middleware, listener or error handler sees its body, and it is
    logged as one line without it. Signed bodies that cannot be parsed, or are not shaped
    like a Slack payload, are answered 400 rather than failing inside Bolt. An Events API
    delivery is then acknowledged here and dispatched to Bolt after (``bot.delivery.intake``);
    everything else goes through the blocking ``App.dispatch`` in a worker thread, so a
    command waiting for its ack does not stall other requests.
    """

    def __init__(self, app: LicenseBotApp, admission: Admission | None = None) -> None:
        super().__init__(app)
        self.signer = RequestSigner(app.signing_secret)
        self.admission = admission or Admission()
        self.intake = app.event_intake

    async def handle(
        self, req: Request, addition_context_properties: dict[str, Any] | None = None
    ) -> Response:
        received_at = time.monotonic()
        if req.method == "GET" and self.app.oauth_flow is not None:
            return await self.handle_oauth(req)
        if req.method != "POST":
            return PlainTextResponse("method not allowed", status_code=405)
        client = client_address(req)
        try:
            body = await read_body(req)
        except BodyTooLarge:
            declared = req.headers.get("content-length")
            log.warning("request.too_large", client=client, declared=declared and declared[:20])
            return PlainTextResponse("request body too large", status_code=413)
        except ClientDisconnect:
            log.info("request.incomplete", client=client)
            return PlainTextResponse("incomplete request", status_code=400)
        refused = self.signer.problem(req.headers, body)
        if refused is not None:
            log.warning("request.refused", reason=refused, size=len(body), client=client)
            return PlainTextResponse("invalid request signature", status_code=401)
        props: dict[str, Any] = {
            "request_id": new_request_id(),
            "received_at": received_at,
            VERIFIED: True,
        }
        props.update(addition_context_properties or {})
        try:
            bolt_request = to_bolt_request(req, body, props)
            problem = shape_problem(bolt_request.body)
        except Exception as exc:
            # Parsing input from outside: any failure here is the client's.
            problem = type(exc).__name__
        if problem is not None:
            log.warning("request.malformed", problem=problem, size=len(body), client=client)
            return PlainTextResponse("malformed request body", status_code=400)
        intake = self.intake
        with self.admission.slot() as admitted:
            if not admitted:
                return _busy(req.url.path, client)
            event_id = event_id_of(bolt_request.body) if intake is not None else None
            if intake is not None and event_id is not None:
                # Acknowledged here, dispatched to Bolt after (bot.delivery.intake); on the
                # loop itself when the claim cannot wait (each thread hand-off is a wait
                # for the GIL while answers are being composed).
                if intake.claims_wait:
                    bolt_response = await run_in_threadpool(intake.accept, bolt_request, event_id)
                else:
                    bolt_response = intake.accept(bolt_request, event_id)
            else:
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
    bolt_app: LicenseBotApp | None,
    readiness: Readiness,
    *,
    lifespan: Lifespan | None = None,
) -> Starlette:
    """The ASGI app; ``bolt_app=None`` serves only the health routes (Socket Mode).

    An app with Bolt's OAuth flow also serves ``GET /slack/install`` and
    ``GET /slack/oauth_redirect``. ``lifespan`` runs around serving (workers).
    ``/healthz`` is outside the admission limit: it answers from the event loop, and a
    liveness probe failing under load would only get a busy process restarted.
    """
    admission = Admission()

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        with admission.slot() as admitted:
            if not admitted:
                return _busy(request.url.path, client_address(request))
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
        handler = ThreadedSlackRequestHandler(bolt_app, admission)

        async def events(request: Request) -> Response:
            return await handler.handle(request)

        routes.append(Route(EVENTS_PATH, events, methods=["POST"]))
        flow = bolt_app.oauth_flow
        if flow is not None:
            routes += [
                Route(path, events, methods=["GET"])
                for path in (flow.install_path, flow.redirect_uri_path)
            ]
    # Tells a command's listener whether its ack was sent in time (bot.delivery.ack_receipt).
    return Starlette(
        routes=routes, middleware=[Middleware(AckReceiptMiddleware)], lifespan=lifespan
    )


def uvicorn_config(
    asgi_app: Starlette | str,
    *,
    host: str,
    port: int,
    request_timeout: float = REQUEST_TIMEOUT_S,
    max_waiting: int = MAX_WAITING_CONNECTIONS,
    **options: Any,
) -> uvicorn.Config:
    """uvicorn's configuration for every way of serving; ``options`` add to it or replace
    (workers: the app factory's import string, ``workers=N``, ``lifespan="on"`` and the
    protocol by name, ``WORKER_PROTOCOL``)."""
    settings: dict[str, Any] = {
        # None: uvicorn's loggers propagate to the root handler set up by bot.logging.
        "log_config": None,
        "lifespan": "off",
        "server_header": False,
        # Not uvicorn's limit_concurrency: it counts open connections, idle ones included,
        # so sockets that never send a request locked everyone out with 503s. Admission
        # counts requests instead, and the protocol closes connections that stall.
        "http": deadline_protocol(request_timeout, max_waiting),
        "ws": "none",
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
    server accepts connections and stops it (with the thread) on exit. ``config`` goes
    to ``uvicorn_config`` (tests shorten the request timeout).
    """

    def __init__(
        self, asgi_app: Starlette, *, host: str = "127.0.0.1", port: int = 0, **config: Any
    ) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.host = host
        self.port: int = self._sock.getsockname()[1]
        self._server = uvicorn.Server(uvicorn_config(asgi_app, host=host, port=self.port, **config))
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
