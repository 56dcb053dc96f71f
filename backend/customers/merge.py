"""Merging duplicate accounts or contacts into one survivor, and undoing a merge exactly.

A merge, in one transaction:
  1. locks the survivor and the merged rows (same tenant, or they are NOT_FOUND);
  2. moves every row that refers to a merged record over to the survivor. The referencing
     relations are read from the entity registry (every `many` relation of the entity), so a
     table added later with a foreign key to accounts or contacts is covered by its model;
  3. gives the survivor the field values chosen from the merged records (`field_choices`,
     custom fields by key; fields not chosen keep the survivor's value);
  4. deletes the merged rows and records in `merges` what undo needs: the survivor's and the
     merged rows' complete previous values, and each moved row with the value it had.
A dry run does all of it inside a savepoint that is rolled back, so it returns exactly what
the merge would return and leaves nothing behind.

Undo re-inserts the merged rows with their original ids and values (versions and timestamps
included), moves every moved row back, and restores the survivor's fields. The survivor's and
the moved rows' `version` and `updated_at` move forward (an update is an update); all other
columns are as before the merge. Undo is refused (CONFLICT), with nothing changed, when it
cannot be exact: already undone, survivor deleted, a merged id in use again, a moved row
deleted since, or a restored value referring to something deleted since.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
from uuid_utils.compat import uuid7

from backend.audit import service as audit
from backend.context import TenantContext
from backend.errors import BadInput, Conflict, FieldError, NotFound
from backend.naming import camel
from backend.query import writes
from backend.query.entities import Entity, Kind, entity

ENTITIES = ("Account", "Contact")
MAX_MERGED = 50
# Columns a merge never copies between records; undo does not restore them on the survivor.
SYSTEM_COLUMNS = frozenset({"id", "tenant_id", "version", "created_at", "updated_at"})
CUSTOM_PREFIX = "customFields."
_CUSTOM_KEY = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


@dataclass(frozen=True, slots=True)
class FieldChoice:
    """`field` (GraphQL name, or `customFields.<key>`) takes its value from record `source`."""

    field: str
    source: UUID


@dataclass(frozen=True, slots=True)
class Moved:
    relation: str  # the relation of the merged entity, e.g. "contacts"
    entity: str  # the entity of the moved rows, e.g. "Contact"
    field: str  # their column that pointed at a merged record, e.g. "account_id"
    count: int


@dataclass(frozen=True, slots=True)
class MergeResult:
    merge: asyncpg.Record  # the `merges` row (for a dry run: as it would have been stored)
    survivor: asyncpg.Record
    dry_run: bool


@dataclass(frozen=True, slots=True)
class UndoResult:
    merge: asyncpg.Record
    survivor: asyncpg.Record
    restored: list[asyncpg.Record]


def mergeable_fields(entity_name: str) -> dict[str, str]:
    """GraphQL field name -> column, for every field a merge can take from a merged record."""
    target = entity(entity_name)
    return {camel(name): name for name in target.columns if name not in SYSTEM_COLUMNS and name != "custom_fields"}


def moved_counts(snapshot: Mapping[str, Any]) -> list[Moved]:
    return [Moved(m["relation"], m["entity"], m["field"], len(m["rows"])) for m in snapshot.get("moved", [])]


# -- snapshots: rows as JSON and back -----------------------------------------------------------


def _dump_value(kind: Kind, value: Any) -> Any:
    if value is None:
        return None
    if kind in (Kind.UUID, Kind.DECIMAL):
        return str(value)
    if kind in (Kind.DATETIME, Kind.DATE):
        return value.isoformat()
    return value


def _load_value(kind: Kind, value: Any) -> Any:
    if value is None:
        return None
    if kind is Kind.UUID:
        return UUID(value)
    if kind is Kind.DECIMAL:
        return Decimal(value)
    if kind is Kind.DATETIME:
        return dt.datetime.fromisoformat(value)
    if kind is Kind.DATE:
        return dt.date.fromisoformat(value)
    return value


def dump_row(target: Entity, row: Mapping[str, Any] | asyncpg.Record) -> dict[str, Any]:
    return {c.name: _dump_value(c.kind, row[c.db]) for c in target.columns.values()}


def load_row(target: Entity, data: Mapping[str, Any]) -> dict[str, Any]:
    """Model values of a dumped row, for the columns the entity still has."""
    return {c.name: _load_value(c.kind, data[c.name]) for c in target.columns.values() if c.name in data}


# -- merge --------------------------------------------------------------------------------------


def _validate(entity_name: str, survivor_id: UUID, merged_ids: Sequence[UUID], choices: Sequence[FieldChoice]) -> None:
    if entity_name not in ENTITIES:
        raise BadInput(f"only {' and '.join(ENTITIES)} records can be merged", field="type")
    errors: list[FieldError] = []
    if not 1 <= len(merged_ids) <= MAX_MERGED:
        errors.append(FieldError("mergedIds", f"merge 1 to {MAX_MERGED} records at once"))
    seen: set[UUID] = set()
    for i, pk in enumerate(merged_ids):
        if pk == survivor_id:
            errors.append(FieldError(f"mergedIds.{i}", "the survivor cannot be merged into itself"))
        elif pk in seen:
            errors.append(FieldError(f"mergedIds.{i}", "this record is listed twice"))
        seen.add(pk)
    participants = {survivor_id, *merged_ids}
    fields = mergeable_fields(entity_name)
    chosen: set[str] = set()
    for i, choice in enumerate(choices):
        key = choice.field.removeprefix(CUSTOM_PREFIX)
        custom = choice.field.startswith(CUSTOM_PREFIX)
        if (custom and not _CUSTOM_KEY.match(key)) or (not custom and choice.field not in fields):
            known = ", ".join(sorted(fields))
            errors.append(
                FieldError(f"fieldChoices.{i}.field", f"not a field to choose: {known} or customFields.<key>")
            )
        elif choice.field in chosen:
            errors.append(FieldError(f"fieldChoices.{i}.field", "this field is chosen twice"))
        chosen.add(choice.field)
        if choice.source not in participants:
            errors.append(FieldError(f"fieldChoices.{i}.from", "must be the survivor or one of the merged records"))
    if errors:
        raise BadInput(errors)


async def _lock(tx: TenantContext, target: Entity, ids: Sequence[UUID]) -> dict[UUID, asyncpg.Record]:
    """The rows, locked against concurrent changes (in id order, so merges cannot deadlock)."""
    rows = await tx.fetch(
        f"SELECT {', '.join(target.select_list)} FROM {target.table} "
        "WHERE tenant_id = $1 AND id = ANY($2::uuid[]) ORDER BY id FOR UPDATE",
        tx.tenant_id,
        list(ids),
    )
    return {row["id"]: row for row in rows}


async def merge(
    tx: TenantContext,
    entity_name: str,
    survivor_id: UUID,
    merged_ids: Sequence[UUID],
    choices: Sequence[FieldChoice] = (),
    *,
    dry_run: bool = False,
    version: int | None = None,
) -> MergeResult:
    _validate(entity_name, survivor_id, merged_ids, choices)
    target = entity(entity_name)
    rows = await _lock(tx, target, [survivor_id, *merged_ids])
    if survivor_id not in rows:
        raise NotFound(f"{entity_name} not found", field="survivorId")
    for i, pk in enumerate(merged_ids):
        if pk not in rows:
            raise NotFound(f"{entity_name} not found", field=f"mergedIds.{i}")
    survivor = rows[survivor_id]
    if version is not None and version != survivor["version"]:
        raise Conflict(
            f"{entity_name} was changed by someone else (version {survivor['version']}, you had {version})",
            field="version",
            currentVersion=survivor["version"],
        )
    if not dry_run:
        return await _merge(tx, target, rows, survivor_id, list(merged_ids), choices, dry_run=False)
    # Everything a merge writes happens inside a savepoint that is rolled back.
    await tx.execute("SAVEPOINT customer_merge_dry_run")
    try:
        return await _merge(tx, target, rows, survivor_id, list(merged_ids), choices, dry_run=True)
    finally:
        await tx.execute("ROLLBACK TO SAVEPOINT customer_merge_dry_run")
        await tx.execute("RELEASE SAVEPOINT customer_merge_dry_run")


def _survivor_values(
    target: Entity, rows: Mapping[UUID, asyncpg.Record], survivor_id: UUID, choices: Sequence[FieldChoice]
) -> dict[str, Any]:
    survivor = rows[survivor_id]
    fields = mergeable_fields(target.name)
    values: dict[str, Any] = {}
    custom = dict(survivor["custom_fields"]) if "custom_fields" in target.columns else {}
    for choice in choices:
        source = rows[choice.source]
        if choice.field.startswith(CUSTOM_PREFIX):
            key = choice.field.removeprefix(CUSTOM_PREFIX)
            if key in source["custom_fields"]:
                custom[key] = source["custom_fields"][key]
            else:
                custom.pop(key, None)
        else:
            column = fields[choice.field]
            values[column] = source[target.column(column).db]
    if "custom_fields" in target.columns and custom != survivor["custom_fields"]:
        values["custom_fields"] = custom
    # A reference to a record of the same kind (an account's parent) may not end up pointing at
    # the survivor itself, which is what a reference to a merged record would become.
    for relation in target.relations.values():
        if relation.kind == "one" and relation.target == target.name:
            current = values.get(relation.local, survivor[target.column(relation.local).db])
            if current in rows:
                values[relation.local] = None
    return values


async def _merge(
    tx: TenantContext,
    target: Entity,
    rows: Mapping[UUID, asyncpg.Record],
    survivor_id: UUID,
    merged_ids: list[UUID],
    choices: Sequence[FieldChoice],
    *,
    dry_run: bool,
) -> MergeResult:
    snapshot: dict[str, Any] = {
        "survivor": dump_row(target, rows[survivor_id]),
        "merged": [dump_row(target, rows[pk]) for pk in merged_ids],
        "moved": [],
    }
    participants = [survivor_id, *merged_ids]
    for name, relation in target.relations.items():
        if relation.kind != "many":
            continue
        source = entity(relation.target)
        column = source.column(relation.remote).db
        # Rows of the same kind that take part in the merge are handled as survivor or merged rows.
        excluded = participants if source.name == target.name else []
        moved = await tx.fetch(
            f"WITH old AS (SELECT id, {column} AS was FROM {source.table} WHERE tenant_id = $1 "
            f"AND {column} = ANY($2::uuid[]) AND id <> ALL($3::uuid[]) ORDER BY id FOR UPDATE) "
            f"UPDATE {source.table} t SET {column} = $4 FROM old WHERE t.tenant_id = $1 AND t.id = old.id "
            "RETURNING t.id, old.was",
            tx.tenant_id,
            merged_ids,
            excluded,
            survivor_id,
        )
        if moved:
            snapshot["moved"].append(
                {
                    "relation": name,
                    "entity": source.name,
                    "field": relation.remote,
                    "rows": sorted([str(r["id"]), str(r["was"])] for r in moved),
                }
            )
    survivor = await writes.update(tx, target, survivor_id, _survivor_values(target, rows, survivor_id, choices))
    try:
        await tx.execute(
            f"DELETE FROM {target.table} WHERE tenant_id = $1 AND id = ANY($2::uuid[])", tx.tenant_id, merged_ids
        )
    except asyncpg.ForeignKeyViolationError as exc:
        # A table refers to this entity without a relation in its model: refuse rather than lose rows.
        raise Conflict(f"{exc.table_name} refers to these records but has no relation in the models") from None
    await _refuse_cycles(tx, target, survivor_id)
    record = await tx.fetchrow(
        "INSERT INTO merges (tenant_id, id, entity, survivor_id, merged_ids, field_choices, snapshot, created_by) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *",
        tx.tenant_id,
        uuid7(),
        target.name,
        survivor_id,
        merged_ids,
        {choice.field: str(choice.source) for choice in choices},
        snapshot,
        tx.actor.id,
    )
    assert record is not None
    if not dry_run:
        await audit.record(
            tx,
            "merge",
            target.name,
            survivor_id,
            after={
                "merge": str(record["id"]),
                "merged": [str(pk) for pk in merged_ids],
                "choices": record["field_choices"],
            },
        )
    return MergeResult(record, survivor, dry_run)


async def _refuse_cycles(tx: TenantContext, target: Entity, survivor_id: UUID) -> None:
    """Children moved to the survivor may include one of its own ancestors."""
    for relation in target.relations.values():
        if relation.kind != "one" or relation.target != target.name:
            continue
        column = target.column(relation.local).db
        cycle = await tx.fetchval(
            f"WITH RECURSIVE up (id) AS (SELECT {column} FROM {target.table} WHERE tenant_id = $1 AND id = $2 "
            f"UNION SELECT t.{column} FROM {target.table} t JOIN up ON t.id = up.id WHERE t.tenant_id = $1) "
            "SELECT EXISTS (SELECT 1 FROM up WHERE id = $2)",
            tx.tenant_id,
            survivor_id,
        )
        if cycle:
            raise BadInput(
                f"the merge would make the survivor its own {relation.name} (through records it would "
                "take over); change the hierarchy first",
                field="mergedIds",
            )


# -- undo ---------------------------------------------------------------------------------------


async def undo(tx: TenantContext, merge_id: UUID) -> UndoResult:
    record = await tx.fetchrow(
        "SELECT * FROM merges WHERE tenant_id = $1 AND id = $2 FOR UPDATE", tx.tenant_id, merge_id
    )
    if record is None:
        raise NotFound("merge not found", field="mergeId")
    if record["undone_at"] is not None:
        raise Conflict("this merge was undone already", field="mergeId", undoneAt=record["undone_at"].isoformat())
    target = entity(record["entity"])
    snapshot = record["snapshot"]
    survivor_id = record["survivor_id"]
    merged_ids = list(record["merged_ids"])
    if survivor_id not in await _lock(tx, target, [survivor_id]):
        raise Conflict(f"the surviving {target.name.lower()} was deleted since the merge", field="mergeId")
    reused = await _lock(tx, target, merged_ids)
    if reused:
        raise Conflict(
            f"a merged {target.name.lower()}'s id is in use again", field="mergeId", ids=sorted(map(str, reused))
        )
    moves = [await _locked_moves(tx, target, moved) for moved in snapshot["moved"]]

    async with _conflicts("cannot restore the merged records"):
        restored = await writes.insert(tx, target, [load_row(target, data) for data in snapshot["merged"]])
    for source, column, ids, was in moves:
        await tx.execute(
            f"UPDATE {source.table} t SET {column} = v.was FROM unnest($2::uuid[], $3::uuid[]) AS v (id, was) "
            "WHERE t.tenant_id = $1 AND t.id = v.id",
            tx.tenant_id,
            ids,
            was,
        )
    previous = load_row(target, snapshot["survivor"])
    async with _conflicts("cannot restore the survivor"):
        survivor = await writes.update(
            tx, target, survivor_id, {k: v for k, v in previous.items() if k not in SYSTEM_COLUMNS}
        )
    undone = await tx.fetchrow(
        "UPDATE merges SET undone_at = now() WHERE tenant_id = $1 AND id = $2 RETURNING *", tx.tenant_id, merge_id
    )
    assert undone is not None
    await audit.record(tx, "merge.undo", target.name, survivor_id, before={"merge": str(merge_id)})
    return UndoResult(undone, survivor, restored)


async def _locked_moves(
    tx: TenantContext, target: Entity, moved: Mapping[str, Any]
) -> tuple[Entity, str, list[UUID], list[UUID]]:
    """One relation's moved rows, checked to still exist (and locked)."""
    relation = target.relations.get(moved["relation"])
    if relation is None or relation.target != moved["entity"] or relation.remote != moved["field"]:
        raise Conflict(f"{target.name}.{moved['relation']} no longer exists; the merge cannot be undone")
    source = entity(relation.target)
    ids = [UUID(pk) for pk, _ in moved["rows"]]
    was = [UUID(old) for _, old in moved["rows"]]
    found = await _lock(tx, source, ids)
    missing = [str(pk) for pk in ids if pk not in found]
    if missing:
        raise Conflict(
            f"{len(missing)} {source.name.lower()} record(s) moved by the merge were deleted since",
            field="mergeId",
            ids=missing,
        )
    return source, source.column(relation.remote).db, ids, was


class _conflicts:
    """A restored value that no longer fits (its reference was deleted since) makes undo impossible."""

    def __init__(self, what: str) -> None:
        self.what = what

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, BadInput):
            raise Conflict(f"{self.what}: {exc.message} ({exc.extensions.get('field')})", field="mergeId") from None
