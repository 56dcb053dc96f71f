"""The one SQL builder: filters, ordering, keyset cursors, relation joins, record scopes.

A `Query` collects bind parameters and hands out table aliases; its methods return SQL
fragments. The DataLoaders of the GraphQL executor and the compiled single-statement plans
both build their statements from these fragments, so a filter, an ordering or a cursor means
the same thing on both paths, and both get record scopes applied to every table they touch.

Values never enter SQL text: they become `$n` parameters with an explicit cast. A parameter
value may be a `Deferred` (a function of the GraphQL variables), which lets a compiled plan
keep its SQL text while each request binds its own values.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

import orjson

from backend.errors import BadInput
from backend.query.entities import SQL_TYPES, Entity, Kind, entity
from backend.query.filters import And, Compare, CustomField, Filter, Not, Nothing, Op, Or, Related

Scope = Callable[[Entity], Filter | None]


PLACEHOLDER = re.compile(r"\$(\d+)")


@functools.lru_cache(maxsize=1024)
def shift_placeholders(sql: str, offset: int) -> str:
    """`sql` with every `$n` renumbered `$(n + offset)`, to follow other parameters."""
    return PLACEHOLDER.sub(lambda m: f"${int(m[1]) + offset}", sql)


@dataclass(frozen=True, slots=True)
class Deferred:
    """A parameter value computed per execution from the request (GraphQL variables, tenant)."""

    resolve: Callable[[Mapping[str, Any]], Any]

    def map(self, fn: Callable[[Any], Any]) -> Deferred:
        inner = self.resolve
        return Deferred(lambda env: fn(inner(env)))


class Params:
    def __init__(self) -> None:
        self.values: list[Any] = []

    def add(self, value: Any, sql_type: str | None = None) -> str:
        self.values.append(value)
        placeholder = f"${len(self.values)}"
        return f"{placeholder}::{sql_type}" if sql_type else placeholder

    def bind(self, env: Mapping[str, Any]) -> list[Any]:
        return [v.resolve(env) if isinstance(v, Deferred) else v for v in self.values]


@dataclass(frozen=True, slots=True)
class SortKey:
    """One key of an ordering: a column, or a custom field (`custom` = (key, kind))."""

    field: str | None
    descending: bool = False
    custom: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Ordering:
    keys: tuple[SortKey, ...] = ()

    @property
    def signature(self) -> str:
        """Identifies the ordering inside cursors, so a cursor is refused under another ordering."""
        text = ",".join(
            f"{k.field or 'cf:' + (k.custom or ('', ''))[0]}:{'d' if k.descending else 'a'}" for k in self.keys
        )
        return hashlib.blake2s(text.encode(), digest_size=4).hexdigest()

    @property
    def id_descending(self) -> bool:
        # The id tie-breaker follows the last key, so (col DESC, id DESC) indexes serve it.
        return self.keys[-1].descending if self.keys else False


@dataclass(slots=True)
class _Key:
    sql: str
    kind: Kind
    nullable: bool
    descending: bool


LIKE_ESCAPE = str.maketrans({"\\": "\\\\", "%": "\\%", "_": "\\_"})


def contains_pattern(text: str) -> str:
    return f"%{text.translate(LIKE_ESCAPE)}%"


def prefix_pattern(text: str) -> str:
    return f"{text.lower().translate(LIKE_ESCAPE)}%"


def tenant_column(target: Entity) -> str:
    return "tenant_id" if "tenant_id" in target.columns else "id"


@dataclass
class Query:
    """Parameters and aliases of one statement, plus the record scope for every table in it."""

    tenant_id: Any
    scope: Scope | None = None
    params: Params = field(default_factory=Params)
    tables: set[str] = field(default_factory=set)  # every table a row of is read (through `visible`)
    _aliases: int = 0
    _scoping: int = 0  # inside a record scope's own filter: its relations are not scoped again

    def __post_init__(self) -> None:
        self.tenant = self.params.add(self.tenant_id, "uuid")

    def alias(self, base: str = "t") -> str:
        self._aliases += 1
        return f"{base}{self._aliases}"

    def param(self, value: Any, sql_type: str | None = None) -> str:
        return self.params.add(value, sql_type)

    # -- row visibility --------------------------------------------------------------------

    def visible(self, target: Entity, alias: str, filter: Filter | None = None, *, scoped: bool = True) -> str:
        """The tenant condition, the caller's filter and the record scope (unless not `scoped`), ANDed."""
        self.tables.add(target.table)
        parts = [f"{alias}.{tenant_column(target)} = {self.tenant}"]
        if filter is not None:
            parts.append(self.where(target, alias, filter))
        scope = self.scope(target) if scoped and self.scope and not self._scoping else None
        if scope is not None:
            # A scope is a statement about ownership ("the account's owner is in my team"):
            # the rows it passes through (the owner, in users) are not themselves scoped.
            self._scoping += 1
            try:
                parts.append(self.where(target, alias, scope))
            finally:
                self._scoping -= 1
        return " AND ".join(parts)

    def where(self, target: Entity, alias: str, filter: Filter) -> str:
        if isinstance(filter, Compare):
            return self._compare(target, alias, filter)
        if isinstance(filter, CustomField):
            expr, kind = custom_field_sql(alias, filter.key, filter.kind)
            return _comparison(expr, kind, filter.op, filter.value, self.param)
        if isinstance(filter, Related):
            return self._related(target, alias, filter)
        if isinstance(filter, And):
            return (
                "(" + " AND ".join(self.where(target, alias, f) for f in filter.items) + ")" if filter.items else "true"
            )
        if isinstance(filter, Or):
            return (
                "(" + " OR ".join(self.where(target, alias, f) for f in filter.items) + ")" if filter.items else "false"
            )
        if isinstance(filter, Not):
            return f"NOT ({self.where(target, alias, filter.item)})"
        if isinstance(filter, Nothing):
            return "false"
        raise TypeError(f"not a filter: {filter!r}")

    def _compare(self, target: Entity, alias: str, cmp: Compare) -> str:
        column = target.column(cmp.field)
        return _comparison(f"{alias}.{column.db}", column.kind, cmp.op, cmp.value, self.param)

    def _related(self, source: Entity, alias: str, rel_filter: Related) -> str:
        relation = source.relations.get(rel_filter.relation)
        if relation is None:
            raise KeyError(f"{source.name} has no relation {rel_filter.relation!r}")
        target = entity(relation.target)
        inner = rel_filter.filter
        if relation.kind == "one" and isinstance(inner, Compare) and inner.field == "id":
            # The foreign key already holds the id: no join needed (and `isNull` works on it).
            local = source.column(relation.local)
            return _comparison(f"{alias}.{local.db}", Kind.UUID, inner.op, inner.value, self.param)
        sub = self.alias()
        join = f"{sub}.{relation.remote} = {alias}.{relation.local}"
        return f"EXISTS (SELECT 1 FROM {target.table} {sub} WHERE {join} AND {self.visible(target, sub, inner)})"

    # -- ordering and cursors --------------------------------------------------------------

    def _keys(self, target: Entity, alias: str, ordering: Ordering) -> list[_Key]:
        keys = []
        for key in ordering.keys:
            if key.custom is not None:
                expr, kind = custom_field_sql(alias, *key.custom)
                keys.append(_Key(expr, kind, True, key.descending))
            else:
                assert key.field is not None
                column = target.column(key.field)
                keys.append(_Key(f"{alias}.{column.db}", column.kind, column.nullable, key.descending))
        keys.append(_Key(f"{alias}.id", Kind.UUID, False, ordering.id_descending))
        return keys

    def order_by(self, target: Entity, alias: str, ordering: Ordering, *, reverse: bool = False) -> str:
        parts = []
        for key in self._keys(target, alias, ordering):
            descending = key.descending != reverse
            nulls = "" if not key.nullable else (" NULLS FIRST" if descending else " NULLS LAST")
            parts.append(f"{key.sql} {'DESC' if descending else 'ASC'}{nulls}")
        return ", ".join(parts)

    def cursor(self, target: Entity, alias: str, ordering: Ordering) -> str:
        """SQL for the opaque cursor of a row: base64 of [signature, key values as text…, id]."""
        values = ", ".join(f"({key.sql})::text" for key in self._keys(target, alias, ordering))
        array = f"json_build_array('{ordering.signature}', {values})::text"
        return f"translate(encode(convert_to({array}, 'UTF8'), 'base64'), E'\\n', '')"

    def keyset(self, target: Entity, alias: str, ordering: Ordering, values: Sequence[Any], *, after: bool) -> str:
        """Rows strictly after (or before) the row whose key values are `values`.

        A value may be Deferred (a compiled plan's cursor): it may then turn out NULL only at
        execution, so nullable keys get SQL that handles both cases.
        """
        keys = self._keys(target, alias, ordering)
        if len(values) != len(keys):
            raise BadInput("the cursor does not match this orderBy", field="after" if after else "before")
        # Cursor values travel as text; the cast restores the key's type (and its index use).
        bound = [
            f"{self.param(v, 'text')}::{SQL_TYPES[k.kind]}" if v is not None else "NULL"
            for k, v in zip(keys, values, strict=True)
        ]
        deferred = [isinstance(v, Deferred) for v in values]
        if all(not k.nullable for k in keys) and len({k.descending for k in keys}) == 1:
            # One direction, no nulls: a row comparison, which Postgres turns into an index range.
            forward = keys[0].descending != after
            return f"({', '.join(k.sql for k in keys)}) {'>' if forward else '<'} ({', '.join(bound)})"
        branches = []
        for i, key in enumerate(keys):
            equal = [_equals(keys[j], bound[j], maybe_null=deferred[j] and keys[j].nullable) for j in range(i)]
            beyond = _beyond(key, bound[i], after=after, maybe_null=deferred[i] and key.nullable)
            if beyond != "false":
                branches.append(" AND ".join([*equal, beyond]))
        return "(" + " OR ".join(branches) + ")" if branches else "false"


def _equals(key: _Key, bound: str, *, maybe_null: bool = False) -> str:
    if maybe_null:
        return f"{key.sql} IS NOT DISTINCT FROM {bound}"
    return f"{key.sql} IS NULL" if bound == "NULL" else f"{key.sql} = {bound}"


def _beyond(key: _Key, bound: str, *, after: bool, maybe_null: bool = False) -> str:
    """The key lies past `bound` in scan order (ORDER BY puts NULLs last ascending, first descending)."""
    ascending = not key.descending
    greater = ascending == after  # past means a greater value (and the NULLs beyond the values)
    past_null = f"{key.sql} IS NOT NULL" if ascending != after else "false"
    if bound == "NULL":
        return past_null
    if greater and key.nullable:
        past_value = f"({key.sql} > {bound} OR {key.sql} IS NULL)"
    else:
        past_value = f"{key.sql} {'>' if greater else '<'} {bound}"
    if maybe_null:
        return f"(CASE WHEN {bound} IS NULL THEN {past_null} ELSE {past_value} END)"
    return past_value


def _comparison(expr: str, kind: Kind, op: Op, value: Any, param: Callable[..., str]) -> str:
    sql_type = SQL_TYPES[kind]
    if op is Op.IS_NULL:
        return f"{expr} IS NULL" if value else f"{expr} IS NOT NULL"
    value = _db_value(value)
    if op is Op.EQ:
        return f"{expr} = {param(value, sql_type)}"
    if op is Op.NE:
        return f"{expr} IS DISTINCT FROM {param(value, sql_type)}"
    if op is Op.IN:
        return f"{expr} = ANY({param(value, sql_type + '[]')})"
    if op is Op.NOT_IN:
        return f"({expr} = ANY({param(value, sql_type + '[]')})) IS NOT TRUE"
    if op in _RANGE:
        return f"{expr} {_RANGE[op]} {param(value, sql_type)}"
    if op is Op.CONTAINS:
        return f"{expr} ILIKE {param(_transform(value, contains_pattern), 'text')}"
    if op is Op.STARTS_WITH:
        return f"lower({expr}) LIKE {param(_transform(value, prefix_pattern), 'text')}"
    raise ValueError(f"unknown operator {op}")


_RANGE = {Op.LT: "<", Op.LTE: "<=", Op.GT: ">", Op.GTE: ">="}


def _transform(value: Any, fn: Callable[[str], str]) -> Any:
    return value.map(fn) if isinstance(value, Deferred) else fn(value)


def _db_value(value: Any) -> Any:
    if isinstance(value, Deferred):
        return value.map(_db_value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [_db_value(v) for v in value]
    return value


# Custom fields are JSONB values; guards keep a mistyped stored value from failing the query.
def custom_field_sql(alias: str, key: str, kind: str) -> tuple[str, Kind]:
    path = f"{alias}.custom_fields -> '{_json_key(key)}'"
    text = f"({alias}.custom_fields ->> '{_json_key(key)}')"
    if kind == "number":
        return f"(CASE WHEN jsonb_typeof({path}) = 'number' THEN {text}::numeric END)", Kind.DECIMAL
    if kind == "bool":
        return f"(CASE WHEN jsonb_typeof({path}) = 'boolean' THEN {text}::boolean END)", Kind.BOOL
    if kind == "date":
        return f"(CASE WHEN {text} ~ '^\\d{{4}}-\\d{{2}}-\\d{{2}}$' THEN {text}::date END)", Kind.DATE
    return text, Kind.TEXT


def _json_key(key: str) -> str:
    # Keys are validated identifiers ([a-z][a-z0-9_]*) before they get here; refuse anything else.
    if not key.replace("_", "").isalnum() or not key[:1].isalpha():
        raise BadInput("not a custom field key", field="customFields")
    return key


# -- cursors ------------------------------------------------------------------------------------


def decode_cursor(text: str, ordering: Ordering, *, field: str) -> list[Any]:
    """The key values inside a cursor made by `Query.cursor` under the same ordering."""
    try:
        payload = orjson.loads(base64.b64decode(text, validate=False))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise BadInput("not a valid cursor", field=field) from None
    if not isinstance(payload, list) or not payload or payload[0] != ordering.signature:
        raise BadInput("the cursor was made for another orderBy", field=field)
    values = payload[1:]
    if len(values) != len(ordering.keys) + 1 or not all(v is None or isinstance(v, str) for v in values):
        raise BadInput("not a valid cursor", field=field)
    return values


def typed(value: Any, kind: Kind) -> Any:
    """A Python value for a bind parameter of `kind` (from GraphQL input or a decoded cursor)."""
    if value is None:
        return None
    if kind is Kind.UUID and not isinstance(value, UUID):
        return UUID(str(value))
    if kind is Kind.DECIMAL and not isinstance(value, Decimal):
        return Decimal(str(value))
    return value
