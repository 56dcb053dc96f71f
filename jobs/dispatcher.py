"""From outbox to queue: turns committed events into webhook deliveries and queues them.

It LISTENs on the outbox channel, where every write transaction's commit wakes its tenant
(backend/db.py; events, but also the delivery rows of pings, replays and resumes), and marks
the tenant; a single loop then syncs every marked tenant: in one tenant transaction, events
after each active endpoint's cursor become deliveries and the cursors move
(backend/webhooks/service.fan_out), and deliveries that need a message are marked queued
(`due`); after commit the messages go out. A burst of wake-ups for one tenant costs one sync.
The dispatcher's own transactions write no events and do not wake anyone (`wake=False`).

Nothing depends on a wake-up arriving: cursors live in the database. Every few seconds the
tenants' event heads are compared with the last look (a lost wake-up delays a delivery by
that much), and after a (re)connect of the listener and on every scheduler sweep every
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
        self._heads: dict[UUID, int] = {}
        listener.subscribe(events.CHANNEL, self._on_event)
        listener.on_reset(self.catch_up)

    def _on_event(self, payload: str) -> None:
        self.mark(events.notification(payload))

    async def check_heads(self) -> None:
        """Mark the tenants whose last event seq moved since the previous look."""
        heads = await db.event_heads()
        for tenant_id, seq in heads.items():
            if self._heads.get(tenant_id) != seq:
                self.mark(tenant_id)
        self._heads = heads

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
            queued = await webhooks.fan_out(tx) + await webhooks.due(tx, stale=STALE)
        if queued:
            await send(tenant_id, queued)
