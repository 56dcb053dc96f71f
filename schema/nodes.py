"""`node(id)` and `nodes(ids)`: any object by its global id."""

from __future__ import annotations

import asyncio

import strawberry

from backend.errors import BadInput
from backend.query.entities import entity
from schema import loaders
from schema.fields import MODULES, build
from schema.relay import Node, from_global_id

MAX_IDS = 100


async def _node(info: strawberry.Info, id: str, field: str) -> Node | None:
    type_name, pk = from_global_id(id, field=field)
    if type_name not in MODULES:
        return None
    target = entity(type_name)
    node: Node | None = build(type_name, await loaders.row_by_id(info.context, target, pk))
    return node


@strawberry.type
class Query:
    @strawberry.field(description="Any object by its global id; null when it does not exist for you.")
    async def node(self, info: strawberry.Info, id: strawberry.ID) -> Node | None:
        return await _node(info, id, "id")

    @strawberry.field(description=f"Objects by global id, in the order asked (null where missing); {MAX_IDS} at most.")
    async def nodes(self, info: strawberry.Info, ids: list[strawberry.ID]) -> list[Node | None]:
        if len(ids) > MAX_IDS:
            raise BadInput(f"ask for {MAX_IDS} ids at most", field="ids")
        return list(await asyncio.gather(*(_node(info, id, f"ids.{i}") for i, id in enumerate(ids))))
