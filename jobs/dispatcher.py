"""From outbox to queue: turns committed events into webhook deliveries and queues them.

It LISTENs on the outbox channel, where every write transaction's commit wakes its tenant
(backend/db.py; events, but also the delivery rows of pings, replays and resumes), and marks
the tenant; a single loop then syncs every marked tenant: in one tenant transaction, events
after each active endpoint's cursor become deliveries and the cursors move
(backend/webhooks/service.fan_out), and deliveries that need a message are marked queued
(`due`); after commit the messages go out. A burst of wake-ups for one tenant costs one sync.
The dispatcher's own transactions write no events and do not wake anyone (`wake=False`).

Nothing depends on a wake-up arriving: cursors live in the database. Every few seconds the
tenants' event heads are compared with the latest seq each tenant's last sync saw (a lost
wake-up delays a delivery by that much), and after a (re)connect of the listener and on every scheduler sweep every
tenant is synced ("catch up"), which also re-queues deliveries whose message was lost or
whose worker died mid-attempt.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from uuid import UUID

from backend import db
from backend.events import service as events
from backend.listener import Listener
from backend.webhooks import service as webhooks
from jobs import runtime
from jobs.webhooks import send

log = logging.getLogger("rapport.dispatcher")
# A delivery this overdue has lost its message (or its worker): queue it again. Duplicates
# are harmless (an attempt claims its delivery first), so this only bounds the delay.
STALE = timedelta(minutes=2)
_RETRY_PAUSE = 1.0


class Dispatcher:
    def __init__(self, listener: Listener) -> None:
        self._marked: set[UUID] = set()
        self._everyone = True  # catch up at start
        self._wake = asyncio.Event()
        self._seen: dict[UUID, int] = {}  # per tenant, the latest seq a sync has fanned out
        listener.subscribe(events.CHANNEL, self._on_event)
        listener.on_reset(self.catch_up)

    def _on_event(self, payload: str) -> None:
        self.mark(events.notification(payload))

    async def check_heads(self) -> None:
        """Mark the tenants with events no sync of this process has seen (a lost wake-up)."""
        for tenant_id, seq in (await db.event_heads()).items():
            if seq > self._seen.get(tenant_id, -1):
                self.mark(tenant_id)

    def mark(self, tenant_id: UUID) -> None:
        self._marked.add(tenant_id)
        self._wake.set()

    def catch_up(self) -> None:
        """Sync every tenant soon (notifications may have been missed)."""
        self._everyone = True
        self._wake.set()

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            marked, self._marked = self._marked, set()
            if self._everyone:
                self._everyone = False
                try:
                    marked |= {row["id"] for row in await db.tenant_directory()}
                except Exception:  # the database is away: try again shortly
                    log.exception("cannot list tenants")
                    await self._later(marked, everyone=True)
                    continue
            failed = set()
            for tenant_id in marked:
                try:
                    await self.sync(tenant_id)
                except Exception:
                    log.exception("webhook dispatch failed for tenant %s", tenant_id)
                    failed.add(tenant_id)
            if failed:
                await self._later(failed)

    async def _later(self, tenants: set[UUID], *, everyone: bool = False) -> None:
        await asyncio.sleep(_RETRY_PAUSE)
        self._marked |= tenants
        self._everyone |= everyone
        self._wake.set()

    async def sync(self, tenant_id: UUID) -> None:
        async with db.tenant_transaction(tenant_id, actor=runtime.JOB, wake=False) as tx:
            created, latest = await webhooks.fan_out(tx)
            queued = created + await webhooks.due(tx, stale=STALE)
        self._seen[tenant_id] = max(latest, self._seen.get(tenant_id, 0))
        if queued:
            await send(tenant_id, queued)
