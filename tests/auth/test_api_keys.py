"""API keys: shown once, stored as hashes, roles, last use, rotation with a grace period,
revocation and expiry that take effect within a second, cross-tenant isolation."""

from __future__ import annotations

import asyncio
import hashlib
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from backend.api_keys import service as api_keys
from backend.db import tenant_transaction
from backend.models import Tenant
from tests import factories
from tests.access.test_admin_api import ok, with_key
from tests.conftest import Api, Database

KEY = "mutation ($i: ApiKeyCreateInput!) { apiKeyCreate(input: $i) { secret apiKey { id name roles } } }"
ACCOUNTS = "{ accounts { nodes { name } } }"


async def new_key(api: Api, tenant: Tenant, roles: list[str], **extra: Any) -> tuple[str, str]:
    data = await ok(api, tenant, KEY, {"i": {"name": "integration", "roles": roles, **extra}})
    return data["apiKeyCreate"]["secret"], data["apiKeyCreate"]["apiKey"]["id"]


def client_from(api: Api, address: str) -> httpx.AsyncClient:
    """A client whose requests come from another loopback address: failed authentications are
    rate-limited per source, and these tests fail on purpose."""
    return httpx.AsyncClient(base_url=api.url, transport=httpx.AsyncHTTPTransport(local_address=address), timeout=30)


async def refused_within(api: Api, secret: str, seconds: float = 1.0) -> float:
    """Seconds until the key is refused (fails the test if it takes longer than `seconds`)."""
    start = time.monotonic()
    async with client_from(api, "127.0.0.2") as client:
        return await _refused(client, secret, start, seconds)


async def _refused(client: httpx.AsyncClient, secret: str, start: float, seconds: float) -> float:
    while True:
        response = await client.post(
            "/graphql", json={"query": ACCOUNTS}, headers={"Authorization": f"Bearer {secret}"}
        )
        if response.status_code == 401:
            assert response.json()["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}
            return time.monotonic() - start
        assert time.monotonic() - start < seconds, "the key still works"
        await asyncio.sleep(0.02)


async def test_a_key_acts_with_its_roles_in_its_tenant_only(api: Api, tenant: Tenant, other_tenant: Tenant) -> None:
    async with tenant_transaction(tenant.id) as tx:
        await factories.account(tx, name="Mine")
    async with tenant_transaction(other_tenant.id) as tx:
        await factories.account(tx, name="Theirs")
    secret, _ = await new_key(api, tenant, ["integrator"])
    assert secret.startswith("rpk_") and len(secret) > 40
    body = await with_key(api, secret, ACCOUNTS)
    assert body["data"]["accounts"]["nodes"] == [{"name": "Mine"}]
    body = await with_key(api, secret, "{ viewer { roles tenant { name } } }")
    assert body["data"]["viewer"] == {"roles": ["integrator"], "tenant": {"name": tenant.name}}
    # The integrator role does not administer anything.
    assert (await with_key(api, secret, KEY, {"i": {"name": "x"}}))["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_only_the_hash_of_the_secret_is_stored(api: Api, tenant: Tenant, database: Database) -> None:
    secret, _ = await new_key(api, tenant, ["viewer"])
    conn = await asyncpg.connect(database.superuser_url)
    try:
        stored = await conn.fetch("SELECT secret_hash, prefix FROM api_key_secrets WHERE tenant_id = $1", tenant.id)
        dumped = await conn.fetchval(
            "SELECT string_agg(t::text, ' ') FROM api_key_secrets t WHERE tenant_id = $1", tenant.id
        )
        audited = await conn.fetchval(
            "SELECT string_agg(a::text, ' ') FROM audit_log a WHERE tenant_id = $1", tenant.id
        )
    finally:
        await conn.close()
    assert [(r["secret_hash"], r["prefix"]) for r in stored] == [
        (hashlib.sha256(secret.encode()).hexdigest(), secret[:12])
    ]
    assert secret not in dumped and secret not in audited
    assert stored[0]["secret_hash"] not in audited  # the audit trigger leaves the hash out too


async def test_last_use_is_recorded(api: Api, tenant: Tenant) -> None:
    secret, _ = await new_key(api, tenant, ["viewer"])
    listed = await ok(api, tenant, "{ apiKeys { lastUsedAt secrets { lastUsedAt } } }")
    assert listed["apiKeys"] == [{"lastUsedAt": None, "secrets": [{"lastUsedAt": None}]}]
    assert "errors" not in await with_key(api, secret, ACCOUNTS)
    for _ in range(100):  # written off the request path
        listed = await ok(api, tenant, "{ apiKeys { lastUsedAt } }")
        if listed["apiKeys"][0]["lastUsedAt"]:
            break
        await asyncio.sleep(0.02)
    used = datetime.fromisoformat(listed["apiKeys"][0]["lastUsedAt"])
    assert abs(used - datetime.now(UTC)) < timedelta(seconds=30)


async def test_rotation_keeps_the_old_secret_for_the_grace_period(api: Api, tenant: Tenant) -> None:
    old, key_id = await new_key(api, tenant, ["viewer"])
    rotate = (
        "mutation ($id: ID!, $g: Int!) { apiKeyRotate(id: $id, gracePeriodSeconds: $g) { secret apiKey { roles } } }"
    )
    rotated = await ok(api, tenant, rotate, {"id": key_id, "g": 3600})
    new = rotated["apiKeyRotate"]["secret"]
    assert new != old and rotated["apiKeyRotate"]["apiKey"]["roles"] == ["viewer"]
    for secret in (old, new):
        assert "errors" not in await with_key(api, secret, ACCOUNTS)
    # Rotating again without grace ends both earlier secrets at once; the newest works.
    newest = (await ok(api, tenant, rotate, {"id": key_id, "g": 0}))["apiKeyRotate"]["secret"]
    await refused_within(api, old)
    await refused_within(api, new)
    assert "errors" not in await with_key(api, newest, ACCOUNTS)
    listed = await ok(api, tenant, "{ apiKeys { secrets { prefix expiresAt } } }")
    assert [s["expiresAt"] is None for s in listed["apiKeys"][0]["secrets"]] == [False, False, True]


async def test_revocation_takes_effect_within_a_second(api: Api, tenant: Tenant) -> None:
    secret, key_id = await new_key(api, tenant, ["viewer"])
    assert "errors" not in await with_key(api, secret, ACCOUNTS)  # cached now
    revoked = await ok(api, tenant, "mutation ($id: ID!) { apiKeyRevoke(id: $id) { revokedAt } }", {"id": key_id})
    assert revoked["apiKeyRevoke"]["revokedAt"]
    assert await refused_within(api, secret) < 1.0


async def test_an_expired_key_is_refused(api: Api, tenant: Tenant) -> None:
    async with tenant_transaction(tenant.id) as tx:
        key, secret = await api_keys.create(tx, name="short", expires_at=datetime.now(UTC) + timedelta(seconds=0.6),
                                            created_by=None)  # fmt: skip
        await tx.execute(
            "INSERT INTO access_bindings (tenant_id, id, role_id, api_key_id) "
            "SELECT $1, gen_random_uuid(), id, $2 FROM access_roles WHERE tenant_id = $1 AND name = 'viewer'",
            tenant.id,
            key.id,
        )
    assert "errors" not in await with_key(api, secret, ACCOUNTS)
    await asyncio.sleep(0.6)
    await refused_within(api, secret, 0.2)
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    body = await api.graphql(tenant, KEY, {"i": {"name": "late", "expiresAt": past}})
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "expiresAt"}


async def test_unknown_and_malformed_keys_get_the_same_answer(api: Api) -> None:
    async with client_from(api, "127.0.0.3") as client:
        responses = [
            await client.post("/graphql", json={"query": ACCOUNTS}, headers={"Authorization": f"Bearer {secret}"})
            for secret in ["rpk_" + "A" * 43, "rpk_", "rpk_' OR 1=1 --"]
        ]
    for response in responses:
        assert response.status_code == 401
        assert response.json() == {
            "errors": [{"message": "authentication required", "extensions": {"code": "UNAUTHENTICATED"}}],
            "data": None,
        }
