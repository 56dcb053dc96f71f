from __future__ import annotations

import strawberry

from backend.webhooks import service as webhooks
from policies.catalog import Requires
from schema.context import Context
from schema.relay import from_global_id
from schema.webhooks.types import Webhook, webhook_node

MANAGE_WEBHOOKS = Requires(object="Webhook.*", action="manage_webhooks")


@strawberry.type
class Query:
    @strawberry.field(directives=[MANAGE_WEBHOOKS], description="The tenant's webhooks, oldest first.")
    async def webhooks(self, info: strawberry.Info) -> list[Webhook]:
        context: Context = info.context
        return [webhook_node(row) for row in await webhooks.list_endpoints(context.tx)]

    @strawberry.field(directives=[MANAGE_WEBHOOKS], description="One webhook; NOT_FOUND when it is not yours.")
    async def webhook(self, info: strawberry.Info, id: strawberry.ID) -> Webhook:
        context: Context = info.context
        _, pk = from_global_id(id, expected=webhooks.ENTITY)
        return webhook_node(await webhooks.get(context.tx, pk))
