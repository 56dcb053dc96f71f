"""`python -m backend.cli`, run as separate processes against the test cluster, as an operator would."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from backend.bootstrap import bootstrap, drop_database
from backend.cli import main
from backend.migrations import available, migrate, pending
from backend.models import Tenant
from backend.settings import Settings, reference_table
from tests import processes
from tests.conftest import SUPERUSER_URL, Api, Database, database_named

SMALL = (
    "--accounts", "6", "--contacts-per-account", "2", "--orders-per-contact", "2", "--lines-per-order", "2",
    "--tickets-per-contact", "1", "--feedback-per-contact", "1", "--products", "4", "--users", "3",
)  # fmt: skip
SMALL_COUNTS = {
    "users": 3, "accounts": 6, "contacts": 12, "products": 4,
    "orders": 24, "order_lines": 48, "tickets": 12, "feedback": 12,
}  # fmt: skip
# Columns the database fills with now() because the seed leaves them out: they say when it ran, not what.
WRITE_TIME = {
    "tenants": {"created_at"},
    "users": {"created_at"},
    "orders": {"created_at"},
    "order_lines": {"created_at"},
}


def env_for(database: Database) -> dict[str, str]:
    return processes.environment(database_url=database.app_url, owner_database_url=database.owner_url)


@pytest.fixture
def env(database: Database) -> dict[str, str]:
    return env_for(database)


@pytest.fixture
async def new_database() -> AsyncIterator[Database]:
    """A database nobody has created yet (the test creates it); dropped afterwards."""
    fresh = database_named(f"rapport_cli_{os.getpid()}_{uuid.uuid4().hex[:6]}")
    try:
        yield fresh
    finally:
        await drop_database(SUPERUSER_URL, fresh.name)


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    commands = processes.cli_commands()
    assert {("migrate",), ("tenant", "create"), ("tenant", "list"), ("seed",), ("token",), ("run",)} <= set(commands)
    for command in commands:
        with pytest.raises(SystemExit) as exited:
            main([*command, "--help"])
        assert exited.value.code == 0, command
        assert capsys.readouterr().out.startswith(" ".join(("usage: python -m backend.cli", *command))), command


def test_config_prints_the_settings_in_effect_with_secrets_hidden(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [n for n in os.environ if n.startswith("RAPPORT_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("RAPPORT_DATABASE_URL", "postgresql://rapport_app:s3cret@db:5432/rapport")
    monkeypatch.setenv(
        "RAPPORT_OWNER_DATABASE_URL", "postgresql://rapport_owner@db/rapport?password=0wn&sslmode=require"
    )
    monkeypatch.setenv("RAPPORT_BROKER_URL", "redis://:r3dis@cache:6379/0")
    monkeypatch.setenv("RAPPORT_JWT_SECRET", "x" * 40)
    assert main(["config"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(Settings.model_fields)
    shown = dict(line.split("=", 1) for line in lines)
    assert shown["RAPPORT_DATABASE_URL"] == "postgresql://rapport_app:(hidden)@db:5432/rapport"
    assert (
        shown["RAPPORT_OWNER_DATABASE_URL"] == "postgresql://rapport_owner@db/rapport?password=(hidden)&sslmode=require"
    )
    assert shown["RAPPORT_BROKER_URL"] == "redis://:(hidden)@cache:6379/0"
    assert shown["RAPPORT_JWT_SECRET"] == shown["RAPPORT_SECRETS_KEYS"] == "(hidden)"
    assert (shown["RAPPORT_PORT"], shown["RAPPORT_AUTH_PROVISION_USERS"], shown["RAPPORT_GRAPHIQL"]) == (
        "8000",
        "true",
        "",
    )
    assert "s3cret" not in "".join(lines) and "0wn" not in "".join(lines) and "r3dis" not in "".join(lines)

    assert main(["config", "--reference"]) == 0
    assert capsys.readouterr().out == reference_table()


@pytest.mark.slow
async def test_bootstrap_and_migrate_are_idempotent(new_database: Database) -> None:
    env = env_for(new_database)
    bootstraps = [await processes.cli("bootstrap", "--superuser-url", SUPERUSER_URL, env=env) for _ in range(2)]
    assert [(b.returncode, b.stdout, b.stderr) for b in bootstraps] == [
        (0, f"roles ready; database {new_database.name} created\n", ""),
        (0, f"roles ready; database {new_database.name} exists already\n", ""),
    ]
    migrations = [await processes.cli("migrate", env=env) for _ in range(2)]
    names = ", ".join(f"{m.version}_{m.name}" for m in available())
    assert [(m.returncode, m.stdout, m.stderr) for m in migrations] == [
        (0, f"applied: {names}\n", ""),
        (0, "database is up to date\n", ""),
    ]
    conn = await asyncpg.connect(new_database.owner_url)
    try:
        assert await pending(conn) == []
        owner = await conn.fetchval("SELECT tableowner FROM pg_tables WHERE tablename = 'accounts'")
    finally:
        await conn.close()
    assert owner == "rapport_owner"


@pytest.mark.slow
async def test_tenant_create_list_and_refusals(env: dict[str, str], database: Database) -> None:
    slug = f"acme-{uuid.uuid4().hex[:8]}"
    created = await processes.cli("tenant", "create", "Acme Test", "--slug", slug, env=env)
    assert (created.returncode, created.stderr) == (0, "")
    tenant = json.loads(created.stdout)
    assert (tenant["slug"], tenant["name"]) == (slug, "Acme Test")

    duplicate, listed = await asyncio.gather(
        processes.cli("tenant", "create", "Someone Else", "--slug", slug, env=env),
        processes.cli("tenant", "list", env=env),
    )
    assert (duplicate.returncode, duplicate.error_line) == (
        1,
        f"rapport: a tenant with the slug '{slug}' exists already",
    )
    assert listed.returncode == 0
    assert [line.split()[:2] for line in listed.stdout.splitlines() if slug in line] == [[tenant["id"], slug]]
    conn = await asyncpg.connect(database.superuser_url)
    try:
        names = await conn.fetch("SELECT name FROM tenants WHERE slug = $1", slug)
    finally:
        await conn.close()
    assert [r["name"] for r in names] == ["Acme Test"]


async def _seeded_rows(url: str, tenant_ids: list[uuid.UUID]) -> dict[str, list[tuple[Any, ...]]]:
    conn = await asyncpg.connect(url)
    try:
        rows = {}
        for table in ["tenants", *SMALL_COUNTS]:
            described = await conn.fetch(
                "SELECT column_name FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position",
                table,
            )
            skip = {"updated_at", *WRITE_TIME.get(table, ())}
            columns = [r["column_name"] for r in described if r["column_name"] not in skip]
            key = "id" if table == "tenants" else "tenant_id"
            found = await conn.fetch(
                f"SELECT {', '.join(columns)} FROM {table} WHERE {key} = ANY($1) ORDER BY {key}, id", tenant_ids
            )
            rows[table] = [tuple(r) for r in found]
    finally:
        await conn.close()
    return rows


@pytest.mark.slow
async def test_seed_is_deterministic_and_sized_by_its_arguments(
    env: dict[str, str], database: Database, new_database: Database
) -> None:
    await bootstrap(SUPERUSER_URL, new_database.name)
    await migrate(new_database.owner_url)
    args = ("seed", "--tenants", "2", *SMALL, "--seed", "4242")
    here, there = await asyncio.gather(processes.cli(*args, env=env), processes.cli(*args, env=env_for(new_database)))
    assert (here.returncode, here.stderr) == (0, "")
    assert here.stdout == there.stdout
    reports = [json.loads(line) for line in here.stdout.splitlines()]
    assert [{k: v for k, v in r.items() if k != "tenant"} for r in reports] == [SMALL_COUNTS, SMALL_COUNTS]
    tenant_ids = [uuid.UUID(r["tenant"]) for r in reports]
    assert len(set(tenant_ids)) == 2

    rows = await _seeded_rows(database.superuser_url, tenant_ids)
    assert rows == await _seeded_rows(new_database.superuser_url, tenant_ids)
    for table, count in SMALL_COUNTS.items():
        per_tenant = [sum(1 for r in rows[table] if r[0] == t) for t in tenant_ids]  # tenant_id is column one
        assert per_tenant == [count, count], table
    # Two tenants seeded alike still get their own data, not copies of each other.
    names = [{r[2] for r in rows["accounts"] if r[0] == t} for t in tenant_ids]
    assert names[0] != names[1]


@pytest.mark.slow
async def test_token_prints_a_working_bearer_token(api: Api, tenant: Tenant, env: dict[str, str]) -> None:
    by_slug, by_id = await asyncio.gather(
        processes.cli(
            "token", "--tenant", tenant.slug, "--user", "carol", "--role", "sales", "--role", "support", env=env
        ),
        processes.cli("token", "--tenant", str(tenant.id), "--user", "dan@corp.example", "--role", "viewer", env=env),
    )
    viewer = "{ viewer { tenant { name } user { email } roles } }"
    answers = []
    for issued in (by_slug, by_id):
        assert (issued.returncode, issued.stderr) == (0, "")
        token = issued.stdout.strip()
        assert issued.stdout == f"{token}\n"
        response = await api.client.post(
            "/graphql", json={"query": viewer}, headers={"Authorization": f"Bearer {token}"}
        )
        answers.append(response.json()["data"]["viewer"])
    assert answers == [
        {"tenant": {"name": tenant.name}, "user": {"email": "carol@example.com"}, "roles": ["sales", "support"]},
        {"tenant": {"name": tenant.name}, "user": {"email": "dan@corp.example"}, "roles": ["viewer"]},
    ]


@pytest.mark.slow
async def test_an_unknown_tenant_is_one_clear_line(env: dict[str, str]) -> None:
    token = await processes.cli("token", "--tenant", "no-such-tenant", "--user", "eve", env=env)
    assert (token.returncode, token.error_line, token.stdout) == (
        2,
        "rapport: no tenant with the id or slug 'no-such-tenant'",
        "",
    )


@pytest.mark.slow
async def test_database_problems_are_one_clear_line(database: Database) -> None:
    unknown_role = database_named(database.name).app_url.replace("rapport_app@", "nobody_here@")
    unset, refused, denied = await asyncio.gather(
        processes.cli("migrate", env=processes.environment()),
        processes.cli(
            "tenant", "list", env=processes.environment(database_url="postgresql://rapport_app@127.0.0.1:1/x")
        ),
        processes.cli("tenant", "list", env=processes.environment(database_url=unknown_role)),
    )
    assert (unset.returncode, unset.error_line) == (
        2,
        "rapport: no database configured: set RAPPORT_OWNER_DATABASE_URL (or RAPPORT_DATABASE_URL)",
    )
    assert (refused.returncode, refused.error_line.startswith("rapport: cannot reach the database: ")) == (1, True)
    assert (denied.returncode, denied.error_line) == (1, 'rapport: database error: role "nobody_here" does not exist')
