"""Subscriptions over a real WebSocket against a real uvicorn: live events, resume without gap
or duplicate, tenants apart, field policy and record scopes, both protocols, credentials
checked while the socket lives, slow consumers cut off."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from backend.db import tenant_transaction
from backend.events import service as events
from backend.models import Tenant
from tests import factories
from tests.conftest import Api
from tests.events.ws import LEGACY_WS, connected, subscription

EVENTS = "subscription ($after: Int, $types: [String!]) { events(after: $after, types: $types) { seq type entity entityId changedFields actorKind actor at } }"
CREATE = "mutation ($n: String!) { accountCreate(input: {name: $n}) { account { id } } }"
UPDATE = "mutation ($id: ID!, $i: String!) { accountUpdate(id: $id, input: {industry: $i}) { account { id } } }"


async def _create(api: Api, tenant: Tenant, name: str, **token: Any) -> str:
    data = await api.data(tenant, CREATE, {"n": name}, **token)
    gid: str = data["accountCreate"]["account"]["id"]
    return gid


async def _latest(tenant: Tenant) -> int:
    async with tenant_transaction(tenant.id, readonly=True) as tx:
        latest: int = await tx.fetchval("SELECT coalesce(max(seq), 0) FROM events WHERE tenant_id = $1", tenant.id)
    return latest


async def test_live_events_then_resume_with_exactly_the_missed_ones(api: Api, tenant: Tenant) -> None:
    token = api.token(tenant)
    await _create(api, tenant, "First")  # the user exists now: later events are only ours
    async with subscription(api.url, token, EVENTS, {"types": ["account.*"]}) as client:
        gid = await _create(api, tenant, "Live")
        event = (await client.next())["events"]
        assert event["type"] == "account.created" and event["entity"] == "Account" and event["entityId"] == gid
        assert event["actorKind"] == "user" and event["actor"].startswith("VXNlcj")  # User:...
        seen = event["seq"]
    for industry in ("A", "B", "C"):  # while disconnected
        await api.data(tenant, UPDATE, {"id": gid, "i": industry})
    async with subscription(api.url, token, EVENTS, {"after": seen}) as client:
        missed = [(await client.next())["events"] for _ in range(3)]
        assert [e["seq"] for e in missed] == [seen + 1, seen + 2, seen + 3]
        assert [e["type"] for e in missed] == ["account.updated"] * 3
        assert all(e["changedFields"] == ["industry"] for e in missed)
        await client.quiet(0.3)
        await api.data(tenant, UPDATE, {"id": gid, "i": "D"})
        assert (await client.next())["events"]["seq"] == seen + 4


async def test_resume_pages_through_a_long_gap_and_refuses_a_pruned_one(api: Api, tenant: Tenant) -> None:
    token = api.token(tenant)
    async with tenant_transaction(tenant.id) as tx:
        for i in range(1205):
            await factories.account(tx, name=f"Bulk {i}")
    latest = await _latest(tenant)
    async with subscription(api.url, token, "subscription { events(after: 0) { seq } }") as client:
        seqs = [(await client.next())["events"]["seq"] for _ in range(latest)]
    assert seqs == list(range(1, latest + 1))
    async with tenant_transaction(tenant.id) as tx:
        assert await events.prune(tx, timedelta(0)) >= latest - 1
        oldest, _ = await events.bounds(tx)
    async with subscription(api.url, token, "subscription { events(after: 3) { seq } }") as client:
        error = await client.receive()
    assert error["type"] == "error" and error["payload"][0]["extensions"]["code"] == "EVENTS_EXPIRED"
    assert error["payload"][0]["extensions"]["oldest"] == oldest


async def test_tenants_see_only_their_own_events(api: Api, tenant: Tenant, other_tenant: Tenant) -> None:
    await _create(api, other_tenant, "B's first")
    async with subscription(api.url, api.token(other_tenant), EVENTS) as b_client:
        for i in range(3):
            await _create(api, tenant, f"A {i}")
        await b_client.quiet(0.5)
        gid = await _create(api, other_tenant, "B's own")
        assert (await b_client.next())["events"]["entityId"] == gid


async def test_legacy_protocol_streams_too(api: Api, tenant: Tenant) -> None:
    await _create(api, tenant, "First")
    seen = await _latest(tenant)
    async with subscription(api.url, api.token(tenant), EVENTS, {"after": seen}, protocol=LEGACY_WS) as client:
        gid = await _create(api, tenant, "Legacy")
        event = (await client.next())["events"]
        assert (event["seq"], event["entityId"]) == (seen + 1, gid)
        await client.send({"type": "stop", "id": "1"})
        assert (await client.receive()) == {"type": "complete", "id": "1"}


async def test_refused_credentials_close_with_the_protocols_code(api: Api) -> None:
    async with connected(api.url) as client:
        await client.send({"type": "connection_init", "payload": {"Authorization": "Bearer nonsense"}})
        assert await client.closed() == (4403, "Forbidden: authentication required")
    async with connected(api.url, LEGACY_WS) as client:
        refused = await client.init(None)
        assert refused["type"] == "connection_error"
        assert refused["payload"]["extensions"]["code"] == "UNAUTHENTICATED"
        assert (await client.closed())[0] == 4403
    async with connected(api.url) as client:
        await client.send({"type": "subscribe", "id": "1", "payload": {"query": "subscription { events { seq } }"}})
        assert await client.closed() == (4401, "Unauthorized")
    async with connected(api.url) as client:
        assert await client.closed(wait=15) == (4408, "Connection initialisation timeout")
