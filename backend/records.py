"""The generic write path every domain shares: create, update and delete, single or batched.

A domain describes itself with `Rules` (the references its checks consult, whether it has
custom fields, and a function that checks and completes a draft). The engine does the rest
for up to `MAX_BATCH` items in one transaction: it loads the consulted referenced rows with one
query per target, validates given custom fields against the tenant's definitions, collects
every error with its path (`inputs.17.email`) and writes nothing unless all items are valid.
References nobody consults are checked by their composite foreign keys (same tenant, must
exist) when the rows are written: a missing or foreign id is refused either way.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import asyncpg
from uuid_utils.compat import uuid7

from backend import db
from backend.context import Actor, TenantContext
from backend.custom_fields import service as custom_fields
from backend.errors import BadInput, Conflict, FieldError, Forbidden, NotFound
from backend.naming import camel
from backend.query import reads, writes
from backend.query.entities import Entity, entity
from backend.query.filters import Filter
from backend.query.sql import shift_placeholders

MAX_BATCH = 500


@dataclass(slots=True)
class Draft:
    """One item being written: its values (model field names) and what the rules may consult."""

    values: dict[str, Any]
    path: str
    current: asyncpg.Record | None = None  # the row before an update
    refs: Mapping[str, Mapping[UUID, asyncpg.Record]] = field(default_factory=dict)
    errors: list[FieldError] = field(default_factory=list)

    def error(self, name: str, message: str) -> None:
        self.errors.append(FieldError(f"{self.path}.{camel(name)}" if self.path else camel(name), message))

    def get(self, name: str) -> Any:
        """The value after the write: the new one if given, else the current one."""
        if name in self.values:
            return self.values[name]
        return self.current[entity_column(self, name)] if self.current is not None else None

    def ref(self, name: str) -> asyncpg.Record | None:
        """The referenced row of a reference field (e.g. `account_id`), if set and found."""
        pk = self.get(name)
        return None if pk is None else self.refs.get(name, {}).get(pk)

    def check(self, name: str, check: Callable[[Any], Any]) -> None:
        """Replace a given value by `check(value)`, or record its ValueError as an error."""
        if name in self.values:
            try:
                self.values[name] = check(self.values[name])
            except ValueError as exc:
                self.error(name, f"{camel(name)} {exc}")


def entity_column(draft: Draft, name: str) -> str:
    return name  # model field names equal column names in this schema


@dataclass(frozen=True, slots=True)
class Rules:
    entity: str
    # Reference fields whose rows `check` consults (via Draft.ref), e.g. {"contact_id": "Contact"}.
    # Every other reference is checked by its composite foreign key when the row is written
    # (same tenant guaranteed; a missing row is BAD_USER_INPUT on the field), which saves a
    # query on the common path.
    references: Mapping[str, str]
    check: Callable[[Draft], None]  # validates and completes a draft (create and update)
    custom_fields: bool = False
    # Checks that need the database (cycles, numbering), after `check`, before anything is written.
    prepare: Callable[[TenantContext, list[Draft]], Awaitable[None]] | None = None
    # Follow-up writes for the rows created, updated or deleted (e.g. order totals).
    after_write: Callable[[TenantContext, list[asyncpg.Record]], Awaitable[None]] | None = None


def _batch_path(path: str, index: int, batch: bool) -> str:
    return f"{path}.{index}" if batch else path


def _check_size(items: Sequence[Any], path: str) -> None:
    if not 1 <= len(items) <= MAX_BATCH:
        raise BadInput(f"a batch holds 1 to {MAX_BATCH} items", field=path)


async def _load_references(tx: TenantContext, rules: Rules, drafts: list[Draft], *, every: bool) -> None:
    """Load referenced rows: those the rules consult, or (`every`, for batches, so each item's
    missing references are reported with its path) every to-one reference of the entity."""
    references = dict(rules.references)
    if every:
        source = entity(rules.entity)
        references |= {r.local: r.target for r in source.relations.values() if r.kind == "one"}
    wanted: dict[str, set[UUID]] = defaultdict(set)
    for draft in drafts:
        for name in references:
            value = draft.values.get(name)
            if value is not None:
                wanted[name].add(value)
    by_target: dict[str, dict[UUID, asyncpg.Record]] = {}
    for target_name in {references[n] for n in wanted}:
        ids = set().union(*(wanted[n] for n in wanted if references[n] == target_name))
        by_target[target_name] = await reads.by_ids(tx, entity(target_name), list(ids))
    refs = {name: by_target[references[name]] for name in wanted}
    for draft in drafts:
        draft.refs = refs
        for name, target_name in references.items():
            value = draft.values.get(name)
            if value is not None and value not in refs[name]:
                draft.error(name, f"no {target_name} with this id")


async def _validate_custom_fields(tx: TenantContext, rules: Rules, drafts: list[Draft], *, batch_create: bool) -> None:
    """Validate the custom field values given. Required fields left out of a single write are
    refused by the database (trigger), so the common path costs no definition lookup; a batch
    create checks them here, to report each item's path."""
    if not rules.custom_fields or not (batch_create or any("custom_fields" in d.values for d in drafts)):
        return
    for draft in drafts:
        if "custom_fields" not in draft.values and not batch_create:
            continue
        given = draft.values.get("custom_fields") or {}
        if not isinstance(given, dict):
            draft.error("custom_fields", "customFields must be an object of key: value")
            continue
        current = draft.current["custom_fields"] if draft.current is not None else {}
        try:
            draft.values["custom_fields"] = await custom_fields.validate(tx, rules.entity, given, current=current)
        except BadInput as exc:
            draft.errors.extend(exc.prefixed(draft.path).errors if draft.path else exc.errors)


async def _check(tx: TenantContext, rules: Rules, drafts: list[Draft], known: Sequence[FieldError]) -> None:
    for draft in drafts:
        rules.check(draft)
    if rules.prepare is not None and not known and not any(d.errors for d in drafts):
        await rules.prepare(tx, drafts)
    _raise_errors(drafts, known)


def _raise_errors(drafts: list[Draft], known: Sequence[FieldError]) -> None:
    errors = [*known, *(e for d in drafts for e in d.errors)]
    if errors:
        raise BadInput(sorted(errors, key=lambda e: _path_key(e.field)))


def _path_key(path: str) -> list[tuple[int, int | str]]:
    """Sort error paths naturally (inputs.2 before inputs.10)."""
    return [(0, int(p)) if p.isdigit() else (1, p) for p in path.split(".")]


async def create(
    tx: TenantContext,
    rules: Rules,
    items: Sequence[dict[str, Any]],
    *,
    path: str,
    batch: bool,
    paths: Sequence[str] | None = None,
    known_errors: Sequence[FieldError] = (),
) -> list[asyncpg.Record]:
    """Create rows; `paths` overrides the error path of each item (nested inputs such as order lines).

    `known_errors` (found by the caller, e.g. malformed ids) are reported together with the
    engine's own, and nothing is written while there are any.
    """
    if batch:
        _check_size(items, path)
    drafts = [
        Draft({"id": uuid7(), **item}, paths[i] if paths is not None else _batch_path(path, i, batch))
        for i, item in enumerate(items)
    ]
    await _load_references(tx, rules, drafts, every=batch)
    await _validate_custom_fields(tx, rules, drafts, batch_create=batch)
    await _check(tx, rules, drafts, known_errors)
    target = entity(rules.entity)
    try:
        rows = await writes.insert(
            tx, target, [_complete(target, {"tenant_id": tx.tenant_id, **d.values}) for d in drafts]
        )
    except BadInput as exc:
        # A refusal by the database (foreign key, required custom field) of a single item.
        raise exc.prefixed(drafts[0].path) if len(drafts) == 1 and drafts[0].path else exc from None
    if rules.after_write is not None:
        await rules.after_write(tx, rows)
    return rows


@dataclass(frozen=True, slots=True)
class PlainCreate:
    """A create of one row that needs nothing read before it is written: its INSERT can run in
    one statement with what reads the new row (see `plain_create`)."""

    target: Entity
    path: str
    row: dict[str, Any]

    async def run(self, tenant_id: UUID, actor: Actor, request_id: str | None, select: str, params: list[Any]) -> Any:
        """Insert the row and return the value of `select`, which reads it as the CTE `written`
        (the row as RETURNING gives it; its placeholders start at $1), as one statement in a
        transaction of its own (backend/db.py `write_alone`). Errors are those of `create`."""
        insert, values = writes.insert_one(self.target, self.row, source="settings", first=db.SETTINGS_PARAMS + 1)
        sql = f"written AS ({insert}) {shift_placeholders(select, db.SETTINGS_PARAMS + len(values))}"
        try:
            async with writes.translated(self.target):
                return await db.write_alone(tenant_id, actor, request_id, sql, [*values, *params])
        except BadInput as exc:
            raise exc.prefixed(self.path) if self.path else exc from None


def plain_create(
    tenant_id: UUID, rules: Rules, item: dict[str, Any], *, path: str, known_errors: Sequence[FieldError] = ()
) -> PlainCreate | None:
    """`create` of one item as a `PlainCreate`, when its rules need no reads for it: no
    referenced row they consult is given, no custom field value to validate, no prepare step
    and no follow-up writes. None otherwise (then `create` does it). Invalid input raises here,
    as `create` would, before anything is sent to the database."""
    if rules.prepare is not None or rules.after_write is not None:
        return None
    if any(item.get(name) is not None for name in rules.references):
        return None
    if rules.custom_fields and "custom_fields" in item:
        return None
    draft = Draft({"id": uuid7(), **item}, path)
    rules.check(draft)
    _raise_errors([draft], known_errors)
    target = entity(rules.entity)
    return PlainCreate(target, path, _complete(target, {"tenant_id": tenant_id, **draft.values}))


_DB_MAINTAINED = frozenset({"created_at", "updated_at"})


def _complete(target: Entity, values: dict[str, Any]) -> dict[str, Any]:
    """Every column of a multi-row INSERT needs a value: missing ones take the model's default."""
    complete = {}
    for name in target.columns:
        if name in _DB_MAINTAINED:
            continue
        if name in values:
            complete[name] = values[name]
            continue
        field = target.model._meta.fields_map[name]
        default = field.default
        complete[name] = default() if callable(default) else default
    return complete


@dataclass(frozen=True, slots=True)
class Change:
    id: UUID | None  # None: the caller could not read the id (its error is reported already)
    values: dict[str, Any]
    version: int | None = None


async def update(
    tx: TenantContext,
    rules: Rules,
    changes: Sequence[Change],
    *,
    path: str,
    batch: bool,
    known_errors: Sequence[FieldError] = (),
    scope: Filter | None = None,
) -> list[asyncpg.Record]:
    """Update rows; `scope` limits them to the caller's records (others are FORBIDDEN)."""
    if batch:
        _check_size(changes, path)
    target = entity(rules.entity)
    current = await reads.by_ids(tx, target, [c.id for c in changes if c.id is not None])
    drafts = []
    for i, change in enumerate(changes):
        if change.id is None:  # a malformed id, already among known_errors
            continue
        where = _batch_path(path, i, batch)
        row = current.get(change.id)
        if row is None:
            raise NotFound(f"{rules.entity} not found", field=f"{where}.id" if batch else "id")
        if change.version is not None and change.version != row["version"]:
            raise Conflict(
                f"{rules.entity} was changed by someone else (version {row['version']}, you had {change.version})",
                field=f"{where}.version" if batch else "version",
                currentVersion=row["version"],
            )
        drafts.append(Draft(dict(change.values), f"{where}.input" if batch else "input", current=row))
    await _load_references(tx, rules, drafts, every=batch)
    await _validate_custom_fields(tx, rules, drafts, batch_create=False)
    await _check(tx, rules, drafts, known_errors)
    rows = []
    for change, draft in zip(changes, drafts, strict=True):
        assert change.id is not None, "malformed ids were reported by _check"
        try:
            rows.append(await writes.update(tx, target, change.id, draft.values, version=change.version, scope=scope))
        except BadInput as exc:
            raise exc.prefixed(draft.path) from None
        except (NotFound, Conflict, Forbidden) as exc:
            if batch:
                exc.extensions["field"] = f"{draft.path.removesuffix('.input')}.{exc.extensions.get('field', 'id')}"
            raise
    if rules.after_write is not None:
        await rules.after_write(tx, rows)
    return rows


async def delete(
    tx: TenantContext,
    rules: Rules,
    changes: Sequence[Change],
    *,
    path: str,
    batch: bool,
    scope: Filter | None = None,
) -> list[UUID]:
    """Delete rows; `scope` limits them to the caller's records (others are FORBIDDEN)."""
    if batch:
        _check_size(changes, path)
    target: Entity = entity(rules.entity)
    ids = [c.id for c in changes if c.id is not None]
    current = await reads.by_ids(tx, target, ids) if rules.after_write else {}
    for i, change in enumerate(changes):
        assert change.id is not None, "malformed ids are rejected before deleting"
        try:
            await writes.delete(tx, target, change.id, version=change.version, scope=scope)
        except (NotFound, Conflict, Forbidden) as exc:
            if batch:
                exc.extensions["field"] = f"{_batch_path(path, i, batch)}.{exc.extensions.get('field', 'id')}"
            raise
    if rules.after_write is not None:
        await rules.after_write(tx, list(current.values()))
    return ids
