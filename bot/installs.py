"""Many workspaces: Bolt's OAuth flow over slack_sdk's SQLAlchemy installation and state stores.

With ``SLACK_CLIENT_ID`` and ``SLACK_CLIENT_SECRET`` the bot has no token of its own:
``GET /slack/install`` offers "Add to Slack", ``GET /slack/oauth_redirect`` exchanges the
code (``oauth.v2.access``) and stores the installation, and each request is answered
with the token of the workspace it came from. Tokens that expire (token rotation) are
refreshed through the same ``oauth.v2.access`` before they do.

The stores live in one database: SQLite under ``LICENSEBOT_DATA_DIR`` by default (the
workers of one host share it), PostgreSQL at ``LICENSEBOT_DATABASE_URL`` when given
(every replica shares it, beside the audit table). Tables are created on first start,
under a lock so replicas starting together do not race. Imported only with OAuth
installs: SQLAlchemy costs every other command start-up time (``bot.audit.backend``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy
import structlog
from slack_bolt import BoltResponse
from slack_bolt.authorization.authorize import InstallationStoreAuthorize
from slack_bolt.oauth.callback_options import CallbackOptions, FailureArgs, SuccessArgs
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy.engine import Engine

from bot.audit.postgres import CONNECT_TIMEOUT_S, describe, display_url, driver_url
from bot.runtime import InstallsUnavailable
from bot.settings import Settings
from bot.stores.sqlite import retry_while_busy
from handlers.deps import Auditor, AuditUnavailable

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
SQLITE_FILE = "installations.sqlite3"
# How long a connection waits for another worker's write before giving up.
SQLITE_TIMEOUT_S = 10.0
# How long an "Add to Slack" link stays valid (Bolt's default).
STATE_EXPIRATION_S = 600
# Refresh a rotating token this long before it expires (Bolt's default: 2 hours).
TOKEN_ROTATION_MINUTES = 120
# One key for "creating the OAuth tables" among everything sharing the database.
_PG_LOCK_KEY = 0x6C62_6F61  # "lboa"
_CREATE_TRIES = 5

log = structlog.get_logger("licensebot.installs")


def store_url(settings: Settings) -> str:
    """The SQLAlchemy URL of the stores: PostgreSQL (psycopg 3) when given, else SQLite."""
    if settings.database_url is not None:
        return driver_url(settings.database_url.get_secret_value())
    return f"sqlite:///{(settings.data_dir / SQLITE_FILE).resolve()}"


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = sqlalchemy.create_engine(url, connect_args={"timeout": SQLITE_TIMEOUT_S})

        @sqlalchemy.event.listens_for(engine, "connect")
        def _wal(dbapi_connection: Any, _record: Any) -> None:
            # Several workers read installations while one is saved.
            retry_while_busy(
                lambda: dbapi_connection.execute("PRAGMA journal_mode=WAL"), SQLITE_TIMEOUT_S
            )

        return engine
    return sqlalchemy.create_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S},
    )


@dataclass
class Installs:
    """The installation and state stores, and the OAuth settings Bolt is given."""

    installation_store: SQLAlchemyInstallationStore
    state_store: SQLAlchemyOAuthStateStore
    engine: Engine
    backend: str

    def close(self) -> None:
        self.engine.dispose()


def open_installs(settings: Settings) -> Installs:
    """Connect and make sure the tables exist; ``InstallsUnavailable`` (a line saying
    why, without the password) when the database cannot be used."""
    if settings.slack_client_id is None:
        raise ValueError("OAuth installs need SLACK_CLIENT_ID")
    url = store_url(settings)
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = _engine(url)
    installations = SQLAlchemyInstallationStore(client_id=settings.slack_client_id, engine=engine)
    states = SQLAlchemyOAuthStateStore(expiration_seconds=STATE_EXPIRATION_S, engine=engine)
    postgres = engine.dialect.name == "postgresql"
    backend = display_url(url) if postgres else f"sqlite:{settings.data_dir / SQLITE_FILE}"
    try:
        _create_tables(engine, [installations.metadata, states.metadata])
    except sqlalchemy.exc.SQLAlchemyError as exc:
        engine.dispose()
        raise InstallsUnavailable(f"{backend}: {describe(exc)}") from None
    log.info("installs.store", backend=backend)
    return Installs(installations, states, engine, backend)


def _create_tables(engine: Engine, metadatas: list[sqlalchemy.MetaData]) -> None:
    for attempt in range(_CREATE_TRIES):
        try:
            with engine.begin() as conn:
                if engine.dialect.name == "postgresql":
                    conn.execute(
                        sqlalchemy.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY}
                    )
                for metadata in metadatas:
                    metadata.create_all(conn)
            return
        except sqlalchemy.exc.OperationalError as exc:
            # SQLite: another worker created a table between our check and our CREATE,
            # or holds the new file's lock while it does.
            raced = "already exists" in str(exc) or "locked" in str(exc)
            if not raced or attempt == _CREATE_TRIES - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


def oauth_settings(settings: Settings, installs: Installs, audit: Auditor | None) -> OAuthSettings:
    """Bolt's OAuth settings: our stores, paths and scopes; installs are audited."""
    assert settings.slack_client_id is not None and settings.slack_client_secret is not None
    return OAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret.get_secret_value(),
        scopes=list(settings.slack_scopes),
        user_scopes=[],
        redirect_uri=settings.slack_redirect_uri,
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        installation_store=installs.installation_store,
        state_store=installs.state_store,
        state_expiration_seconds=STATE_EXPIRATION_S,
        token_rotation_expiration_minutes=TOKEN_ROTATION_MINUTES,
        callback_options=CallbackOptions(success=_on_installed(audit), failure=_on_install_failed),
    )


def authorize(
    settings: Settings, installs: Installs, client: WebClient
) -> InstallationStoreAuthorize:
    """Finds the workspace's token (refreshing it if it expires soon) through ``client``,
    so token rotation reaches ``SLACK_API_URL`` like every other call. ``auth.test`` is
    asked once per token and process, not on every request."""
    assert settings.slack_client_id is not None and settings.slack_client_secret is not None
    return InstallationStoreAuthorize(
        logger=logging.getLogger("slack_bolt.installs"),
        installation_store=installs.installation_store,
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret.get_secret_value(),
        token_rotation_expiration_minutes=TOKEN_ROTATION_MINUTES,
        cache_enabled=True,
        client=client,
    )


def install_fields(installation: Any) -> dict[str, Any]:
    """What the audit trail keeps of an installation: who, where, which scopes (no token)."""
    return {
        "team": installation.team_id,
        "team_name": installation.team_name,
        "enterprise": installation.enterprise_id,
        "user": installation.user_id,
        "bot_user_id": installation.bot_user_id,
        "scopes": sorted(s for s in (installation.bot_scopes or []) if s),
        "token_rotation": installation.bot_refresh_token is not None,
    }


def _on_installed(audit: Auditor | None) -> Any:
    def success(args: SuccessArgs) -> BoltResponse:
        fields = install_fields(args.installation)
        log.info("app.installed", **fields)
        if audit is not None:
            try:
                audit.record("app.installed", **fields)
            except AuditUnavailable as exc:
                # The installation is saved already; say so in the log, keep the page.
                log.error("audit.install_unrecorded", error=str(exc), **fields)
        return args.default.success(args)

    return success


def _on_install_failed(args: FailureArgs) -> BoltResponse:
    log.warning(
        "app.install_failed",
        reason=args.reason,
        error=repr(args.error) if args.error is not None else None,
    )
    return args.default.failure(args)
