"""`/readyz` tells a load balancer whether this process can serve: database reachable, migrations current."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest

from backend.bootstrap import bootstrap, drop_database
from backend.migrations import available, migrate
from tests import processes
from tests.conftest import SUPERUSER_URL, Api, Database, database_named, free_port

NOT_READY = 503


async def test_readyz_names_the_migrations_the_database_lacks(api: Api, database: Database) -> None:
    latest = available()[-1].version
    assert (await api.client.get("/readyz")).json() == {"status": "ok"}
    conn = await asyncpg.connect(database.superuser_url)
    try:
        row = await conn.fetchrow("DELETE FROM schema_migrations WHERE version = $1 RETURNING *", latest)
        assert row is not None
        try:
            response = await api.client.get("/readyz")
        finally:
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)",
                *row.values(),
            )
    finally:
        await conn.close()
    assert response.status_code == NOT_READY
    assert response.json() == {"status": "unavailable", "pendingMigrations": [latest]}
    assert (await api.client.get("/readyz")).json() == {"status": "ok"}


@asynccontextmanager
async def serving(env: dict[str, str], log: Path) -> AsyncIterator[httpx.AsyncClient]:
    """`python -m backend.cli serve` on a free port, its output in `log`."""
    port = free_port()
    server = await processes.start(sys.executable, "-m", "backend.cli", "serve", "--port", str(port), env=env, log=log)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            await processes.wait_until_listening(client, server, log)
            yield client
    finally:
        if server.returncode is None:
            server.terminate()
            await server.wait()


@pytest.mark.slow
async def test_a_server_becomes_ready_when_migrated_and_unready_when_the_database_goes(tmp_path: Path) -> None:
    """What an orchestrator sees when API pods start before the migration job has run."""
    fresh = database_named(f"rapport_ready_{os.getpid()}_{uuid.uuid4().hex[:6]}")
    await bootstrap(SUPERUSER_URL, fresh.name)
    try:
        async with serving(processes.environment(database_url=fresh.app_url), tmp_path / "serve.log") as client:
            before = await client.get("/readyz")
            await migrate(fresh.owner_url)
            after = await client.get("/readyz")
            await drop_database(SUPERUSER_URL, fresh.name)  # WITH (FORCE): the server's connections die
            gone = await client.get("/readyz")
            alive = await client.get("/healthz")
    finally:
        await drop_database(SUPERUSER_URL, fresh.name)
    assert (before.status_code, before.json()) == (
        NOT_READY,
        {"status": "unavailable", "pendingMigrations": [m.version for m in available()]},
    )
    assert (after.status_code, after.json()) == (200, {"status": "ok"})
    assert (gone.status_code, gone.json()) == (NOT_READY, {"status": "unavailable", "database": "unreachable"})
    assert (alive.status_code, alive.json()) == (200, {"status": "ok"})
