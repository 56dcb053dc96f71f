"""Batched reads for the DataLoaders: pages (root or one per parent), counts, rows by id.

Each function is one SQL statement whatever the number of parents or ids, which is what
keeps the number of statements per request proportional to the depth of the query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from backend.context import TenantContext
from backend.errors import BadInput
from backend.query.entities import Entity
from backend.query.filters import Filter
from backend.query.sql import Ordering, Query, Scope, decode_cursor


@dataclass(frozen=True, slots=True)
class PageRequest:
    """A validated Relay page: ordering, filter, size and the decoded cursor key values."""

    ordering: Ordering
    filter: Filter | None
    size: int
    backward: bool = False
    after: list[Any] | None = None
    before: list[Any] | None = None

    @classmethod
    def from_args(
        cls,
        ordering: Ordering,
        filter: Filter | None,
        *,
        first: int | None,
        last: int | None,
        after: str | None,
        before: str | None,
        default: int,
        maximum: int,
    ) -> PageRequest:
        """Validate the Relay arguments: out of range is BAD_USER_INPUT, never a silent cut."""
        if first is not None and last is not None:
            raise BadInput("pass either first or last, not both", field="last")
        for name, value in (("first", first), ("last", last)):
            if value is not None and not 0 <= value <= maximum:
                raise BadInput(f"{name} must be between 0 and {maximum}", field=name)
        return cls(
            ordering,
            filter,
            size=last if last is not None else first if first is not None else default,
            backward=last is not None,
            after=decode_cursor(after, ordering, field="after") if after else None,
            before=decode_cursor(before, ordering, field="before") if before else None,
        )


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[asyncpg.Record]  # in display order; each has a `__cursor` column
    has_more: bool  # more rows beyond the page in the direction of pagination


def _conditions(q: Query, target: Entity, alias: str, request: PageRequest) -> str:
    parts = [q.visible(target, alias, request.filter)]
    if request.after is not None:
        parts.append(q.keyset(target, alias, request.ordering, request.after, after=True))
    if request.before is not None:
        parts.append(q.keyset(target, alias, request.ordering, request.before, after=False))
    return " AND ".join(parts)


def _page_select(q: Query, target: Entity, alias: str, request: PageRequest, extra: str = "") -> str:
    where = _conditions(q, target, alias, request)
    if extra:
        where = f"{extra} AND {where}"
    columns = ", ".join(f"{alias}.{c}" for c in target.select_list)
    return (
        f"SELECT {columns}, {q.cursor(target, alias, request.ordering)} AS __cursor FROM {target.table} {alias} "
        f"WHERE {where} ORDER BY {q.order_by(target, alias, request.ordering, reverse=request.backward)} "
        f"LIMIT {request.size + 1}"
    )


def _page(rows: list[asyncpg.Record], request: PageRequest) -> Page:
    has_more = len(rows) > request.size
    rows = rows[: request.size]
    if request.backward:
        rows.reverse()
    return Page(rows, has_more)


async def page(tx: TenantContext, target: Entity, request: PageRequest, *, scope: Scope | None = None) -> Page:
    q = Query(tx.tenant_id, scope)
    alias = q.alias()
    rows = await tx.fetch(_page_select(q, target, alias, request), *q.params.values)
    return _page(list(rows), request)


async def pages(
    tx: TenantContext,
    target: Entity,
    remote: str,
    parents: Sequence[UUID],
    request: PageRequest,
    *,
    scope: Scope | None = None,
) -> dict[UUID, Page]:
    """One page per parent id: the rows whose `remote` column equals the parent id."""
    q = Query(tx.tenant_id, scope)
    ids = q.param(list(parents), "uuid[]")
    alias = q.alias()
    inner = _page_select(q, target, alias, request, extra=f"{alias}.{target.column(remote).db} = __p.__parent")
    sql = f"SELECT __p.__parent, __r.* FROM unnest({ids}) AS __p(__parent) CROSS JOIN LATERAL ({inner}) __r"
    grouped: dict[UUID, list[asyncpg.Record]] = {parent: [] for parent in parents}
    for row in await tx.fetch(sql, *q.params.values):
        grouped[row["__parent"]].append(row)
    return {parent: _page(rows, request) for parent, rows in grouped.items()}


async def count(tx: TenantContext, target: Entity, filter: Filter | None, *, scope: Scope | None = None) -> int:
    q = Query(tx.tenant_id, scope)
    alias = q.alias()
    value: int = await tx.fetchval(
        f"SELECT count(*) FROM {target.table} {alias} WHERE {q.visible(target, alias, filter)}", *q.params.values
    )
    return value


async def counts(
    tx: TenantContext,
    target: Entity,
    remote: str,
    parents: Sequence[UUID],
    filter: Filter | None,
    *,
    scope: Scope | None = None,
) -> dict[UUID, int]:
    q = Query(tx.tenant_id, scope)
    ids = q.param(list(parents), "uuid[]")
    alias = q.alias()
    column = f"{alias}.{target.column(remote).db}"
    sql = (
        f"SELECT {column} AS parent, count(*) AS n FROM {target.table} {alias} "
        f"WHERE {column} = ANY({ids}) AND {q.visible(target, alias, filter)} GROUP BY 1"
    )
    found = {row["parent"]: row["n"] for row in await tx.fetch(sql, *q.params.values)}
    return {parent: found.get(parent, 0) for parent in parents}


def _beyond(q: Query, target: Entity, alias: str, request: PageRequest) -> str | None:
    """Rows at or before `after` (or at or after `before`): pageInfo's other direction."""
    values = request.after if request.after is not None else request.before
    if values is None:
        return None
    past = q.keyset(target, alias, request.ordering, values, after=request.after is not None)
    return f"{q.visible(target, alias, request.filter)} AND NOT ({past})"


async def exists_beyond(tx: TenantContext, target: Entity, request: PageRequest, *, scope: Scope | None = None) -> bool:
    q = Query(tx.tenant_id, scope)
    alias = q.alias()
    where = _beyond(q, target, alias, request)
    if where is None:
        return False
    return bool(
        await tx.fetchval(f"SELECT EXISTS (SELECT 1 FROM {target.table} {alias} WHERE {where})", *q.params.values)
    )


async def exists_beyond_per_parent(
    tx: TenantContext,
    target: Entity,
    remote: str,
    parents: Sequence[UUID],
    request: PageRequest,
    *,
    scope: Scope | None = None,
) -> dict[UUID, bool]:
    q = Query(tx.tenant_id, scope)
    alias = q.alias()
    where = _beyond(q, target, alias, request)
    if where is None:
        return dict.fromkeys(parents, False)
    ids = q.param(list(parents), "uuid[]")
    column = f"{alias}.{target.column(remote).db}"
    sql = f"SELECT DISTINCT {column} AS parent FROM {target.table} {alias} WHERE {column} = ANY({ids}) AND {where}"
    hits = {row["parent"] for row in await tx.fetch(sql, *q.params.values)}
    return {parent: parent in hits for parent in parents}


async def snapshot_visible(
    tx: TenantContext,
    target: Entity,
    row: dict[str, Any],
    *,
    scope: Scope | None = None,
    filter: Filter | None = None,
) -> bool:
    """Whether a row that no longer exists (`row`: its columns as they were, e.g. the outbox's
    record of a deletion) is one the scope reaches and `filter` keeps: the same conditions as
    every read, evaluated on the remembered row instead of the table."""
    q = Query(tx.tenant_id, scope)
    alias = q.alias()
    snapshot = q.param({**row, "tenant_id": str(tx.tenant_id)}, "jsonb")
    where = q.visible(target, alias, filter)
    sql = f"SELECT EXISTS (SELECT FROM jsonb_populate_record(NULL::{target.table}, {snapshot}) {alias} WHERE {where})"
    visible: bool = await tx.fetchval(sql, *q.params.values)
    return visible


async def by_ids(
    tx: TenantContext,
    target: Entity,
    ids: Sequence[UUID],
    *,
    scope: Scope | None = None,
    filter: Filter | None = None,
) -> dict[UUID, asyncpg.Record]:
    """The rows with these ids that the scope reaches (and `filter` keeps)."""
    q = Query(tx.tenant_id, scope)
    alias = q.alias()
    ids_param = q.param(list(ids), "uuid[]")
    columns = ", ".join(f"{alias}.{c}" for c in target.select_list)
    where = f"{alias}.id = ANY({ids_param}) AND {q.visible(target, alias, filter)}"
    sql = f"SELECT {columns} FROM {target.table} {alias} WHERE {where}"
    return {row["id"]: row for row in await tx.fetch(sql, *q.params.values)}
