"""Configuration: every invalid setting stops start-up with one line naming the variable to fix."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from backend.models import Tenant
from backend.settings import DEV_JWT_SECRET, ConfigError, Environment, Settings, load_settings
from tests import processes
from tests.conftest import serve

STRONG_SECRET = "a-production-secret-of-enough-length-4c9e2f"
PROD_KEYS = f"k1:{'Q' * 43}"
PROD = {
    "environment": "prod",
    "jwt_secret": STRONG_SECRET,
    "secrets_keys": PROD_KEYS,
    "database_url": "postgresql://rapport_app@db/rapport",
}
INTROSPECTION = "{ __schema { queryType { name } } }"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test sets: the developer's own RAPPORT_* variables must not leak in."""
    for name in list(os.environ):
        if name.startswith("RAPPORT_"):
            monkeypatch.delenv(name)


def configure(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for name, value in values.items():
        monkeypatch.setenv(f"RAPPORT_{name.upper()}", value)


@pytest.mark.parametrize(
    ("values", "variable", "reason"),
    [
        ({"port": "http"}, "RAPPORT_PORT", "valid integer"),
        ({"port": "70000"}, "RAPPORT_PORT", "less than or equal to 65535"),
        ({"environment": "staging"}, "RAPPORT_ENVIRONMENT", "'dev' or 'prod'"),
        ({"database_url": "mysql://app@db/rapport"}, "RAPPORT_DATABASE_URL", "postgresql://"),
        ({"owner_database_url": "db:5432"}, "RAPPORT_OWNER_DATABASE_URL", "postgresql://"),
        ({"broker_url": "kafka://broker:9092"}, "RAPPORT_BROKER_URL", "redis:// or amqp://"),
        ({"db_pool_min": "20"}, "RAPPORT_DB_POOL_MIN", "must not exceed RAPPORT_DB_POOL_MAX (10)"),
        ({"db_pool_max": "0"}, "RAPPORT_DB_POOL_MAX", "greater than or equal to 1"),
        ({"page_default": "600"}, "RAPPORT_PAGE_DEFAULT", "must not exceed RAPPORT_PAGE_MAX (500)"),
        ({"max_depth": "0"}, "RAPPORT_MAX_DEPTH", "greater than or equal to 1"),
        ({"jwt_leeway_seconds": "-1"}, "RAPPORT_JWT_LEEWAY_SECONDS", "greater than or equal to 0"),
        ({"graphiql": "maybe"}, "RAPPORT_GRAPHIQL", "valid boolean"),
        ({"jwt_secret": "too-short"}, "RAPPORT_JWT_SECRET", "at least 32 characters"),
        ({"environment": "prod", "database_url": PROD["database_url"]}, "RAPPORT_JWT_SECRET", "development secret"),
        (
            {"environment": "prod", "database_url": PROD["database_url"], "jwt_jwks_url": "https://idp/jwks"},
            "RAPPORT_JWT_SECRET",
            "development secret",
        ),
        (
            {"environment": "prod", "jwt_secret": STRONG_SECRET, "secrets_keys": PROD_KEYS},
            "RAPPORT_DATABASE_URL",
            "prod needs it",
        ),
        ({"environment": "prod", "jwt_secret": STRONG_SECRET}, "RAPPORT_SECRETS_KEYS", "development key"),
        ({"secrets_keys": "k1"}, "RAPPORT_SECRETS_KEYS", "entry 1 must look like"),
        ({"secrets_keys": "k1:c2hvcnQ"}, "RAPPORT_SECRETS_KEYS", "must be 32 bytes (it is 5)"),
        ({"secrets_keys": f"k1:{'A' * 43},k1:{'B' * 43}"}, "RAPPORT_SECRETS_KEYS", "appears twice"),
    ],
)
def test_invalid_configuration_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, values: dict[str, str], variable: str, reason: str
) -> None:
    configure(monkeypatch, **values)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"invalid configuration: {variable}: ")
    assert reason in message


def test_every_invalid_variable_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    configure(monkeypatch, port="http", max_depth="0", database_url="sqlite:///x")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    message = str(raised.value)
    assert "\n" not in message
    assert [part.split(":")[0] for part in message.removeprefix("invalid configuration: ").split("; ")] == [
        "RAPPORT_DATABASE_URL",
        "RAPPORT_PORT",
        "RAPPORT_MAX_DEPTH",
    ]


def test_a_rejected_secret_is_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    configure(monkeypatch, jwt_secret="hunter2-but-longer")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert "hunter2" not in str(raised.value)


def test_defaults_are_a_working_dev_configuration() -> None:
    settings = load_settings()
    assert settings.environment is Environment.DEV
    assert settings.jwt_secret.get_secret_value() == DEV_JWT_SECRET
    assert settings.graphiql_enabled and settings.introspection_enabled
    assert settings.database_url is None and settings.migration_url is None


def test_empty_variables_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    configure(monkeypatch, database_url="", jwt_jwks_url="", graphiql="", port="")
    settings = load_settings()
    assert settings.database_url is None and settings.jwt_jwks_url is None
    assert settings.graphiql is None and settings.port == 8000


def test_migrations_use_the_owner_url_when_given(monkeypatch: pytest.MonkeyPatch) -> None:
    configure(monkeypatch, database_url="postgresql://rapport_app@db/r")
    assert load_settings().migration_url == "postgresql://rapport_app@db/r"
    configure(monkeypatch, owner_database_url="postgresql://rapport_owner@db/r")
    assert load_settings().migration_url == "postgresql://rapport_owner@db/r"


def test_prod_turns_graphiql_and_introspection_off_unless_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    configure(monkeypatch, **PROD)
    settings = load_settings()
    assert not settings.graphiql_enabled and not settings.introspection_enabled
    configure(monkeypatch, graphiql="true", introspection="true")
    settings = load_settings()
    assert settings.graphiql_enabled and settings.introspection_enabled
    monkeypatch.delenv("RAPPORT_ENVIRONMENT")
    configure(monkeypatch, graphiql="false", introspection="false")
    settings = load_settings()
    assert not settings.graphiql_enabled and not settings.introspection_enabled


def test_every_setting_is_documented() -> None:
    undocumented = [name for name, field in Settings.model_fields.items() if not field.description]
    assert undocumented == []


# -- the running server ---------------------------------------------------------------------


def _prod(settings: Settings, **overrides: object) -> Settings:
    return settings.model_copy(update={"environment": Environment.PROD, **overrides})


async def test_prod_refuses_introspection_and_serves_no_graphiql(settings: Settings, tenant: Tenant) -> None:
    async with serve(_prod(settings)) as prod:
        body = await prod.graphql(tenant, INTROSPECTION)
        assert body["data"] is None
        assert [
            (e["extensions"]["code"], "introspection has been disabled" in e["message"]) for e in body["errors"]
        ] == [
            ("BAD_USER_INPUT", True),
            ("BAD_USER_INPUT", True),  # `__schema` and `queryType`
        ]
        # Ordinary queries still work, `__typename` included (clients need it for unions).
        assert (await prod.graphql(tenant, "{ __typename viewer { roles } }"))["data"] == {
            "__typename": "Query",
            "viewer": {"roles": ["admin"]},
        }
        page = await prod.client.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 400
        assert page.headers["content-type"] == "application/json"
        assert "graphiql" not in page.text.lower()


async def test_prod_serves_both_when_enabled_explicitly(settings: Settings, tenant: Tenant) -> None:
    async with serve(_prod(settings, graphiql=True, introspection=True)) as prod:
        body = await prod.graphql(tenant, INTROSPECTION)
        assert body["data"] == {"__schema": {"queryType": {"name": "Query"}}}
        page = await prod.client.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200 and "graphiql" in page.text.lower()


async def test_dev_allows_introspection(settings: Settings, tenant: Tenant) -> None:
    async with serve(settings) as dev:
        assert (await dev.graphql(tenant, INTROSPECTION))["data"] == {"__schema": {"queryType": {"name": "Query"}}}


# -- start-up from the environment ----------------------------------------------------------


@pytest.mark.slow
async def test_bad_environment_stops_uvicorn_and_the_cli_with_one_line() -> None:
    env = processes.environment(environment="prod", database_url="postgresql://rapport_app@db/rapport")
    uvicorn_run, cli_run = await asyncio.gather(
        processes.run(sys.executable, "-m", "uvicorn", "backend.app:create_app", "--factory", "--port", "1", env=env),
        processes.cli("migrate", env=env),
    )
    expected = (
        "rapport: invalid configuration: RAPPORT_JWT_SECRET: prod refuses the development secret; set a random one"
    )
    # 3 is uvicorn's start-up failure code: its multi-worker supervisor then stops instead of respawning.
    assert (uvicorn_run.returncode, uvicorn_run.error_line) == (3, expected)
    assert (cli_run.returncode, cli_run.error_line) == (2, expected)
    assert uvicorn_run.stdout == cli_run.stdout == ""
