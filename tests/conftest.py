"""Real-database fixtures.

One database per test run, created by the same bootstrap and migrations as production,
with the application role connected (RLS on). Tests isolate themselves by creating fresh
tenants (`tenant` fixture): row-level security keeps every test's rows out of every other
test's sight, which is also what the isolation tests prove.

Background jobs run in a real worker process (`worker`: `python -m backend.cli worker` on this
run's database and a Redis key namespace of its own), started once for the tests that ask.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import dramatiq
import httpx
import pytest
import redis.asyncio as redis
import uvicorn

from backend import db
from backend.app import WebSocketProtocol, create_app
from backend.auth import issue_token
from backend.bootstrap import bootstrap, drop_database
from backend.migrations import migrate
from backend.models import Tenant
from backend.settings import Settings, load_settings
from jobs.broker import build
from tenants.provisioning import provision_tenant
from tests import processes

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
async def serve(settings: Settings, **options: Any) -> AsyncIterator[Api]:
    """`create_app(settings)` behind a real uvicorn server (with uvicorn `options`); the caller
    provides the database pool."""
    port = free_port()
    app = create_app(settings, manage_db=False)
    options = {"ws": WebSocketProtocol, **options}  # as `backend.app.serve` runs it
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **options)
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


# -- background jobs: a real worker process on a real Redis -------------------------------------

REDIS_URL = "redis://127.0.0.1:6379/0"
# Small numbers so that retries, dead letters and disabling happen within a test.
WORKER_SETTINGS = {
    "webhook_allowed_hosts": "127.0.0.1",
    "webhook_min_backoff_seconds": "0.2",
    "webhook_max_backoff_seconds": "0.4",
    "webhook_max_attempts": "4",
    "webhook_disable_after_hours": "0",
    "webhook_disable_after_failures": "6",
    "webhook_timeout_seconds": "5",
}
T = TypeVar("T")


async def eventually(check: Callable[[], Awaitable[T | None]], *, within: float = 30.0) -> T:
    """The first truthy result of `check`, polled until `within` seconds have passed."""
    async with asyncio.timeout(within):
        while True:
            found = await check()
            if found:
                return found
            await asyncio.sleep(0.05)


@dataclass(frozen=True)
class Worker:
    broker: dramatiq.Broker  # the worker's broker (its Redis namespace), to send it messages


@pytest.fixture(scope="session")
async def worker(database: Database, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Worker]:
    """`python -m backend.cli worker` on this session's database and its own Redis namespace."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except redis.ConnectionError:
        pytest.exit(f"no Redis at {REDIS_URL}: start it (see .ci/run)", 2)
    namespace = f"rapport-test-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    env = processes.environment(
        database_url=database.app_url, broker_url=REDIS_URL, broker_namespace=namespace, **WORKER_SETTINGS
    )
    log: Path = tmp_path_factory.mktemp("worker") / "worker.log"
    process = await processes.start(sys.executable, "-m", "backend.cli", "worker", "--threads", "8", env=env, log=log)

    async def started() -> bool:
        text = await asyncio.to_thread(log.read_text)
        if process.returncode is not None:
            raise AssertionError("the worker exited:\n" + text)
        return "worker started" in text

    await eventually(started, within=processes.LIMIT_SECONDS)
    try:
        yield Worker(build(load_settings(broker_url=REDIS_URL, broker_namespace=namespace)))
    finally:
        process.terminate()
        await process.wait()
        keys = [key async for key in client.scan_iter(f"{namespace}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
        assert process.returncode == 0, await asyncio.to_thread(log.read_text)
