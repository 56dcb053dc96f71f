"""Every process sees a policy change, a key revocation and a deactivation within a second:
two real server processes, a change made through one, observed through the other. And the
listener that carries the notifications recovers from a lost connection."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import httpx
import pytest

from backend.auth import issue_token
from backend.db import tenant_transaction
from backend.listener import Listener
from backend.models import Tenant
from backend.settings import Settings
from tests import factories
from tests.conftest import Database

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
async def servers(database: Database, app_db: None) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Two API processes on the test database (as `uvicorn backend.app:create_app --factory`)."""
    env = {**os.environ, "RAPPORT_DATABASE_URL": database.app_url, "RAPPORT_OWNER_DATABASE_URL": database.owner_url,
           "PYTHONPATH": str(ROOT)}  # fmt: skip
    ports = [_free_port(), _free_port()]
    processes = [
        subprocess.Popen(  # noqa: ASYNC220, S603  (started once, awaited by polling below)
            [
                sys.executable,
                "-m",
                "uvicorn",
                "backend.app:create_app",
                "--factory",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
        )
        for port in ports
    ]
    clients = [httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) for port in ports]
    try:
        for client, process in zip(clients, processes, strict=True):
            deadline = time.monotonic() + 30
            while True:
                assert process.poll() is None, "the server process exited"
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the server did not start"
                await asyncio.sleep(0.1)
        yield clients
    finally:
        for client in clients:
            await client.aclose()
        for process in processes:
            process.terminate()
            process.wait(10)


async def _until(check: Callable[[], Awaitable[bool]], seconds: float = 1.0) -> float:
    start = time.monotonic()
    while not await check():
        assert time.monotonic() - start < seconds, f"not seen within {seconds} s"
        await asyncio.sleep(0.01)
    return time.monotonic() - start


@pytest.mark.slow
async def test_two_processes_see_changes_within_a_second(
    servers: list[httpx.AsyncClient], settings: Settings, tenant: Tenant
) -> None:
    one, two = servers
    async with tenant_transaction(tenant.id) as tx:
        await factories.account(tx, name="Visible")

    def bearer(subject: str, *roles: str) -> dict[str, str]:
        token = issue_token(settings, tenant_id=tenant.id, subject=subject, roles=list(roles), email=f"{subject}@x.io")
        return {"Authorization": f"Bearer {token}"}

    admin = bearer("alice", "admin")

    async def post(client: httpx.AsyncClient, query: str, headers: dict[str, str]) -> dict[str, object]:
        body: dict[str, object] = (await client.post("/graphql", json={"query": query}, headers=headers)).json()
        return body

    accounts = "{ accounts { nodes { name domain } } }"
    viewer = bearer("vic", "viewer")
    assert "errors" not in await post(two, accounts, viewer)  # both processes have the policy cached now
    assert "errors" not in await post(one, accounts, viewer)
    created = await post(one, 'mutation { apiKeyCreate(input: {name: "k", roles: ["viewer"]}) { secret } }', admin)
    key = {"Authorization": f"Bearer {created['data']['apiKeyCreate']['secret']}"}  # type: ignore[index]
    assert "errors" not in await post(two, accounts, key)

    # A policy change through process one ...
    await post(one, 'mutation { policyDeny(role: "viewer", object: "Account.domain", action: "read") { name } }', admin)

    async def refused() -> bool:
        body = await post(two, accounts, viewer)
        return bool(body.get("errors"))

    # ... is enforced by process two within a second.
    seen_after = await _until(refused)
    print(f"policy change seen by the other process after {seen_after * 1000:.0f} ms")
    assert seen_after < 1.0
    found = await post(two, accounts, viewer)
    assert found["errors"][0]["extensions"]["denied"][0]["object"] == "Account.domain"  # type: ignore[index]

    # Revoking the key through one: two refuses it within a second.
    keys = await post(one, "{ apiKeys { id } }", admin)
    key_id = keys["data"]["apiKeys"][0]["id"]  # type: ignore[index]
    await post(one, f'mutation {{ apiKeyRevoke(id: "{key_id}") {{ revokedAt }} }}', admin)

    async def key_refused() -> bool:
        return (await two.post("/graphql", json={"query": "{ __typename }"}, headers=key)).status_code == 401

    revoked_after = await _until(key_refused)
    print(f"revocation seen by the other process after {revoked_after * 1000:.0f} ms")
    assert revoked_after < 1.0


async def test_the_listener_reconnects_and_resets_caches(settings: Settings, database: Database, app_db: None) -> None:
    listener = Listener(settings.database_url, name="rapport-listener-test")
    heard: list[str] = []
    resets: list[float] = []
    listener.subscribe("rapport_test", heard.append)
    listener.on_reset(lambda: resets.append(time.monotonic()))
    await listener.start()
    try:
        assert listener.healthy and len(resets) == 1
        conn = await asyncpg.connect(database.superuser_url)
        try:
            await conn.execute("SELECT pg_notify('rapport_test', 'one')")
            await _until(lambda: _true(heard == ["one"]))
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'rapport-listener-test' AND datname = current_database()"
            )
            await _until(lambda: _true(not listener.healthy), 3.0)
            assert listener.max_age(60.0) == 1.0  # deaf: caches trust entries for a second at most
            await _until(lambda: _true(listener.healthy and len(resets) == 2), 5.0)
            await conn.execute("SELECT pg_notify('rapport_test', 'two')")
            await _until(lambda: _true(heard == ["one", "two"]))
        finally:
            await conn.close()
    finally:
        await listener.stop()


async def _true(value: bool) -> bool:
    return value
