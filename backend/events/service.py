"""The transactional outbox: the one source of events for subscriptions, webhooks and automation.

Row changes of the customer graph are recorded by the database (deferred trigger
`record_event`, migration 0040) in the writing transaction, so an event exists exactly when
its change committed. Each tenant's events are numbered 1, 2, 3... by `seq`, without gaps and
in commit order: a reader that has seen `seq` n can resume with `after(n)` and miss nothing.
After a write transaction commits, the writing process sends NOTIFY on `CHANNEL` with the
tenant id (backend/db.py, coalesced); consumers then read after their cursor. A wake-up can
be late or lost (a process killed right after its commit, a write made outside Rapport), so
consumers also catch up on their own every few seconds.

Event types are `<entity>.created|updated|deleted` for every row change, plus
`ticket.status_changed`, `ticket.assigned`, `order.status_changed`; a feedback row arrives
as `feedback.received`. `emit` adds events that are not row changes.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from backend.audit import service as audit
from backend.context import ActorKind, TenantContext
from backend.errors import BadInput
from backend.naming import camel

CHANNEL = "rapport_events"
PAGE_MAX = 1000

_COLUMNS = "seq, type, entity, entity_id, changed, data, actor_kind, actor_id, request_id, at"


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    type: str  # ticket.status_changed
    entity: str  # the GraphQL type of the row: Ticket
    entity_id: UUID | None
    changed: tuple[str, ...]  # GraphQL input names of the changed fields (updates): ("status",)
    data: dict[str, Any] | None  # the row after the change (before it, for a deletion), GraphQL names
    actor_kind: ActorKind
    actor_id: UUID | None
    request_id: str | None
    at: datetime


def notification(payload: str) -> UUID:
    """The tenant a NOTIFY on `CHANNEL` wakes up for."""
    return UUID(payload)


async def after(
    tx: TenantContext, seq: int, *, types: Collection[str] | None = None, limit: int = PAGE_MAX
) -> list[Event]:
    """The tenant's events after `seq`, oldest first, at most `limit` (page on with the last seq).

    `types` keeps only those types; an entry ending in `.` or `.*` keeps a family
    (`ticket.*`), and `*` keeps every type."""
    if seq < 0:
        raise BadInput("a seq is never negative", field="after")
    exact, prefixes = _type_filter(types)
    rows = await tx.fetch(
        f"SELECT {_COLUMNS} FROM events WHERE tenant_id = $1 AND seq > $2 "
        "AND ($3::text[] IS NULL OR type = ANY ($3) OR split_part(type, '.', 1) || '.' = ANY ($4)) "
        "ORDER BY seq LIMIT $5",
        tx.tenant_id,
        seq,
        exact,
        prefixes,
        min(limit, PAGE_MAX),
    )
    return [_event(row) for row in rows]


async def bounds(tx: TenantContext) -> tuple[int, int]:
    """(oldest, latest): `after(s)` is complete for every s >= oldest (retention pruned what
    is older); latest is the last seq, 0 before the tenant's first event. Pruning keeps the
    newest event, so both stay meaningful."""
    row = await tx.fetchrow(
        "SELECT coalesce(min(seq) - 1, 0) AS oldest, coalesce(max(seq), 0) AS latest FROM events WHERE tenant_id = $1",
        tx.tenant_id,
    )
    assert row is not None
    return row["oldest"], row["latest"]


async def emit(
    tx: TenantContext, type: str, entity: str, entity_id: UUID | None, data: dict[str, Any] | None = None
) -> int:
    """Append an event that is not a row change (e.g. `webhook.disabled`); it commits or rolls
    back with `tx`. Returns its seq. The tenant's counter stays locked until `tx` ends: emit
    late in a transaction."""
    seq: int = await tx.fetchval(
        "SELECT append_event($1, $2, $3, $4, '{}', $5::jsonb)", tx.tenant_id, type, entity, entity_id, data
    )
    return seq


async def prune(tx: TenantContext, retention: timedelta) -> int:
    """Delete the tenant's events older than `retention`; returns how many. The newest event is
    always kept, so the counter and `bounds` stay meaningful. Row changes go to the audit log
    first: retention never loses an audit entry."""
    await audit.archive(tx)
    # Seqs are in commit order, so the old events are the prefix before the first recent one:
    # found walking the primary key from its start, with no index on `at`.
    status = await tx.execute(
        "DELETE FROM events WHERE tenant_id = $1 AND seq < coalesce("
        "(SELECT min(seq) FROM events WHERE tenant_id = $1 AND at >= now() - $2::interval), "
        "(SELECT max(seq) FROM events WHERE tenant_id = $1))",
        tx.tenant_id,
        retention,
    )
    return int(status.rsplit(" ", 1)[1])


def matches(types: Collection[str] | None, type: str) -> bool:
    """Whether `after(..., types=types)` keeps an event of `type`."""
    exact, prefixes = _type_filter(types)
    return exact is None or type in exact or type.split(".", 1)[0] + "." in prefixes


def _type_filter(types: Collection[str] | None) -> tuple[list[str] | None, list[str]]:
    if types is None or "*" in types:
        return None, []
    exact, prefixes = [], []
    for t in types:
        family = t.removesuffix("*")
        if family.endswith("."):
            prefixes.append(family)
        else:
            exact.append(t)
    return exact, prefixes


def _event(row: asyncpg.Record) -> Event:
    data = row["data"]
    return Event(
        seq=row["seq"],
        type=row["type"],
        entity=row["entity"],
        entity_id=row["entity_id"],
        changed=tuple(camel(c) for c in row["changed"]),
        data=None if data is None else {camel(k): v for k, v in data.items()},
        actor_kind=ActorKind(row["actor_kind"]),
        actor_id=row["actor_id"],
        request_id=row["request_id"],
        at=row["at"],
    )
