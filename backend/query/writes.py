"""Row writes with RETURNING, so a response carries exactly what the database holds
(including `version`/`updated_at` maintained by triggers) without a second query.

Database errors that a client can cause become coded errors: a unique violation is CONFLICT
on the field it concerns, a missing reference BAD_USER_INPUT, a row still referenced CONFLICT.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

import asyncpg

from backend.context import TenantContext
from backend.errors import BadInput, Conflict, FieldError, Forbidden, NotFound
from backend.naming import camel
from backend.query.entities import SQL_TYPES, Column, Entity, Kind, entity
from backend.query.filters import Filter
from backend.query.sql import Query


def _columns_sql(target: Entity) -> str:
    return ", ".join(target.select_list)


def _db_value(column_kind: Kind, value: Any) -> Any:
    return getattr(value, "value", value) if column_kind is Kind.ENUM else value


async def insert(tx: TenantContext, target: Entity, rows: Sequence[Mapping[str, Any]]) -> list[asyncpg.Record]:
    """Insert rows (model field names -> values, all rows the same keys); returns them in order.

    One row is a plain VALUES insert; several are one INSERT ... SELECT FROM unnest(arrays).
    """
    if not rows:
        return []
    if len(rows) == 1:
        sql, values = insert_one(target, rows[0])
        async with translated(target):
            row = await tx.fetchrow(sql, *values)
        assert row is not None
        return [row]
    names = list(rows[0])
    columns = [target.column(n) for n in names]
    column_list = ", ".join(c.db for c in columns)
    arrays = ", ".join(
        f"${i + 1}::{SQL_TYPES[c.kind] if c.kind is not Kind.ARRAY else 'text[]'}[]" for i, c in enumerate(columns)
    )
    sql = f"INSERT INTO {target.table} ({column_list}) SELECT * FROM unnest({arrays}) RETURNING {_columns_sql(target)}"
    values = [[_db_value(c.kind, row[c.name]) for row in rows] for c in columns]
    async with translated(target):
        found = {r["id"]: r for r in await tx.fetch(sql, *values)}
    return [found[row["id"]] for row in rows]


def insert_one(
    target: Entity, row: Mapping[str, Any], *, source: str | None = None, first: int = 1
) -> tuple[str, list[Any]]:
    """One row's INSERT ... RETURNING every column, and its parameters (numbered from `first`).
    With `source`, the row is selected FROM it (see backend/db.py `write_alone`)."""
    sql, columns = _insert_one_sql(target.name, tuple(row), source, first)
    return sql, [_db_value(c.kind, row[c.name]) for c in columns]


@functools.lru_cache(maxsize=256)
def _insert_one_sql(name: str, names: tuple[str, ...], source: str | None, first: int) -> tuple[str, list[Column]]:
    target = entity(name)
    columns = [target.column(n) for n in names]
    column_list = ", ".join(c.db for c in columns)
    placeholders = ", ".join(f"${first + i}::{SQL_TYPES[c.kind]}" for i, c in enumerate(columns))
    values = f"SELECT {placeholders} FROM {source}" if source else f"VALUES ({placeholders})"
    return f"INSERT INTO {target.table} ({column_list}) {values} RETURNING {_columns_sql(target)}", columns


def _target_row(
    tx: TenantContext, target: Entity, pk: UUID, version: int | None, scope: Filter | None
) -> tuple[Query, str, str]:
    """The WHERE of a write to one row: tenant, id, optionally version and the record scope."""
    q = Query(tx.tenant_id, lambda entity: scope if entity is target else None)
    alias = q.alias()
    where = f"{q.visible(target, alias)} AND {alias}.id = {q.param(pk, 'uuid')}"
    if version is not None:
        where += f" AND {alias}.version = {q.param(version, 'int')}"
    return q, alias, where


async def update(
    tx: TenantContext,
    target: Entity,
    pk: UUID,
    values: Mapping[str, Any],
    *,
    version: int | None = None,
    scope: Filter | None = None,
) -> asyncpg.Record:
    """Update one row; with `version`, only if nobody changed it since (else CONFLICT); with a
    record `scope`, only if the row is within it (else FORBIDDEN)."""
    q, alias, where = _target_row(tx, target, pk, version, scope)
    sets = []
    for name, value in values.items():
        column = target.column(name)
        sets.append(f"{column.db} = {q.param(_db_value(column.kind, value), SQL_TYPES[column.kind])}")
    # An empty patch still bumps the version: the caller asked for an update and gets a fresh row.
    assignments = ", ".join(sets) or "version = version"
    returning = ", ".join(f"{alias}.{c}" for c in target.select_list)
    sql = f"UPDATE {target.table} {alias} SET {assignments} WHERE {where} RETURNING {returning}"
    async with translated(target):
        row = await tx.fetchrow(sql, *q.params.values)
    if row is None:
        await _refused(tx, target, pk, version, "update")
    assert row is not None
    return row


async def delete(
    tx: TenantContext, target: Entity, pk: UUID, *, version: int | None = None, scope: Filter | None = None
) -> None:
    q, alias, where = _target_row(tx, target, pk, version, scope)
    async with translated(target, deleting=True):
        status = await tx.execute(f"DELETE FROM {target.table} {alias} WHERE {where}", *q.params.values)
    if status == "DELETE 0":
        await _refused(tx, target, pk, version, "delete")


async def _refused(tx: TenantContext, target: Entity, pk: UUID, version: int | None, action: str) -> None:
    """Why a write to one row touched nothing: missing, changed since, or outside the scope."""
    current = await tx.fetchval(
        f"SELECT version FROM {target.table} WHERE tenant_id = $1 AND id = $2", tx.tenant_id, pk
    )
    if current is None:
        raise NotFound(f"{target.name} not found", field="id")
    if version is not None and current != version:
        raise Conflict(
            f"{target.name} was changed by someone else (version {current}, you had {version})",
            field="version",
            currentVersion=current,
        )
    raise Forbidden(f"this {target.name} is outside the records you may {action}", field="id")


class translated:
    """Turn constraint violations a client can cause into coded errors."""

    def __init__(self, target: Entity, *, deleting: bool = False) -> None:
        self.target = target
        self.deleting = deleting

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, asyncpg.UniqueViolationError):
            field = _field_of(self.target, exc)
            raise Conflict(f"another {self.target.name} has this {field}", field=field) from None
        if isinstance(exc, asyncpg.ForeignKeyViolationError):
            if self.deleting:
                referencing = getattr(exc, "table_name", None) or "other records"
                raise Conflict(
                    f"this {self.target.name} is still referenced by {referencing}; remove or move them first"
                ) from None
            raise BadInput(
                [FieldError(_field_of(self.target, exc), "refers to something that does not exist")]
            ) from None
        if isinstance(exc, asyncpg.CheckViolationError) and exc.constraint_name == "required_custom_field":
            raise BadInput([FieldError(f"customFields.{exc.detail}", exc.message)]) from None
        if isinstance(exc, asyncpg.CheckViolationError | asyncpg.NotNullViolationError | asyncpg.DataError):
            raise BadInput([FieldError(_field_of(self.target, exc), "is not an accepted value")]) from None


def _field_of(target: Entity, exc: asyncpg.PostgresError) -> str:
    """The input field a violated constraint is about.

    Under row-level security Postgres leaves out the DETAIL that names the key columns, so
    the constraint name says it: `<table>_<column>_key` or `<table>_<relation>_fk`.
    """
    column = getattr(exc, "column_name", None)
    if not column:
        name = getattr(exc, "constraint_name", None) or ""
        column = name.removeprefix(f"{target.table}_")
        for suffix in ("_fkey", "_key", "_check", "_fk"):
            column = column.removesuffix(suffix)
        if column not in target.columns:
            # foreign keys are named after the relation: accounts_parent_fk -> parent_id
            column = f"{column}_id" if f"{column}_id" in target.columns else ""
    return camel(column) if column else ""
