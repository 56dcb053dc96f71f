"""Real-database fixtures.

One database per test run, created by the same bootstrap and migrations as production,
with the application role connected (RLS on). Tests isolate themselves by creating fresh
tenants (`tenant` fixture): row-level security keeps every test's rows out of every other
test's sight, which is also what the isolation tests prove.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import uvicorn

from backend import db
from backend.app import create_app
from backend.auth import issue_token
from backend.bootstrap import bootstrap, drop_database
from backend.migrations import migrate
from backend.models import Tenant
from backend.settings import Settings, load_settings
from tenants.provisioning import provision_tenant

SUPERUSER_URL = os.environ.get("RAPPORT_TEST_SUPERUSER_URL", "postgresql://root@127.0.0.1:5432/postgres")


@dataclass(frozen=True)
class Database:
    name: str
    superuser_url: str
    owner_url: str
    app_url: str


def _with_user_and_db(url: str, user: str, database: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{user}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, f"/{database}", parts.query, ""))


def database_named(name: str) -> Database:
    """The URLs of database `name` on the test cluster, for each role (it may not exist yet)."""
    return Database(
        name=name,
        superuser_url=_with_user_and_db(SUPERUSER_URL, urlsplit(SUPERUSER_URL).username or "root", name),
        owner_url=_with_user_and_db(SUPERUSER_URL, "rapport_owner", name),
        app_url=_with_user_and_db(SUPERUSER_URL, "rapport_app", name),
    )


def _reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
async def database() -> AsyncIterator[Database]:
    if not _reachable(SUPERUSER_URL):
        pytest.exit(f"no Postgres at {SUPERUSER_URL}: start it (see .ci/run) or set RAPPORT_TEST_SUPERUSER_URL", 2)
    test_db = database_named(f"rapport_test_{os.getpid()}_{uuid.uuid4().hex[:6]}")
    await bootstrap(SUPERUSER_URL, test_db.name)
    await migrate(test_db.owner_url)
    try:
        yield test_db
    finally:
        await drop_database(SUPERUSER_URL, test_db.name)


@pytest.fixture(scope="session")
def settings(database: Database) -> Settings:
    return load_settings(database_url=database.app_url, owner_database_url=database.owner_url)


@pytest.fixture(scope="session")
async def app_db(settings: Settings) -> AsyncIterator[None]:
    """The application role's pool, as the API and workers use it."""
    await db.init_db(settings)
    try:
        yield
    finally:
        await db.close_db()


@pytest.fixture
async def tenant(app_db: None) -> Tenant:
    """A fresh tenant of its own for each test."""
    return await provision_tenant(f"Tenant {uuid.uuid4().hex[:8]}")


@pytest.fixture
async def other_tenant(app_db: None) -> Tenant:
    return await provision_tenant(f"Other {uuid.uuid4().hex[:8]}")


@dataclass(frozen=True)
class Api:
    """A real uvicorn server on a free loopback port, and a client for it."""

    url: str
    client: httpx.AsyncClient
    settings: Settings

    def token(self, tenant: Tenant, *, subject: str = "alice", roles: tuple[str, ...] = ("admin",)) -> str:
        return issue_token(
            self.settings, tenant_id=tenant.id, subject=subject, roles=list(roles), email=f"{subject}@example.com"
        )

    async def graphql(
        self, tenant: Tenant | None, query: str, variables: dict[str, Any] | None = None, **token: Any
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token(tenant, **token)}"} if tenant else {}
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        body: dict[str, Any] = response.json()
        return body

    async def data(self, tenant: Tenant, query: str, variables: dict[str, Any] | None = None, **token: Any) -> Any:
        """The `data` of a query that must succeed."""
        body = await self.graphql(tenant, query, variables, **token)
        assert "errors" not in body, body["errors"]
        return body["data"]

    async def errors(
        self, tenant: Tenant, query: str, variables: dict[str, Any] | None = None, **token: Any
    ) -> list[dict[str, Any]]:
        """The errors of a request that must fail: [{code, field, message, ...}]."""
        body = await self.graphql(tenant, query, variables, **token)
        assert "errors" in body, body
        return [{**e.get("extensions", {}), "message": e["message"]} for e in body["errors"]]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[Api]:
    """`create_app(settings)` behind a real uvicorn server; the caller provides the database pool."""
    port = free_port()
    config = uvicorn.Config(create_app(settings, manage_db=False), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            yield Api(url=url, client=client, settings=settings)
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="session")
async def api(settings: Settings, app_db: None) -> AsyncIterator[Api]:
    async with serve(settings) as running:
        yield running
