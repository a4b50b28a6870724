"""All configuration, read once from the environment (or ``.env``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.stores.redis_url import check_redis_url

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
MAX_WORKERS = 64
# The bot scopes of manifest.yml (tests/bot/test_manifest.py keeps the two in step).
DEFAULT_SLACK_SCOPES = (
    "app_mentions:read",
    "chat:write",
    "commands",
    "im:history",
    "channels:history",
    "groups:history",
    "files:read",
)
# A workspace id, as LICENSEBOT_ADMINS qualifies a user with it.
_TEAM_ID = re.compile(r"T[A-Z0-9]{2,}")
_SCOPE = re.compile(r"[a-z][a-z0-9_.]*(?::[a-z0-9_.]+)*")
# psycopg 3 is the driver whichever of these is given.
DATABASE_SCHEMES = frozenset({"postgresql", "postgres", "postgresql+psycopg"})


class SettingsError(Exception):
    """A missing or malformed setting; the message is one line naming the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        populate_by_name=True,
    )

    slack_bot_token: SecretStr | None = Field(None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, validation_alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(None, validation_alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field(DEFAULT_SLACK_API_URL, validation_alias="SLACK_API_URL")
    # Many workspaces: Bolt's OAuth flow installs the app (instead of SLACK_BOT_TOKEN).
    slack_client_id: str | None = Field(None, validation_alias="SLACK_CLIENT_ID")
    slack_client_secret: SecretStr | None = Field(None, validation_alias="SLACK_CLIENT_SECRET")
    slack_scopes: Annotated[tuple[str, ...], NoDecode] = Field(
        DEFAULT_SLACK_SCOPES, validation_alias="SLACK_SCOPES"
    )
    # Only needed when the app has several redirect URLs; None: the one configured at Slack.
    slack_redirect_uri: str | None = Field(None, validation_alias="SLACK_REDIRECT_URI")

    host: str = Field("127.0.0.1", validation_alias="LICENSEBOT_HOST")
    port: int = Field(3000, ge=1, le=65535, validation_alias="LICENSEBOT_PORT")
    # uvicorn worker processes of `licensebot serve` on this host (--workers wins).
    workers: int = Field(1, ge=1, le=MAX_WORKERS, validation_alias="LICENSEBOT_WORKERS")
    # `serve` over HTTP answers events in a process of its own at this much lower CPU
    # priority (bot.answerer), so that answering never delays acknowledging; off: answer
    # in the serving process.
    answer_process: bool = Field(True, validation_alias="LICENSEBOT_ANSWER_PROCESS")
    answer_nice: int = Field(10, ge=0, le=19, validation_alias="LICENSEBOT_ANSWER_NICE")
    # None means the knowledge base bundled with the package.
    kb_dir: Path | None = Field(None, validation_alias="LICENSEBOT_KB_DIR")
    admins: Annotated[frozenset[str], NoDecode] = Field(
        frozenset(), validation_alias="LICENSEBOT_ADMINS"
    )
    data_dir: Path = Field(Path("var"), validation_alias="LICENSEBOT_DATA_DIR")
    audit_path: Path | None = Field(None, validation_alias="LICENSEBOT_AUDIT_PATH")
    audit_max_bytes: int = Field(
        50 * 1024 * 1024, ge=4096, validation_alias="LICENSEBOT_AUDIT_MAX_BYTES"
    )
    # The audit trail as one PostgreSQL table shared by every replica (bot.audit.postgres);
    # unset: the file trail above.
    database_url: SecretStr | None = Field(None, validation_alias="LICENSEBOT_DATABASE_URL")
    # How often a replica checks the shared knowledge-base directory; 0 turns polling off.
    kb_poll_seconds: float = Field(30.0, ge=0, validation_alias="LICENSEBOT_KB_POLL_SECONDS")
    top_k: int = Field(3, ge=1, le=10, validation_alias="LICENSEBOT_TOP_K")
    dedupe_ttl_seconds: int = Field(3600, ge=1, validation_alias="LICENSEBOT_DEDUPE_TTL_SECONDS")
    # Shared state (event dedupe) for several workers or replicas; None: this host only.
    redis_url: SecretStr | None = Field(None, validation_alias="LICENSEBOT_REDIS_URL")
    redis_key_prefix: str = Field(
        "licensebot:",
        min_length=1,
        max_length=100,
        pattern=r"^[!-~]+$",  # printable ASCII, no spaces
        validation_alias="LICENSEBOT_REDIS_KEY_PREFIX",
    )
    # How long the bot remembers a thread it answered in (for follow-ups without a mention).
    thread_ttl_days: float = Field(
        30.0, gt=0, le=3650, validation_alias="LICENSEBOT_THREAD_TTL_DAYS"
    )
    # The app was created from manifest-agent.yml (Slack's agent messaging experience):
    # direct messages are answered in threads, with a "thinking" status and suggested prompts.
    agent_view: bool = Field(False, validation_alias="LICENSEBOT_AGENT_VIEW")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", validation_alias="LICENSEBOT_LOG_LEVEL"
    )
    log_format: Literal["auto", "json", "console"] = Field(
        "auto", validation_alias="LICENSEBOT_LOG_FORMAT"
    )

    @field_validator("admins", mode="before")
    @classmethod
    def _split_admins(cls, value: object) -> object:
        """``U…`` (a user of the one workspace) or ``T…:U…`` (that user in that workspace)."""
        if isinstance(value, str):
            ids = [part.strip() for part in value.split(",") if part.strip()]
            for entry in ids:
                team, sep, uid = entry.rpartition(":")
                if sep and not _TEAM_ID.fullmatch(team):
                    raise ValueError(f"not a Slack workspace id: {team!r} (in {entry!r})")
                if not uid.isalnum() or not uid[0].isalpha():
                    raise ValueError(f"not a Slack user id: {uid!r}")
            return frozenset(ids)
        return value

    @field_validator("slack_scopes", mode="before")
    @classmethod
    def _split_scopes(cls, value: object) -> object:
        if isinstance(value, str):
            scopes = tuple(part.strip() for part in value.split(",") if part.strip())
            for scope in scopes:
                if not _SCOPE.fullmatch(scope):
                    raise ValueError(f"not a Slack scope: {scope!r}")
            if not scopes:
                raise ValueError("names no scope")
            return scopes
        return value

    @field_validator(
        "slack_bot_token",
        "slack_signing_secret",
        "slack_app_token",
        "slack_client_id",
        "slack_client_secret",
        "slack_redirect_uri",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # `SLACK_BOT_TOKEN=` in a .env file means "not set", not a token.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("slack_redirect_uri")
    @classmethod
    def _redirect_uri(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value

    @model_validator(mode="after")
    def _one_way_to_authorize(self) -> Settings:
        oauth = {
            "SLACK_CLIENT_ID": self.slack_client_id,
            "SLACK_CLIENT_SECRET": self.slack_client_secret,
        }
        given = [name for name, value in oauth.items() if value is not None]
        if len(given) == 1:
            missing = next(name for name in oauth if name not in given)
            raise ValueError(f"{given[0]} is set without {missing} (OAuth installs need both)")
        if given and self.slack_bot_token is not None:
            raise ValueError(
                "set SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET "
                "(installs in many workspaces), not both"
            )
        bare = sorted(a for a in self.admins if ":" not in a)
        if given and bare:
            raise ValueError(
                "LICENSEBOT_ADMINS: with OAuth installs give each admin as WORKSPACE_ID:USER_ID "
                f"(e.g. T0123ABCD:{bare[0]}), not a bare user id"
            )
        return self

    @field_validator("database_url", mode="before")
    @classmethod
    def _database_url(cls, value: object) -> object:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, str):
            if not value.strip():
                return None
            scheme, sep, _rest = value.partition("://")
            if scheme.lower() not in DATABASE_SCHEMES or not sep:
                # Only the scheme is repeated: the rest may hold a password.
                raise ValueError(
                    "must be a PostgreSQL URL (postgresql://user@host:5432/dbname), "
                    f"not {scheme.lower() if sep else 'one without a scheme'}"
                )
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value if value.endswith("/") else value + "/"

    @field_validator("redis_url", mode="before")
    @classmethod
    def _redis_url(cls, value: object) -> object:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, str):
            if not value.strip():
                return None
            check_redis_url(value)
        return value

    @property
    def resolved_audit_path(self) -> Path:
        return self.audit_path if self.audit_path is not None else self.data_dir / "audit.jsonl"

    @property
    def secret_values(self) -> tuple[str, ...]:
        """Every configured secret's value (each ``SecretStr`` setting), for log redaction;
        for a URL (database, Redis), its password too, which a client may log on its own."""
        found: list[str] = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr) and value.get_secret_value():
                found.append(value.get_secret_value())
                try:
                    password = urlsplit(found[-1]).password
                except ValueError:
                    password = None
                if password:
                    found.append(unquote(password))
        return tuple(found)

    @property
    def has_slack_http_credentials(self) -> bool:
        return self.slack_bot_token is not None and self.slack_signing_secret is not None

    @property
    def oauth_enabled(self) -> bool:
        """Installs in many workspaces (Bolt's OAuth flow) rather than one bot token."""
        return self.slack_client_id is not None and self.slack_client_secret is not None


def load_settings(**overrides: object) -> Settings:
    """Build the one Settings object; errors become a single line naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        message = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        if not err.get("loc"):
            # A rule across several settings; its message names them.
            raise SettingsError(f"invalid settings: {message}") from None
        loc = err["loc"]
        name = str(loc[0])
        field = Settings.model_fields.get(name)
        alias = field.validation_alias if field is not None else None
        var = alias if isinstance(alias, str) else name.upper()
        raise SettingsError(f"invalid setting {var}: {message}") from None
