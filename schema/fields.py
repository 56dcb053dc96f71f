"""Field factories shared by every object type: rows become nodes, relations become
to-one fields and Relay connections, all read through the per-request loaders.

This module does not use `from __future__ import annotations`: the resolvers it builds carry
real annotations (lazy references to the other domains' types), which strawberry reads to
build the schema.
"""

import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar
from uuid import UUID

import asyncpg
import orjson
import strawberry
from strawberry import UNSET

from backend.query import reads
from backend.query.entities import Entity, Kind, entity
from backend.query.reads import PageRequest
from backend.query.sql import Ordering
from schema import loaders
from schema.context import Context
from schema.filters import custom_field_entities, graphql_value, to_filter, to_ordering
from schema.pagination import Connection, connection
from schema.relay import Node, from_global_id, to_global_id

T = TypeVar("T")

# Where each entity's GraphQL types live: schema/<module>/types.py and inputs.py.
MODULES = {
    "Account": "accounts",
    "Contact": "contacts",
    "Product": "products",
    "Order": "orders",
    "OrderLine": "orders",
    "Ticket": "tickets",
    "Feedback": "feedback",
    "User": "users",
    "Merge": "customers",
}

_NODE_TYPES: dict[str, type] = {}
_BUILDERS: dict[type, Callable[[asyncpg.Record], Any]] = {}
_COMPUTED: dict[str, dict[str, "Computed"]] = {}

# Key of the strawberry field metadata that tells the compiled read path how to plan a field.
PLAN = "rapport.plan"


@strawberry.type
class Record(Node):
    """What every stored object of the customer graph has; node types derive from it."""

    version: int = strawberry.field(description="Increases on every change; pass it to updates to detect conflicts.")
    created_at: datetime
    updated_at: datetime
    pk: strawberry.Private[UUID]
    row: strawberry.Private[Any]


@dataclass(frozen=True, slots=True)
class Computed:
    """A field that is not a column: how Python builds it from a row, and how SQL does.

    `sql` maps a table alias to an expression, or (for an object such as Money) each of the
    object's fields to its expression.
    """

    python: Callable[[asyncpg.Record], Any]
    sql: Callable[[str], str] | Mapping[str, Callable[[str], str]]


def lazy(entity_name: str, suffix: str = "", module: str = "types") -> Any:
    return Annotated[entity_name + suffix, strawberry.lazy(f"schema.{MODULES[entity_name]}.{module}")]


def node_type(entity_name: str, **computed: Computed) -> Callable[[type[T]], type[T]]:
    """Register a strawberry type as the node of an entity; `computed` describes non-column fields."""

    def register(cls: type[T]) -> type[T]:
        _NODE_TYPES[entity_name] = cls
        _COMPUTED[entity_name] = computed
        _BUILDERS[cls] = _builder(cls, entity(entity_name), {name: c.python for name, c in computed.items()})
        return cls

    return register


def computed_fields(entity_name: str) -> Mapping[str, Computed]:
    return _COMPUTED.get(entity_name, {})


def entity_of_type(type_name: str) -> str | None:
    """The entity whose node type is named `type_name` (GraphQL type names are the class names)."""
    return next((name for name, cls in _NODE_TYPES.items() if cls.__name__ == type_name), None)


def node_class(entity_name: str) -> type:
    return _NODE_TYPES[entity_name]


def build(entity_name: str, row: asyncpg.Record | None) -> Any:
    if row is None:
        return None
    cls = _NODE_TYPES[entity_name]
    return _BUILDERS[cls](row)


def _builder(cls: type, target: Entity, computed: dict[str, Callable[[asyncpg.Record], Any]]) -> Callable[..., Any]:
    converters: dict[str, Callable[[asyncpg.Record], Any]] = {}
    for field in dataclasses.fields(cls):
        if not field.init:
            continue
        name = field.name
        if name in computed:
            converters[name] = computed[name]
        elif name == "id":
            converters[name] = _global_id(target.name)
        elif name == "pk":
            converters[name] = lambda row: row["id"]
        elif name == "row":
            converters[name] = lambda row: row
        else:
            converters[name] = _column_converter(target, name)

    def build_one(row: asyncpg.Record) -> Any:
        return cls(**{name: convert(row) for name, convert in converters.items()})

    return build_one


def _global_id(type_name: str) -> Callable[[asyncpg.Record], Any]:
    return lambda row: to_global_id(type_name, row["id"])


def _column_converter(target: Entity, name: str) -> Callable[[asyncpg.Record], Any]:
    column = target.column(name)
    db = column.db
    if column.kind is Kind.ENUM and column.enum is not None:
        enum = column.enum
        return lambda row: None if row[db] is None else enum(row[db])
    if column.kind is Kind.JSON:
        return lambda row: orjson.loads(row[db]) if isinstance(row[db], str) else row[db]
    return lambda row: row[db]


def _context(info: strawberry.Info) -> Context:
    context: Context = info.context
    return context


def to_one(source: str, relation: str, *, description: str | None = None) -> Any:
    """A nullable to-one relation (`Contact.account`), batched by id."""
    rel = entity(source).relations[relation]
    target = entity(rel.target)
    local = entity(source).column(rel.local).db

    async def resolve(root: Any, info: strawberry.Info) -> lazy(rel.target) | None:  # type: ignore[valid-type]
        pk = root.row[local]
        if pk is None:
            return None
        row = await loaders.row_by_id(_context(info), target, pk, field_node=id(info._raw_info.field_nodes[0]))
        return build(target.name, row)

    return strawberry.field(resolver=resolve, description=description, metadata={PLAN: ("one", source, relation)})


async def page_request(
    context: Context,
    target: Entity,
    *,
    filter: Any,
    order_by: Any,
    first: int | None,
    last: int | None,
    after: str | None,
    before: str | None,
) -> PageRequest:
    filter_value, orders = graphql_value(filter), graphql_value(order_by)
    kinds = {
        name: await loaders.custom_kinds(context, name) for name in custom_field_entities(target, filter_value, orders)
    }
    return PageRequest.from_args(
        to_ordering(orders, target, kinds.get(target.name, {}), Ordering()),
        to_filter(filter_value, target, kinds),
        first=first,
        last=last,
        after=after,
        before=before,
        default=context.settings.page_default,
        maximum=context.settings.page_max,
    )


# What a connection field does once its arguments are a validated page request: the page,
# and how to count the whole list and look the other way (both only when asked).
PageLoad = Callable[
    [Context, strawberry.Info, Any, PageRequest],
    Awaitable[tuple[reads.Page, Callable[[], Awaitable[int]], Callable[[], Awaitable[bool]]]],
]


def _connection_field(target: Entity, load: PageLoad, *, description: str | None, plan: tuple[Any, ...]) -> Any:
    """A Relay connection over `target` with the standard arguments (first/after/last/before,
    filter, orderBy); `load` fetches the page for the root object."""
    node = lazy(target.name)
    filter_type = lazy(target.name, "Filter", "inputs")
    order_type = lazy(target.name, "Order", "inputs")

    async def resolve(
        root: Any,
        info: strawberry.Info,
        first: int | None = UNSET,
        after: str | None = UNSET,
        last: int | None = UNSET,
        before: str | None = UNSET,
        filter: filter_type | None = UNSET,  # type: ignore[valid-type]
        order_by: list[order_type] | None = UNSET,  # type: ignore[valid-type]
    ) -> Connection[node]:  # type: ignore[valid-type]
        context = _context(info)
        request = await page_request(
            context,
            target,
            filter=_given(filter),
            order_by=_given(order_by),
            first=_given(first),
            last=_given(last),
            after=_given(after),
            before=_given(before),
        )
        page, count, other_direction = await load(context, info, root, request)
        return connection(
            [build(target.name, row) for row in page.rows],
            [row["__cursor"] for row in page.rows],
            has_more=page.has_more,
            backward=request.backward,
            count=count,
            other_direction=other_direction,
        )

    return strawberry.field(resolver=resolve, description=description, metadata={PLAN: plan})


def connection_field(source: str, relation: str, *, description: str | None = None) -> Any:
    """A to-many relation as a Relay connection (`Account.contacts(first:, filter:, orderBy:)`),
    batched over every parent reached through the same field."""
    rel = entity(source).relations[relation]
    target = entity(rel.target)

    async def load(
        context: Context, info: strawberry.Info, root: Any, request: PageRequest
    ) -> tuple[reads.Page, Callable[[], Awaitable[int]], Callable[[], Awaitable[bool]]]:
        field_node = id(info._raw_info.field_nodes[0])
        parent = root.pk
        tx, scope = context.tx, context.scope
        page: reads.Page = await loaders.batched(
            context,
            ("page", field_node),
            parent,
            lambda parents: reads.pages(tx, target, rel.remote, parents, request, scope=scope),
        )

        async def count() -> int:
            total: int = await loaders.batched(
                context,
                ("count", field_node),
                parent,
                lambda parents: reads.counts(tx, target, rel.remote, parents, request.filter, scope=scope),
            )
            return total

        async def other_direction() -> bool:
            found: bool = await loaders.batched(
                context,
                ("beyond", field_node),
                parent,
                lambda parents: reads.exists_beyond_per_parent(tx, target, rel.remote, parents, request, scope=scope),
            )
            return found

        return page, count, other_direction

    return _connection_field(target, load, description=description, plan=("many", source, relation))


def root_connection(entity_name: str, *, description: str | None = None) -> Any:
    """A top-level list of an entity as a Relay connection."""
    target = entity(entity_name)

    async def load(
        context: Context, info: strawberry.Info, root: Any, request: PageRequest
    ) -> tuple[reads.Page, Callable[[], Awaitable[int]], Callable[[], Awaitable[bool]]]:
        tx, scope = context.tx, context.scope
        page = await reads.page(tx, target, request, scope=scope)

        async def count() -> int:
            return await reads.count(tx, target, request.filter, scope=scope)

        async def other_direction() -> bool:
            return await reads.exists_beyond(tx, target, request, scope=scope)

        return page, count, other_direction

    return _connection_field(target, load, description=description, plan=("root_many", entity_name))


def _given(value: Any) -> Any:
    return None if value is UNSET else value


def root_node(entity_name: str, *, description: str | None = None) -> Any:
    """A top-level `account(id: ID!)`: null when no such row is visible to the caller."""
    target = entity(entity_name)

    async def resolve(info: strawberry.Info, id: strawberry.ID) -> lazy(entity_name) | None:  # type: ignore[valid-type]
        _, pk = from_global_id(id, expected=entity_name)
        return build(entity_name, await loaders.row_by_id(_context(info), target, pk))

    return strawberry.field(resolver=resolve, description=description, metadata={PLAN: ("root_one", entity_name)})
