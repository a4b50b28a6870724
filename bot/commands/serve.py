"""``licensebot serve [--socket-mode] [--workers N]``: the Slack app in production."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import structlog
from slack_bolt.error import BoltError
from slack_sdk.errors import SlackClientError

from bot.commands.common import add_kb_option, open_kb, settings_for
from bot.kb_sync import kb_channel
from bot.logging import configure_logging
from bot.reloaders import kb_maintenance
from bot.runtime import InstallsUnavailable, open_runtime
from bot.server import (
    SocketModeUnavailable,
    build_asgi_app,
    serve_http,
    serve_socket_mode,
)
from bot.settings import MAX_WORKERS, Settings, SettingsError
from bot.workers import serve_workers

CONNECT_SLACK = (
    "to connect Slack, create an app from manifest.yml (api.slack.com/apps → Create New App → "
    "From a manifest), install it and set {vars} in the environment or .env "
    "(`licensebot start` answers in the terminal meanwhile)"
)

log = structlog.get_logger("licensebot.serve")


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "serve",
        help="serve the Slack app (HTTP on LICENSEBOT_HOST:LICENSEBOT_PORT, or Socket Mode)",
        description=(
            "Serve the Slack app. HTTP mode (default) listens on LICENSEBOT_HOST:LICENSEBOT_PORT "
            "with POST /slack/events, GET /healthz and GET /readyz; needs SLACK_SIGNING_SECRET "
            "and SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET "
            "(installs through GET /slack/install). --socket-mode connects out to Slack "
            "instead (SLACK_BOT_TOKEN and SLACK_APP_TOKEN) and keeps only the health routes "
            "on HTTP."
        ),
    )
    parser.add_argument(
        "--socket-mode", action="store_true", help="use Socket Mode (needs SLACK_APP_TOKEN)"
    )
    parser.add_argument(
        "--workers",
        type=_worker_count,
        default=None,
        metavar="N",
        help="worker processes on the one port (default: LICENSEBOT_WORKERS, 1); HTTP mode",
    )
    add_kb_option(parser)
    parser.set_defaults(func=run)


def _worker_count(value: str) -> int:
    try:
        count = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 1 <= count <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_WORKERS}")
    return count


def missing_credentials(settings: Settings, *, socket_mode: bool) -> list[str]:
    if socket_mode:
        wanted = {
            "SLACK_BOT_TOKEN": settings.slack_bot_token,
            "SLACK_APP_TOKEN": settings.slack_app_token,
        }
    elif settings.oauth_enabled:
        wanted = {"SLACK_SIGNING_SECRET": settings.slack_signing_secret}
    else:
        wanted = {
            "SLACK_BOT_TOKEN": settings.slack_bot_token,
            "SLACK_SIGNING_SECRET": settings.slack_signing_secret,
        }
    return [
        name
        for name, value in wanted.items()
        if value is None or not value.get_secret_value().strip()
    ]


def run(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    workers = args.workers if args.workers is not None else settings.workers
    return run_from_settings(settings, socket_mode=bool(args.socket_mode), workers=workers)


def run_from_settings(settings: Settings, *, socket_mode: bool = False, workers: int = 1) -> int:
    """Serve until stopped; the exit code. Raises ``SettingsError`` for missing credentials."""
    missing = missing_credentials(settings, socket_mode=socket_mode)
    if missing:
        names = ", ".join(missing)
        raise SettingsError(
            f"missing {names}: " + CONNECT_SLACK.format(vars=" and ".join(missing_all(socket_mode)))
        )
    if socket_mode and settings.oauth_enabled:
        raise SettingsError(
            "--socket-mode serves the one workspace of SLACK_BOT_TOKEN; OAuth installs "
            "(SLACK_CLIENT_ID) need HTTP mode"
        )
    if socket_mode and workers > 1:
        raise SettingsError(
            "--workers is for HTTP mode; for several Socket Mode connections run several "
            "`licensebot serve --socket-mode` processes (see docs/deploy.md)"
        )
    configure_logging(settings.log_level, settings.log_format, secrets=settings.secret_values)
    if workers > 1:
        return serve_workers(settings, workers)
    kb = open_kb(settings)
    if kb is None:
        return 1
    try:
        runtime = open_runtime(settings, kb, verify_token=True)
    except BoltError as exc:
        print(f"licensebot: Slack rejected SLACK_BOT_TOKEN ({exc})", file=sys.stderr)
        return 2
    except (SlackClientError, OSError) as exc:
        print(
            f"licensebot: cannot reach Slack at {settings.slack_api_url} "
            f"({type(exc).__name__}: {exc})",
            file=sys.stderr,
        )
        return 1
    except InstallsUnavailable as exc:
        print(f"licensebot: cannot open the installation store ({exc})", file=sys.stderr)
        return 1
    try:
        readiness = runtime.readiness()
        # Pid file, SIGHUP reloads, directory polling and peers while the server runs.
        answerer = None if socket_mode else runtime.start_answerer()
        with kb_maintenance(
            settings, kb, runtime.audit, channel=kb_channel(settings), answerer=answerer
        ):
            if not socket_mode:
                serve_http(
                    build_asgi_app(runtime.app, readiness), host=settings.host, port=settings.port
                )
                return 0
            assert settings.slack_app_token is not None
            try:
                serve_socket_mode(
                    runtime.app,
                    settings.slack_app_token.get_secret_value(),
                    build_asgi_app(None, readiness),
                    host=settings.host,
                    port=settings.port,
                )
            except SocketModeUnavailable as exc:
                print(f"licensebot: cannot open a Socket Mode connection ({exc})", file=sys.stderr)
                return 1
    finally:
        runtime.close()
    return 0


def missing_all(socket_mode: bool) -> list[str]:
    return ["SLACK_BOT_TOKEN", "SLACK_APP_TOKEN" if socket_mode else "SLACK_SIGNING_SECRET"]
