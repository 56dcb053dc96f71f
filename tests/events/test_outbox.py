"""The outbox: an event per committed row change, numbered per tenant without gaps, in commit
order; nothing for a rolled-back change; NOTIFY after commit; tenants see only their own."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from backend import db
from backend.context import Actor, ActorKind
from backend.db import tenant_transaction
from backend.events import service as events
from backend.models import Tenant
from backend.settings import Settings
from tests import factories
from tests.conftest import Api


async def _events(tenant: Tenant, after: int = 0, **kwargs: Any) -> list[events.Event]:
    async with tenant_transaction(tenant.id, readonly=True) as tx:
        return await events.after(tx, after, **kwargs)


async def test_mutations_record_created_updated_deleted_with_actor_and_changes(api: Api, tenant: Tenant) -> None:
    created = await api.graphql(tenant, 'mutation { accountCreate(input: {name: "Acme"}) { account { id } } }')
    gid = created["data"]["accountCreate"]["account"]["id"]
    await api.graphql(
        tenant, f'mutation {{ accountUpdate(id: "{gid}", input: {{industry: "Retail"}}) {{ account {{ id }} }} }}'
    )
    await api.graphql(tenant, f'mutation {{ accountDelete(id: "{gid}") {{ deletedId }} }}')

    (provisioned, *found) = await _events(tenant)
    assert provisioned.type == "user.created"  # the token's user, on its first request
    assert [(e.seq, e.type, e.entity) for e in found] == [
        (2, "account.created", "Account"),
        (3, "account.updated", "Account"),
        (4, "account.deleted", "Account"),
    ]
    assert len({e.entity_id for e in found}) == 1
    assert found[1].changed == ("industry",)
    assert found[0].data is not None and found[0].data["name"] == "Acme" and "tenantId" not in found[0].data
    assert found[2].data is not None and found[2].data["industry"] == "Retail"
    assert all(e.actor_kind is ActorKind.USER and e.actor_id is not None and e.request_id for e in found)


async def test_a_rolled_back_mutation_leaves_no_event(api: Api, tenant: Tenant) -> None:
    body = await api.graphql(
        tenant, 'mutation { accountsCreate(inputs: [{name: "Fine"}, {name: ""}]) { accounts { id } } }'
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    with pytest.raises(RuntimeError):
        async with tenant_transaction(tenant.id) as tx:
            await factories.account(tx)
            raise RuntimeError("abort")
    assert [e.type for e in await _events(tenant)] == ["user.created"]


async def test_domain_events_follow_the_column_that_changed(tenant: Tenant) -> None:
    async with tenant_transaction(tenant.id) as tx:
        account = await factories.account(tx)
        ticket = await factories.ticket(tx, account)
        await factories.feedback(tx, account)
    async with tenant_transaction(tenant.id) as tx:
        await tx.execute("UPDATE tickets SET status = 'closed' WHERE tenant_id = $1 AND id = $2", tenant.id, ticket.id)
        await tx.execute("UPDATE tickets SET updated_at = now() WHERE tenant_id = $1", tenant.id)  # no change
    types = [e.type for e in await _events(tenant)]
    assert types == [
        "account.created",
        "ticket.created",
        "feedback.received",
        "ticket.updated",
        "ticket.status_changed",
    ]
    assert [e.type for e in await _events(tenant, types=["ticket.*"])] == [
        "ticket.created", "ticket.updated", "ticket.status_changed"
    ]  # fmt: skip
    assert [e.seq for e in await _events(tenant, 3, types=["ticket.status_changed", "feedback.received"])] == [5]
    assert [e.type for e in await _events(tenant, types=["*"])] == types
    # The same rule in memory, for consumers that filter events they already hold.
    assert [t for t in types if events.matches(["ticket.*", "feedback.received"], t)] == types[1:]
    assert all(events.matches(["*"], t) and events.matches(None, t) for t in types)


async def test_concurrent_writers_get_gapless_seqs_in_commit_order(tenant: Tenant) -> None:
    """Writers hold their transactions open for varying times while a reader keeps reading
    after its cursor: it must never see a seq before every smaller one is visible (a later
    seq committing first would make a resuming reader skip the earlier one)."""
    seen: list[int] = []
    done = asyncio.Event()

    async def writer(i: int) -> None:
        async with tenant_transaction(tenant.id) as tx:
            await factories.account(tx, name=f"Writer {i}")
            await asyncio.sleep(0.01 * (i % 4))

    async def reader() -> None:
        while not done.is_set() or len(seen) < 30:
            batch = await _events(tenant, seen[-1] if seen else 0)
            seen.extend(e.seq for e in batch)
            await asyncio.sleep(0)

    reading = asyncio.create_task(reader())
    await asyncio.gather(*(writer(i) for i in range(30)))
    done.set()
    await asyncio.wait_for(reading, 10)
    assert seen == list(range(1, 31))


async def test_commits_wake_consumers_with_the_tenant(settings: Settings, tenant: Tenant) -> None:
    assert settings.database_url is not None
    heard: list[object] = []
    listener = await asyncpg.connect(settings.database_url)
    await listener.add_listener(events.CHANNEL, lambda *args: heard.append(events.notification(args[3])))
    try:
        async with tenant_transaction(tenant.id) as tx:
            await factories.account(tx)
        for _ in range(100):
            if heard:
                break
            await asyncio.sleep(0.02)
    finally:
        await listener.close()
    assert heard == [tenant.id]
    assert (await db.event_heads())[tenant.id] == 1


async def test_bookkeeping_transactions_do_not_wake_consumers(
    settings: Settings, tenant: Tenant, other_tenant: Tenant
) -> None:
    """`wake=False` (consumers' own writes, such as webhook cursors) sends no wake-up; a later
    commit's wake-up arriving first proves it, as one task sends them in commit order."""
    assert settings.database_url is not None
    heard: list[object] = []
    listener = await asyncpg.connect(settings.database_url)
    await listener.add_listener(events.CHANNEL, lambda *args: heard.append(events.notification(args[3])))
    try:
        async with tenant_transaction(tenant.id, wake=False) as tx:
            await factories.account(tx)
        async with tenant_transaction(other_tenant.id) as tx:
            await factories.account(tx)
        for _ in range(100):
            if other_tenant.id in heard:
                break
            await asyncio.sleep(0.02)
    finally:
        await listener.close()
    assert other_tenant.id in heard and tenant.id not in heard


async def test_tenants_see_only_their_own_events(tenant: Tenant, other_tenant: Tenant) -> None:
    async with tenant_transaction(tenant.id) as tx:
        await factories.account(tx)
    async with tenant_transaction(other_tenant.id) as tx:
        await factories.account(tx)
        await factories.account(tx)
        assert await tx.fetchval("SELECT count(*) FROM events") == 0  # recorded at commit
    async with tenant_transaction(other_tenant.id) as tx:
        # Even without the tenant filter, RLS shows only this tenant's events.
        assert await tx.fetchval("SELECT count(*) FROM events") == 2
    assert [e.seq for e in await _events(tenant)] == [1]
    with pytest.raises(asyncpg.InsufficientPrivilegeError):  # RLS: no event for another tenant
        async with tenant_transaction(tenant.id) as tx:
            await tx.fetchval(
                "SELECT append_event($1, 'account.created', 'Account', NULL, '{}', NULL)", other_tenant.id
            )


async def test_emit_and_bounds_and_pruning_keep_the_newest(tenant: Tenant) -> None:
    job = Actor(ActorKind.JOB)
    async with tenant_transaction(tenant.id, actor=job) as tx:
        assert await events.bounds(tx) == (0, 0)
        await factories.account(tx)
        seq = await events.emit(tx, "webhook.disabled", "Webhook", None, {"reason": "failing"})
    assert seq == 1  # emitted at once; the row change is numbered at commit
    async with tenant_transaction(tenant.id) as tx:
        assert await events.bounds(tx) == (0, 2)
        assert await events.prune(tx, timedelta(days=7)) == 0
        assert await events.prune(tx, timedelta(0)) == 1
        assert await events.bounds(tx) == (1, 2)
    (kept,) = await _events(tenant)
    assert (kept.seq, kept.type, kept.actor_kind) == (2, "account.created", ActorKind.JOB)


async def test_a_negative_after_is_bad_input(tenant: Tenant) -> None:
    with pytest.raises(Exception, match="never negative"):
        await _events(tenant, -1)
