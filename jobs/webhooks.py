"""Webhook deliveries: one message per attempt of one delivery (`webhooks.deliver`).

An attempt claims the delivery in the database (a duplicate message, or one for a delivery
that is done or whose endpoint is paused, does nothing), sends the signed body with the
SSRF-safe transport, records the outcome and, if it must be retried, sends itself again
with the backoff as Dramatiq delay. Messages lost with a broker are re-sent by the
dispatcher's sweep (jobs/dispatcher.py), so the database, not the broker, is the record.

Field policy at delivery time: a body carries only the data fields the endpoint's owner may
read now (a policy change applies to the next attempt). Evaluating it needs policies/,
which jobs may not import; the worker's composition root (backend/cli.py `worker`) injects
`AccessControl.readable` as `Runtime.readable`. Storing an allowed-field list on the endpoint
instead would go stale on every role or grant change.
"""

from __future__ import annotations

import asyncio
import time
from uuid import UUID

import dramatiq

from backend.db import tenant_transaction
from backend.webhooks import service as webhooks
from backend.webhooks import transport
from jobs import runtime
from jobs.broker import broker

USER_AGENT = "Rapport-Webhooks/1"


@dramatiq.actor(actor_name="webhooks.deliver", queue_name="webhooks", broker=broker)
def deliver(tenant_id: str, delivery_id: str) -> None:
    runtime.run(attempt(UUID(tenant_id), UUID(delivery_id)))


async def attempt(tenant_id: UUID, delivery_id: UUID) -> None:
    rt = runtime.current()
    settings = rt.settings
    async with tenant_transaction(tenant_id, actor=runtime.JOB, wake=False) as tx:
        claimed = await webhooks.claim(tx, delivery_id, settings)
    if claimed is None:
        return
    body = await webhooks.body(claimed, tenant_id, rt.readable)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Rapport-Delivery": str(delivery_id),
        "Rapport-Event": claimed.delivery.event_type,
        "Rapport-Signature": webhooks.signature(
            webhooks.signing_secret(settings.keyring, tenant_id, claimed.endpoint), int(time.time()), body
        ),
    }
    outcome = await transport.post(
        claimed.endpoint.url, body, headers, allow=rt.allow, timeout_s=settings.webhook_timeout_seconds,
        max_bytes=settings.webhook_max_response_kb * 1024,
    )  # fmt: skip
    # This one wakes the tenant's consumers: it may disable the endpoint, with an event.
    async with tenant_transaction(tenant_id, actor=runtime.JOB) as tx:
        result = await webhooks.record(
            tx, claimed, status=outcome.status, duration_ms=outcome.duration_ms, error=outcome.error, settings=settings
        )
    if result.retry_in is not None:
        await send(tenant_id, [delivery_id], delay=result.retry_in)


async def send(tenant_id: UUID, delivery_ids: list[UUID], *, delay: float = 0) -> None:
    """Queue attempts (the broker client blocks: off the event loop)."""

    def enqueue() -> None:
        for delivery_id in delivery_ids:
            deliver.send_with_options(args=(str(tenant_id), str(delivery_id)), delay=round(delay * 1000) or None)

    await asyncio.to_thread(enqueue)
