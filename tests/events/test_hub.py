"""The event hub's taps: a consumer handed pages by its tenant's reader, that catches up from
the database whenever it could not take a page, without gap or duplicate."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime

import pytest
from graphql import Executor, parse

from backend.context import ActorKind
from backend.db import tenant_transaction
from backend.events.hub import EventHub
from backend.events.service import Event as StoredEvent
from backend.listener import Listener
from backend.models import Tenant
from backend.settings import Settings
from schema import schema
from schema.events.broadcast import execute_event
from schema.events.types import Event
from tests import factories


class Consumer:
    """Takes the pages it is handed while `taking` is set, refuses them otherwise."""

    def __init__(self) -> None:
        self.seqs: list[int] = []
        self.refused = 0
        self.taking = asyncio.Event()
        self.taking.set()
        self._handed = asyncio.Event()

    def deliver(self, events: Sequence[StoredEvent], after: int) -> bool:
        self._handed.set()
        if not self.taking.is_set():
            self.refused += 1
            return False
        self.seqs += [e.seq for e in events if e.seq > after]
        return True

    async def until(self, condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(10):
            while not condition():
                self._handed.clear()
                await self._handed.wait()

    async def drained(self) -> None:
        await self.taking.wait()


@pytest.fixture
async def hub(settings: Settings, app_db: None) -> AsyncIterator[EventHub]:
    listener = Listener(settings.database_url, name="rapport-hub-test")
    found = EventHub(listener, buffer=10)
    await listener.start()
    await found.start()
    yield found
    await found.stop()
    await listener.stop()


async def _accounts(tenant: Tenant, count: int) -> None:
    async with tenant_transaction(tenant.id) as tx:
        for _ in range(count):
            await factories.account(tx)


async def _latest(tenant: Tenant) -> int:
    async with tenant_transaction(tenant.id, readonly=True) as tx:
        latest: int = await tx.fetchval("SELECT coalesce(max(seq), 0) FROM events WHERE tenant_id = $1", tenant.id)
    return latest


async def test_a_tap_that_backs_up_catches_up_from_the_database(hub: EventHub, tenant: Tenant) -> None:
    consumer = Consumer()
    start = await _latest(tenant)
    tap = await hub.tap(tenant.id, consumer)
    await _accounts(tenant, 3)
    await consumer.until(lambda: len(consumer.seqs) == 3)
    consumer.taking.clear()
    await _accounts(tenant, 5)
    await consumer.until(lambda: consumer.refused == 1)
    await _accounts(tenant, 4)  # while it catches up (waiting to drain), nothing more is handed to it
    await asyncio.sleep(0.3)
    assert consumer.refused == 1
    consumer.taking.set()
    await _accounts(tenant, 2)  # live again after the catch-up
    await consumer.until(lambda: len(consumer.seqs) >= 14)
    await asyncio.sleep(0.2)
    assert consumer.seqs == list(range(start + 1, start + 15))
    hub.untap(tap)
    assert hub.tenants == 0


async def test_a_tap_after_a_seq_replays_it_first_then_goes_live(hub: EventHub, tenant: Tenant) -> None:
    start = await _latest(tenant)
    await _accounts(tenant, 1205)  # more than a page
    consumer = Consumer()
    tap = await hub.tap(tenant.id, consumer, after=start)
    await _accounts(tenant, 2)
    await consumer.until(lambda: len(consumer.seqs) >= 1207)
    await asyncio.sleep(0.2)
    assert consumer.seqs == list(range(start + 1, start + 1208))
    hub.untap(tap)


def test_events_leave_the_subscriptions_executor_as_it_was() -> None:
    built = Executor.build(schema._schema, parse("subscription { events { seq type } }"))
    assert isinstance(built, Executor)
    for seq in range(1, 21):
        stored = StoredEvent(seq, "account.created", "Account", None, (), None, ActorKind.SYSTEM, None, None,
                             datetime.now(UTC))  # fmt: skip
        result = execute_event(built.build_per_event_executor(Event(stored=stored)))
        assert not isinstance(result, asyncio.Future) and result.data == {  # type: ignore[union-attr]
            "events": {"seq": seq, "type": "account.created"}
        }
    assert built._relevant_sub_fields == {}  # graphql-core's memo would hold entries of every event
