"""Subscription fields over the outbox: the tenant's event stream, one account, tickets, counters.

Every field reads its events from the process's hub (backend/events/hub.py). For each event
delivered, the resolver opens a read-only transaction as the subscriber (RLS, record scope)
and keeps it open while the payload is executed (the executor runs the payload when the
generator yields), so the payload reads the current rows through the normal resolvers and
loaders, with the field policy checked at subscribe time and the record scope applied to
every row. An event of a row outside the subscriber's record scope is not delivered at all.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import UNSET
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from backend.dashboard import service as dashboard
from backend.db import tenant_transaction
from backend.errors import NotFound
from backend.events import service as events
from backend.events.service import Event as StoredEvent
from backend.naming import snake
from backend.query import reads
from backend.query.entities import entity
from backend.query.filters import Filter
from schema import loaders
from schema.context import Context, Live
from schema.events.types import AccountChange, Dashboard, Event, TicketUpdate
from schema.fields import MODULES, build
from schema.filters import custom_field_entities, graphql_value, to_filter
from schema.relay import from_global_id
from schema.scalars import Seq

if TYPE_CHECKING:
    from schema.tickets.inputs import TicketFilter

_ACCOUNT_TYPES = ("account.updated", "account.deleted")
_TICKET_TYPES = ("ticket.created", "ticket.updated", "ticket.deleted")


def _live(context: Context) -> Live:
    assert context.live is not None, "subscriptions run over WebSocket only"
    return context.live


@asynccontextmanager
async def _snapshot(context: Context) -> AsyncIterator[None]:
    """A read-only transaction as the subscriber, with fresh loaders, for one event."""
    principal = context.principal
    async with tenant_transaction(
        principal.tenant_id, actor=principal.actor, readonly=True, request_id=context.request_id
    ) as tx:
        context.tx = tx
        context.loaders = {}
        yield


def _scoped(context: Context, name: str) -> bool:
    """Whether the subscriber's record scope limits the rows of `name` it sees."""
    return name in MODULES and context.scope is not None and context.scope(entity(name)) is not None


async def _visible(context: Context, event: StoredEvent) -> bool:
    """Whether the subscriber may learn of the event: its row is in its record scope (a
    deleted row as the outbox recorded it last)."""
    if not _scoped(context, event.entity):
        return True
    if event.entity_id is None:
        return False
    if event.type.endswith(".deleted"):
        return await _deletion_visible(context, event)
    return await loaders.row_by_id(context, entity(event.entity), event.entity_id) is not None


async def _deletion_visible(context: Context, event: StoredEvent, condition: Filter | None = None) -> bool:
    """Whether the deleted row, in its last state (the event's data), was in the subscriber's
    record scope and matched `condition`."""
    if event.data is None:
        return False
    row = {snake(key): value for key, value in event.data.items()}
    return await reads.snapshot_visible(context.tx, entity(event.entity), row, scope=context.scope, filter=condition)


def _selects(selections: list[Selection], name: str) -> bool:
    for selection in selections:
        if isinstance(selection, SelectedField) and selection.name == name:
            return True
        if isinstance(selection, SelectedField | FragmentSpread | InlineFragment) and _selects(
            selection.selections, name
        ):
            return True
    return False


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="The tenant's events, in seq order. With `after`, first every retained event after that "
        "seq, then live ones, without gap or duplicate (EVENTS_EXPIRED when `after` is older than retention "
        "keeps). `types` keeps only those types; `ticket.*` keeps a family."
    )
    async def events(
        self, info: strawberry.Info, types: list[str] | None = None, after: Seq | None = None
    ) -> AsyncGenerator[Event, None]:
        context: Context = info.context
        live = _live(context)
        reads_rows = _selects(info.selected_fields, "node")
        stream = live.hub.stream(context.principal.tenant_id, after=after, types=types, on_live=live.on_live)
        async for stored in stream:
            if reads_rows or _scoped(context, stored.entity):
                async with _snapshot(context):
                    if await _visible(context, stored):
                        yield Event(stored=stored)
            else:
                yield Event(stored=stored)

    @strawberry.subscription(
        description="Changes of one account (updates and its deletion), with the account as it is now."
    )
    async def account_changed(self, info: strawberry.Info, id: strawberry.ID) -> AsyncGenerator[AccountChange, None]:
        context: Context = info.context
        live = _live(context)
        _, pk = from_global_id(id, expected="Account")
        target = entity("Account")
        stream = live.hub.stream(context.principal.tenant_id, types=_ACCOUNT_TYPES, on_live=live.on_live)
        async with _snapshot(context):
            if await loaders.row_by_id(context, target, pk) is None:
                raise NotFound("no such account", field="id")
        async for stored in stream:
            if stored.entity_id != pk:
                continue
            async with _snapshot(context):
                row = await loaders.row_by_id(context, target, pk)
                shown = row is not None or (stored.type == "account.deleted" and await _visible(context, stored))
            if shown:
                yield AccountChange(event=Event(stored=stored), account=build("Account", row))

    @strawberry.subscription(
        description="Tickets created, changed or deleted that match `filter` (evaluated on the ticket after "
        "the change; for a deletion, on its last state)."
    )
    async def ticket_updates(
        self,
        info: strawberry.Info,
        filter: Annotated[TicketFilter, strawberry.lazy("schema.tickets.inputs")] | None = UNSET,
    ) -> AsyncGenerator[TicketUpdate, None]:
        context: Context = info.context
        live = _live(context)
        target = entity("Ticket")
        value = graphql_value(filter) if filter else None
        stream = live.hub.stream(context.principal.tenant_id, types=_TICKET_TYPES, on_live=live.on_live)
        async with _snapshot(context):
            needed = custom_field_entities(target, value, [])
            kinds = {name: await loaders.custom_kinds(context, name) for name in needed}
        condition = to_filter(value, target, kinds)
        async for stored in stream:
            if stored.entity_id is None:
                continue
            if stored.type == "ticket.deleted":
                async with _snapshot(context):
                    shown = await _deletion_visible(context, stored, condition)
                if shown:
                    yield TicketUpdate(event=Event(stored=stored), ticket=None)
                continue
            async with _snapshot(context):
                found = await reads.by_ids(
                    context.tx, target, [stored.entity_id], scope=context.scope, filter=condition
                )
                row = found.get(stored.entity_id)
                if row is not None:
                    yield TicketUpdate(event=Event(stored=stored), ticket=build("Ticket", row))

    @strawberry.subscription(
        description="Live counters: sent at once, then after changes of tickets or orders, at most once per "
        "RAPPORT_DASHBOARD_INTERVAL_SECONDS."
    )
    async def dashboard_updates(self, info: strawberry.Info) -> AsyncGenerator[Dashboard, None]:
        context: Context = info.context
        live = _live(context)
        interval = context.settings.dashboard_interval_seconds
        covered, sent_at = -1, float("-inf")
        async for seq in live.hub.changes(context.principal.tenant_id, dashboard.RELEVANT, on_live=live.on_live):
            if seq <= covered:
                continue  # already counted
            wait = sent_at + interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            async with _snapshot(context):
                _, covered = await events.bounds(context.tx)
                counters = await dashboard.counters(context.tx, scope=context.scope)
            sent_at = time.monotonic()
            yield Dashboard.of(counters, covered)
