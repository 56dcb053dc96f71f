"""The audit log: explicit entries, and the admins' search over it.

Row changes are recorded by the database itself, so no write path can forget them: those of
the customer graph are the outbox's events (migration 0044), those of the other tables rows
written by the trigger `audit_changes` (0013). `record` adds what a row change does not say:
a policy or key change in the admin's terms, an export, a merge. All carry the transaction's
actor and request id. Readers see the view `audit_entries`: `audit_log` plus the row-change
events not yet archived into it; `archive` moves a tenant's pending ones (workers do it every
few seconds, pruning does it before deleting events). The log is append-only: the application
role cannot update or delete it.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from backend.context import ActorKind, TenantContext
from backend.errors import BadInput

_COLUMNS = "id, at, actor_kind, actor_id, request_id, action, entity, entity_id, before, after"


async def record(
    tx: TenantContext,
    action: str,
    entity: str,
    entity_id: UUID | None = None,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Append one entry (`action` like `policy.grant`, `api_key.create`, `export`, `merge`)."""
    await tx.execute(
        "INSERT INTO audit_log (tenant_id, actor_kind, actor_id, request_id, action, entity, entity_id, before, after)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb)",
        tx.tenant_id,
        tx.actor.kind.value,
        tx.actor.id,
        tx.request_id,
        action,
        entity,
        entity_id,
        _json(before),
        _json(after),
    )


async def archive(tx: TenantContext) -> int:
    """Copy the tenant's row changes not archived yet from the outbox into `audit_log`; returns
    how many. Readers see the same entries (ids, times) before and after."""
    archived: int = await tx.fetchval("SELECT archive_audit($1)", tx.tenant_id)
    return archived


def _json(value: dict[str, Any] | None) -> str | None:
    return None if value is None else orjson.dumps(value, default=str).decode()


@dataclass(frozen=True, slots=True)
class AuditFilter:
    actor_kind: ActorKind | None = None
    actor_id: UUID | None = None
    action: str | None = None  # exact, or a prefix ending in '.' (`policy.`)
    entity: str | None = None
    entity_id: UUID | None = None
    request_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: UUID
    at: datetime
    actor_kind: str
    actor_id: UUID | None
    request_id: str | None
    action: str
    entity: str
    entity_id: UUID | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    cursor: str


@dataclass(frozen=True, slots=True)
class AuditPage:
    entries: list[AuditEntry]
    has_more: bool


async def search(tx: TenantContext, where: AuditFilter, *, first: int, after: str | None = None) -> AuditPage:
    """Newest first; `after` is the cursor of the last entry of the previous page."""
    conditions = ["tenant_id = $1"]
    args: list[Any] = [tx.tenant_id]

    def add(sql: str, value: Any) -> None:
        args.append(value)
        conditions.append(sql.replace("?", f"${len(args)}"))

    if where.actor_kind is not None:
        add("actor_kind = ?", where.actor_kind.value)
    if where.actor_id is not None:
        add("actor_id = ?", where.actor_id)
    if where.action is not None:
        if where.action.endswith("."):
            add("starts_with(action, ?)", where.action)
        else:
            add("action = ?", where.action)
    if where.entity is not None:
        add("entity = ?", where.entity)
    if where.entity_id is not None:
        add("entity_id = ?", where.entity_id)
    if where.request_id is not None:
        add("request_id = ?", where.request_id)
    if where.since is not None:
        add("at >= ?", where.since)
    if where.until is not None:
        add("at < ?", where.until)
    if after is not None:
        at, entry_id = _decode_cursor(after)
        args.extend([at, entry_id])
        conditions.append(f"(at, id) < (${len(args) - 1}, ${len(args)})")
    rows = await tx.fetch(
        f"SELECT {_COLUMNS} FROM audit_entries WHERE {' AND '.join(conditions)} ORDER BY at DESC, id DESC "
        f"LIMIT {first + 1}",
        *args,
    )
    return AuditPage([_entry(r) for r in rows[:first]], len(rows) > first)


async def by_ids(tx: TenantContext, ids: list[UUID]) -> list[AuditEntry]:
    rows = await tx.fetch(
        f"SELECT {_COLUMNS} FROM audit_entries WHERE tenant_id = $1 AND id = ANY($2::uuid[])", tx.tenant_id, ids
    )
    return [_entry(r) for r in rows]


def _entry(row: asyncpg.Record) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        at=row["at"],
        actor_kind=row["actor_kind"],
        actor_id=row["actor_id"],
        request_id=row["request_id"],
        action=row["action"],
        entity=row["entity"],
        entity_id=row["entity_id"],
        before=_load(row["before"]),
        after=_load(row["after"]),
        cursor=base64.urlsafe_b64encode(f"{row['at'].isoformat()}|{row['id']}".encode()).decode(),
    )


def _load(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    loaded: dict[str, Any] = orjson.loads(value) if isinstance(value, str | bytes) else value
    return loaded


def _decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        at, _, entry_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(at), UUID(entry_id)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadInput("not a valid cursor", field="after") from None
