from __future__ import annotations

import strawberry

from backend.errors import BadInput
from backend.models import DeliveryStatus
from backend.webhooks import service as webhooks
from policies.catalog import Requires
from schema.context import Context
from schema.pagination import connection
from schema.relay import from_global_id
from schema.webhooks.types import (
    Webhook,
    WebhookDeliveryConnection,
    WebhookDeliveryStatus,
    delivery_node,
    webhook_node,
)

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

    @strawberry.field(directives=[MANAGE_WEBHOOKS], description="A webhook's deliveries, newest first.")
    async def webhook_deliveries(
        self,
        info: strawberry.Info,
        webhook_id: strawberry.ID,
        status: WebhookDeliveryStatus | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> WebhookDeliveryConnection:
        context: Context = info.context
        if not 0 <= first <= context.settings.page_max:
            raise BadInput(f"first must be between 0 and {context.settings.page_max}", field="first")
        _, pk = from_global_id(webhook_id, expected=webhooks.ENTITY, field="webhookId")
        wanted = DeliveryStatus(status.value) if status is not None else None
        page = await webhooks.deliveries(context.tx, pk, status=wanted, first=first, after=after)

        async def count() -> int:
            return await webhooks.count_deliveries(context.tx, pk, wanted)

        async def newer() -> bool:
            return after is not None

        return connection(
            [delivery_node(d) for d in page.deliveries],
            [webhooks.delivery_cursor(d) for d in page.deliveries],
            has_more=page.has_more,
            backward=False,
            count=count,
            other_direction=newer,
        )
