"""Outbox retention: `events.prune` deletes a tenant's events older than the retention, in the
real worker, and nothing of other tenants; the retention cannot be set below 7 days."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import dramatiq
import pytest

from backend.db import tenant_transaction
from backend.events import service as events
from backend.models import Tenant
from backend.settings import ConfigError, load_settings
from jobs.events import prune_tenant
from tests import factories
from tests.conftest import Database, Worker, eventually


async def _age(database: Database, tenant: Tenant, days: int, up_to_seq: int) -> None:
    """Make the tenant's first events `days` old (as the superuser: the app may not rewrite events)."""
    conn = await asyncpg.connect(database.superuser_url)
    try:
        await conn.execute(
            "UPDATE events SET at = now() - make_interval(days => $3) WHERE tenant_id = $1 AND seq <= $2",
            tenant.id,
            up_to_seq,
            days,
        )
    finally:
        await conn.close()


async def _accounts(tenant: Tenant, count: int) -> None:
    async with tenant_transaction(tenant.id) as tx:
        for _ in range(count):
            await factories.account(tx)


async def _bounds(tenant: Tenant) -> tuple[int, int]:
    async with tenant_transaction(tenant.id, readonly=True) as tx:
        return await events.bounds(tx)


async def test_pruning_deletes_only_what_is_older_than_the_retention(
    database: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    await _accounts(tenant, 4)
    await _accounts(other_tenant, 4)
    await _age(database, tenant, 10, 2)
    await _age(database, other_tenant, 10, 4)
    before = await _bounds(tenant)

    assert await prune_tenant(tenant.id, timedelta(days=7)) == 2
    assert await _bounds(tenant) == (2, before[1])  # after(2) is complete; the rest is kept
    assert await prune_tenant(tenant.id, timedelta(days=7)) == 0
    assert (await _bounds(other_tenant))[0] == 0  # another tenant's old events wait for its own prune


async def test_the_worker_prunes_a_tenant_on_its_message(database: Database, tenant: Tenant, worker: Worker) -> None:
    await _accounts(tenant, 3)
    await _age(database, tenant, 8, 2)
    worker.broker.enqueue(dramatiq.Message(
        queue_name="maintenance", actor_name="events.prune", args=(str(tenant.id),), kwargs={}, options={}
    ))  # fmt: skip

    async def pruned() -> bool:
        return (await _bounds(tenant))[0] == 2

    await eventually(pruned)


def test_the_retention_is_a_week_at_least() -> None:
    with pytest.raises(ConfigError, match="RAPPORT_EVENT_RETENTION_DAYS"):
        load_settings(event_retention_days=6)
