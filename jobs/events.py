"""Outbox retention: `events.prune` deletes one tenant's events older than
`RAPPORT_EVENT_RETENTION_DAYS` (the scheduler sends one message per tenant, hourly)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from uuid import UUID

import dramatiq

from backend import db
from backend.events import service as events
from jobs import runtime
from jobs.broker import broker


@dramatiq.actor(actor_name="events.prune", queue_name="maintenance", broker=broker)
def prune(tenant_id: str) -> None:
    runtime.run(prune_tenant(UUID(tenant_id), timedelta(days=runtime.current().settings.event_retention_days)))


async def prune_tenant(tenant_id: UUID, retention: timedelta) -> int:
    """Prune one tenant, in its own transaction; returns how many events went."""
    async with db.tenant_transaction(tenant_id, actor=runtime.JOB, wake=False) as tx:
        return await events.prune(tx, retention)


async def prune_all() -> None:
    """One `events.prune` message per tenant."""
    tenants = [str(row["id"]) for row in await db.tenant_directory()]

    def enqueue() -> None:
        for tenant_id in tenants:
            prune.send(tenant_id)

    await asyncio.to_thread(enqueue)
