"""One `Settings` object, read once at start-up from `RAPPORT_*` environment variables.

Invalid configuration raises `ConfigError` with a single readable line; the CLI and the
ASGI factory print that line and exit instead of showing a traceback.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from functools import lru_cache
from typing import Self

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, SettingsConfigDict

from backend.crypto import Keyring, keyring

DEV_JWT_SECRET = "rapport-dev-secret-change-me-0123456789abcdef"  # noqa: S105 - the well-known dev value
DEV_SECRETS_KEYS = "dev:2QYXpzGUsWHTmB3jFyKCBdQ2tbWSvOhs0OJSr6Nc3Eg"  # the well-known dev key


class Environment(StrEnum):
    DEV = "dev"
    PROD = "prod"


class ConfigError(Exception):
    """Configuration that cannot run; the message is one line meant for an operator."""


class Settings(BaseSettings):
    # Every field has a description: the README's configuration table is generated from them.
    # Empty variables count as unset, as orchestrators often pass `NAME=` for "not configured".
    model_config = SettingsConfigDict(env_prefix="RAPPORT_", extra="ignore", frozen=True, env_ignore_empty=True)

    environment: Environment = Field(
        default=Environment.DEV,
        description="`dev` or `prod`. Prod refuses the development JWT secret and secrets keys, needs a database URL "
        "and turns GraphiQL and introspection off unless they are enabled explicitly.",
    )

    # Postgres: the owner role runs migrations; the API and workers use the application role,
    # which is not the owner and has no BYPASSRLS, so Row-Level Security applies to it.
    database_url: str | None = Field(
        default=None,
        description="Application role (`rapport_app`) DSN for the API and workers. "
        "Unset: `make run` provisions a project-local Postgres.",
    )
    owner_database_url: str | None = Field(
        default=None,
        description="Owner role (`rapport_owner`) DSN, used only to apply migrations. Unset: `RAPPORT_DATABASE_URL`.",
    )
    db_pool_min: int = Field(default=1, ge=0, le=1000, description="Connections each process keeps open (0 to 1000).")
    db_pool_max: int = Field(
        default=10, ge=1, le=1000, description="Most connections each process opens (1 to 1000); see infra/SCALING.md."
    )
    db_statement_timeout_ms: int = Field(
        default=15_000, ge=0, description="Postgres `statement_timeout` for the application role, in ms (0: none)."
    )

    broker_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        description="Dramatiq broker for background jobs (`python -m backend.cli worker`), `redis://` or `amqp://`.",
    )
    broker_namespace: str = Field(
        default="rapport",
        pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
        description="Prefix of the broker's Redis keys, so several deployments (or test runs) can share one "
        "Redis. RabbitMQ: separate them with the URL's virtual host instead.",
    )
    event_retention_days: int = Field(
        default=7,
        ge=7,
        description="Days the event outbox keeps events (7 at least: webhook retries and replays, subscription "
        "resumes and automation read them); the worker's scheduler prunes older ones hourly.",
    )
    webhook_allowed_hosts: str | None = Field(
        default=None,
        description="Comma-separated host names and CIDRs webhooks may reach although they are private, "
        "loopback, link-local or multicast (e.g. `hooks.internal,10.1.0.0/16`). Unset: only public addresses.",
    )
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, le=60, description="Connect and read timeout of one webhook request, in seconds."
    )
    webhook_max_response_kb: int = Field(
        default=64, ge=1, le=10_240, description="Most of a webhook response's body read (KB); the rest is dropped."
    )
    webhook_min_backoff_seconds: float = Field(
        default=30.0, gt=0, description="Delay before the first retry of a failed webhook delivery; doubles each time."
    )
    webhook_max_backoff_seconds: float = Field(
        default=3600.0, gt=0, description="Longest delay between two attempts of a webhook delivery (before jitter)."
    )
    webhook_retry_hours: float = Field(
        default=24.0,
        ge=24,
        description="How long a failing webhook delivery is retried, from its first attempt; then it is dead.",
    )
    webhook_max_attempts: int | None = Field(
        default=None,
        ge=1,
        description="Attempts after which a delivery is dead even within the retry window. Unset: none.",
    )
    webhook_disable_after_hours: float = Field(
        default=72.0,
        ge=0,
        description="An endpoint whose deliveries have all failed for this long (and at least "
        "`RAPPORT_WEBHOOK_DISABLE_AFTER_FAILURES` times in a row) is disabled, with a `webhook.disabled` event.",
    )
    webhook_disable_after_failures: int = Field(
        default=20, ge=1, description="Failed attempts in a row an endpoint needs before it can be disabled."
    )

    jwt_secret: SecretStr = Field(
        default=SecretStr(DEV_JWT_SECRET),
        description="HS256 key that signs and verifies bearer tokens, 32+ characters. "
        "The default is a public development value that prod refuses.",
    )
    secrets_keys: SecretStr = Field(
        default=SecretStr(DEV_SECRETS_KEYS),
        description="Keys that seal secrets stored for later use (webhook signing secrets): `id:key,...`, each "
        "key 32 random bytes in URL-safe base64 (`backend.cli secrets new-key`); the first seals, all open. "
        "The default is a public development key that prod refuses.",
    )
    jwt_issuer: str = Field(default="rapport", description="Required `iss` claim of bearer tokens.")
    jwt_audience: str = Field(default="rapport-api", description="Required `aud` claim of bearer tokens.")
    jwt_jwks_url: str | None = Field(
        default=None,
        description="JWKS address of an external identity provider. Set: tokens must be RS256/ES256 signed by "
        "one of its keys (HS256 and `RAPPORT_JWT_SECRET` are then refused).",
    )
    jwt_jwks_cache_seconds: int = Field(
        default=600,
        ge=10,
        le=86_400,
        description="How long keys from `RAPPORT_JWT_JWKS_URL` are trusted; a token naming an unknown `kid` "
        "refreshes them sooner (at most every 5 s).",
    )
    jwt_leeway_seconds: int = Field(
        default=30, ge=0, le=300, description="Clock skew tolerated on `exp`/`iat`, in seconds (0 to 300)."
    )
    auth_provision_users: bool = Field(
        default=True,
        description="Create the user on the first valid token (with an `email` claim) for an unknown subject.",
    )
    auth_seed_roles_from_token: bool = Field(
        default=True,
        description="On a user's first sign-in, bind the roles named in the token's `roles` claim (those the "
        "tenant has). Afterwards only admins change a user's roles; the claim is ignored.",
    )
    auth_failure_limit: int = Field(
        default=30,
        ge=0,
        description="Failed authentications per minute one client address may make before it is refused "
        "with RATE_LIMITED (0: no limit).",
    )

    host: str = Field(
        default="127.0.0.1", description="Address `serve` and `run` listen on (plain `uvicorn` takes `--host`)."
    )
    port: int = Field(
        default=8000, ge=1, le=65535, description="Port `serve` and `run` listen on (plain `uvicorn` takes `--port`)."
    )
    graphiql: bool | None = Field(
        default=None, description="Serve GraphiQL on `GET /graphql`. Unset: on in dev, off in prod."
    )
    introspection: bool | None = Field(
        default=None, description="Allow schema introspection. Unset: on in dev, off in prod."
    )

    # Query limits, enforced before execution.
    max_depth: int = Field(default=12, ge=1, description="Deepest selection nesting accepted.")
    max_aliases: int = Field(default=30, ge=1, description="Most aliases in one operation.")
    max_tokens: int = Field(
        default=5_000, ge=1, description="Most lexical tokens in one document (bounds parsing work)."
    )
    max_cost: int = Field(
        default=50_000,
        ge=1,
        description="Highest estimated cost of one operation: each selected field counts 1, times the page "
        "sizes of the lists around it (an upper bound on the values a response can hold).",
    )
    max_batch: int = Field(default=10, ge=1, description="Most operations in one batched POST.")
    page_default: int = Field(
        default=50, ge=1, description="Page size a list or connection is costed at when it gets no `first`/`last`."
    )
    page_max: int = Field(default=500, ge=1, description="Largest page (`first`/`last`) a connection accepts.")

    # Subscriptions (WebSocket on /graphql).
    ws_buffer: int = Field(
        default=1000,
        ge=1,
        description="Events a subscription holds in memory; one that falls further behind catches up from "
        "the database.",
    )
    ws_send_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Time a client has to take a message before its socket is closed (1013, slow consumer).",
    )
    ws_keepalive_seconds: float = Field(
        default=15.0, gt=0, description="Interval of the protocol's keep-alive (`ping`, legacy `ka`) on idle sockets."
    )
    ws_init_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Time a new socket has to send `connection_init` before it is closed (4408)."
    )
    dashboard_interval_seconds: float = Field(
        default=1.0,
        gt=0,
        description="Shortest interval between two `dashboardUpdates` of one subscription (events in between "
        "are folded into the next).",
    )

    embedded_data_dir: str = Field(
        default=".rapport", description="Folder where `make run` keeps its project-local Postgres (`pgdata/`)."
    )

    @field_validator("database_url", "owner_database_url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgres://", "postgresql://")):
            raise ValueError("must be a postgresql:// URL")
        return value

    @field_validator("broker_url")
    @classmethod
    def _broker_url(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "amqp://", "amqps://")):
            raise ValueError("must be a redis:// or amqp:// URL")
        return value

    @field_validator("webhook_allowed_hosts")
    @classmethod
    def _allowed_hosts(cls, value: str | None) -> str | None:
        for entry in (e.strip() for e in (value or "").split(",")):
            if "/" in entry:
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError:
                    raise ValueError(f"'{entry}' is not a CIDR") from None
        return value

    @model_validator(mode="after")
    def _check(self) -> Self:
        # Messages start with the variable to fix: `load_settings` prints them as they are.
        if self.db_pool_min > self.db_pool_max:
            raise ValueError(f"RAPPORT_DB_POOL_MIN: must not exceed RAPPORT_DB_POOL_MAX ({self.db_pool_max})")
        if self.webhook_min_backoff_seconds > self.webhook_max_backoff_seconds:
            raise ValueError(
                "RAPPORT_WEBHOOK_MIN_BACKOFF_SECONDS: must not exceed RAPPORT_WEBHOOK_MAX_BACKOFF_SECONDS "
                f"({self.webhook_max_backoff_seconds})"
            )
        if self.page_default > self.page_max:
            raise ValueError(f"RAPPORT_PAGE_DEFAULT: must not exceed RAPPORT_PAGE_MAX ({self.page_max})")
        # With a JWKS URL the secret verifies nothing (HS256 tokens are refused), but it is
        # still checked: a prod server must never run with the public value configured.
        secret = self.jwt_secret.get_secret_value()
        if self.environment is Environment.PROD:
            if secret == DEV_JWT_SECRET:
                raise ValueError("RAPPORT_JWT_SECRET: prod refuses the development secret; set a random one")
            if self.secrets_keys.get_secret_value() == DEV_SECRETS_KEYS:
                raise ValueError("RAPPORT_SECRETS_KEYS: prod refuses the development key; make one with "
                                 "`python -m backend.cli secrets new-key`")  # fmt: skip
            if self.database_url is None:
                raise ValueError("RAPPORT_DATABASE_URL: prod needs it set")
        if len(secret) < 32:
            raise ValueError("RAPPORT_JWT_SECRET: must be at least 32 characters")
        try:
            keyring(self.secrets_keys.get_secret_value())
        except ValueError as exc:
            raise ValueError(f"RAPPORT_SECRETS_KEYS: {exc}") from None
        return self

    @property
    def keyring(self) -> Keyring:
        return keyring(self.secrets_keys.get_secret_value())

    @property
    def graphiql_enabled(self) -> bool:
        return self.graphiql if self.graphiql is not None else self.environment is Environment.DEV

    @property
    def introspection_enabled(self) -> bool:
        return self.introspection if self.introspection is not None else self.environment is Environment.DEV

    @property
    def migration_url(self) -> str | None:
        return self.owner_database_url or self.database_url


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment (plus overrides), turning errors into one line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError("invalid configuration: " + "; ".join(_describe(e) for e in exc.errors())) from None


def _describe(error: ErrorDetails) -> str:
    message = " ".join(error["msg"].removeprefix("Value error, ").split())  # never more than one line
    if not error["loc"]:  # a model-level check names its variable itself
        return message
    return f"RAPPORT_{str(error['loc'][0]).upper()}: {message}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


def reference_table() -> str:
    """Every setting as a Markdown table row: variable, default, meaning (README.md embeds it)."""
    rows = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        rows.append(f"| `RAPPORT_{name.upper()}` | {_shown(field.default)} | {field.description} |")
    return "\n".join(rows) + "\n"


def _shown(default: object) -> str:
    if default is None:
        return "unset"
    if isinstance(default, SecretStr):
        return "development value"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    return f"`{default}`"
