"""Periodic work of a worker process: every few seconds a look at the tenants' event heads (lost
wake-ups) and the audit archiving, every minute a dispatcher catch-up of every tenant (lost
messages, expired leases), every hour outbox retention (one `events.prune` message per tenant).

Every worker process runs it; all of it is idempotent, so several schedulers only repeat work.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from jobs import audit, events
from jobs.dispatcher import Dispatcher

log = logging.getLogger("rapport.scheduler")
HEADS_SECONDS = 2.0
SWEEP_SECONDS = 60.0
ARCHIVE_SECONDS = 5.0
PRUNE_SECONDS = 3600.0


async def run(dispatcher: Dispatcher) -> None:
    async def sweep() -> None:
        dispatcher.catch_up()

    await asyncio.gather(
        _every(HEADS_SECONDS, dispatcher.check_heads),
        _every(ARCHIVE_SECONDS, audit.archive_backlog),
        _every(SWEEP_SECONDS, sweep),
        _every(PRUNE_SECONDS, events.prune_all),
    )


async def _every(seconds: float, work: Callable[[], Awaitable[object]]) -> None:
    while True:
        try:
            await work()
        except Exception:  # the database or the broker is away: next round
            log.exception("periodic work failed")
        await asyncio.sleep(seconds)
