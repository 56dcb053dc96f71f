"""One `Settings` object, read once at start-up from `RAPPORT_*` environment variables.

Invalid configuration raises `ConfigError` with a single readable line; the CLI and the
ASGI factory print that line and exit instead of showing a traceback.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Self

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "rapport-dev-secret-change-me-0123456789abcdef"  # noqa: S105 - the well-known dev value


class Environment(StrEnum):
    DEV = "dev"
    PROD = "prod"


class ConfigError(Exception):
    """Configuration that cannot run; the message is one line meant for an operator."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAPPORT_", extra="ignore", frozen=True)

    environment: Environment = Environment.DEV

    # Postgres: the owner role runs migrations; the API and workers use the application role,
    # which is not the owner and has no BYPASSRLS, so Row-Level Security applies to it.
    database_url: str | None = Field(
        default=None,
        description="Application role DSN (API, workers). Unset: `make run` provisions a local Postgres.",
    )
    owner_database_url: str | None = Field(
        default=None, description="Owner role DSN for migrations. Unset: the application DSN."
    )
    db_pool_min: Annotated[int, Field(ge=0, le=1000)] = 1
    db_pool_max: Annotated[int, Field(ge=1, le=1000)] = 10
    db_statement_timeout_ms: Annotated[int, Field(ge=0)] = 15_000

    broker_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        description="Dramatiq broker: redis://… or amqp://…",
    )

    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    jwt_issuer: str = "rapport"
    jwt_audience: str = "rapport-api"
    jwt_jwks_url: str | None = None
    jwt_leeway_seconds: Annotated[int, Field(ge=0, le=300)] = 30
    auth_provision_users: bool = Field(
        default=True, description="Create a user on the first valid token for an unknown subject."
    )

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    graphiql: bool | None = Field(default=None, description="Serve GraphiQL. Default: on in dev, off in prod.")
    introspection: bool | None = Field(default=None, description="Allow introspection. Default: on in dev only.")

    # Query limits, enforced before execution.
    max_depth: Annotated[int, Field(ge=1)] = 12
    max_aliases: Annotated[int, Field(ge=1)] = 30
    max_tokens: Annotated[int, Field(ge=1)] = 5_000
    max_cost: Annotated[int, Field(ge=1)] = 50_000
    max_batch: Annotated[int, Field(ge=1)] = 10
    page_default: Annotated[int, Field(ge=1)] = 50
    page_max: Annotated[int, Field(ge=1)] = 500

    embedded_data_dir: str = Field(default=".rapport", description="Where `make run` keeps its local Postgres.")

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

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.db_pool_min > self.db_pool_max:
            raise ValueError("db_pool_min must not exceed db_pool_max")
        if self.page_default > self.page_max:
            raise ValueError("page_default must not exceed page_max")
        secret = self.jwt_secret.get_secret_value()
        if self.environment is Environment.PROD:
            if secret == DEV_JWT_SECRET and not self.jwt_jwks_url:
                raise ValueError("prod refuses the dev JWT secret: set RAPPORT_JWT_SECRET or RAPPORT_JWT_JWKS_URL")
            if self.database_url is None:
                raise ValueError("prod needs RAPPORT_DATABASE_URL")
        if len(secret) < 32 and not self.jwt_jwks_url:
            raise ValueError("jwt_secret must be at least 32 characters")
        return self

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
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        env = f"RAPPORT_{where.upper()}" if where else "configuration"
        message = first["msg"].removeprefix("Value error, ")
        raise ConfigError(f"invalid configuration: {env}: {message}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
