"""Per-request DataLoaders over backend.query.reads.

Loaders live in `Context.loaders`, created on first use, so they are per request and per
tenant by construction (a request has exactly one tenant). A loader for a nested list is
keyed by its GraphQL field node: every parent reached through the same field shares the
same arguments, so one batched statement serves all of them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Any, TypeVar
from uuid import UUID

import asyncpg
from strawberry.dataloader import DataLoader

from backend.custom_fields import service as custom_fields
from backend.query import reads
from backend.query.entities import Entity
from schema.context import Context

T = TypeVar("T")


async def batched(
    context: Context, key: Hashable, item: UUID, fetch: Callable[[list[UUID]], Awaitable[Mapping[UUID, T]]]
) -> T:
    """Load `item` through the request's loader `key`, which fetches all pending items at once."""
    loader: DataLoader[UUID, Any] | None = context.loaders.get(key)
    if loader is None:

        async def load(items: list[UUID]) -> list[Any]:
            found = await fetch(items)
            return [found.get(i) for i in items]

        loader = context.loaders[key] = DataLoader(load_fn=load)
    value: T = await loader.load(item)
    return value


async def row_by_id(
    context: Context, target: Entity, pk: UUID, *, field_node: int | None = None
) -> asyncpg.Record | None:
    """A row by id. Relation fields pass their field node so each gets a loader of its own:
    the statements of a request then follow the shape of the query, whatever the timing."""

    def fetch(ids: list[UUID]) -> Awaitable[Mapping[UUID, asyncpg.Record]]:
        return reads.by_ids(context.tx, target, ids, scope=context.scope)

    row: asyncpg.Record | None = await batched(context, ("by_id", target.name, field_node), pk, fetch)
    return row


async def custom_kinds(context: Context, entity_name: str) -> dict[str, str]:
    """The tenant's custom field kinds for an entity, read at most once per request."""
    key = ("custom_kinds", entity_name)
    kinds: dict[str, str] | None = context.loaders.get(key)
    if kinds is None:
        kinds = context.loaders[key] = await custom_fields.kinds(context.tx, entity_name)
    return kinds
