"""`node(id)` and `nodes(ids)`: any object by its global id.

The customer graph reads through the compiled-path row loaders (record scopes apply); the
administrative types (webhooks, teams, roles, keys, audit entries) are refetched by their own
concern's service. Either way a request batches the ids of one type into one statement, and the
field policy has already checked what the document selects of each type.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from uuid import UUID

import strawberry

from backend.audit import service as audit
from backend.errors import BadInput
from backend.query.entities import entity
from backend.teams import service as teams
from backend.webhooks import service as webhooks
from schema import loaders
from schema.access.types import role_node
from schema.api_keys.types import keys_by_id
from schema.audit.types import entry_node
from schema.context import Context
from schema.fields import MODULES, build
from schema.relay import Node, from_global_id
from schema.teams.types import team_node
from schema.webhooks.types import delivery_node, webhook_node

MAX_IDS = 100


async def _webhooks(context: Context, ids: list[UUID]) -> Mapping[UUID, Node]:
    return {row.id: webhook_node(row) for row in await webhooks.endpoints_by_id(context.tx, ids)}


async def _deliveries(context: Context, ids: list[UUID]) -> Mapping[UUID, Node]:
    return {row.id: delivery_node(row) for row in await webhooks.deliveries_by_id(context.tx, ids)}


async def _teams(context: Context, ids: list[UUID]) -> Mapping[UUID, Node]:
    return {row.id: team_node(row) for row in await teams.by_ids(context.tx, ids)}


async def _audit_entries(context: Context, ids: list[UUID]) -> Mapping[UUID, Node]:
    return {entry.id: entry_node(entry) for entry in await audit.by_ids(context.tx, ids)}


async def _api_keys(context: Context, ids: list[UUID]) -> Mapping[UUID, Node]:
    assert context.policy is not None
    return {key.pk: key for key in await keys_by_id(context, ids, context.policy)}


async def _roles(context: Context, ids: list[UUID]) -> Mapping[UUID, Node]:
    policy = context.policy
    assert policy is not None
    wanted = set(ids)
    return {row.id: role_node(policy, name) for name, row in policy.roles.items() if row.id in wanted}


_REFETCH: dict[str, Callable[[Context, list[UUID]], Awaitable[Mapping[UUID, Node]]]] = {
    webhooks.ENTITY: _webhooks,
    "WebhookDelivery": _deliveries,
    "Team": _teams,
    "AuditEntry": _audit_entries,
    "ApiKey": _api_keys,
    "Role": _roles,
}


async def _node(info: strawberry.Info, id: str, field: str) -> Node | None:
    context: Context = info.context
    type_name, pk = from_global_id(id, field=field)
    if type_name in MODULES:
        node: Node | None = build(type_name, await loaders.row_by_id(context, entity(type_name), pk))
        return node
    refetch = _REFETCH.get(type_name)
    if refetch is None:
        return None
    found: Node | None = await loaders.batched(context, ("node", type_name), pk, lambda ids: refetch(context, ids))
    return found


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
