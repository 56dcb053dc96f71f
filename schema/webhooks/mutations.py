from __future__ import annotations

from typing import Any

import strawberry

from backend.audit import service as audit
from backend.webhooks import service as webhooks
from schema.context import Context
from schema.relay import from_global_id
from schema.scalars import Seq
from schema.webhooks.inputs import WebhookCreateInput, WebhookUpdateInput
from schema.webhooks.queries import MANAGE_WEBHOOKS
from schema.webhooks.types import Webhook, WebhookDelivery, WebhookSecretPayload, delivery_node, webhook_node

_TABLE = "webhook_endpoints"


def _pk(id: str) -> Any:
    return from_global_id(id, expected=webhooks.ENTITY)[1]


@strawberry.type
class Mutation:
    @strawberry.mutation(
        directives=[MANAGE_WEBHOOKS],
        description="Register a webhook; it receives events that commit from now on, with the fields you may "
        "read. Its signing secret is in the answer, and only there.",
    )
    async def webhook_create(self, info: strawberry.Info, input: WebhookCreateInput) -> WebhookSecretPayload:
        context: Context = info.context
        endpoint, secret = await webhooks.create(
            context.tx, context.settings.keyring, url=input.url, event_types=input.event_types,
            description=input.description, secret=input.secret,
            filter=input.filter.parse("input.filter") if input.filter else None,
        )  # fmt: skip
        await audit.record(context.tx, "webhook.create", _TABLE, endpoint.id,
                           after={"url": endpoint.url, "eventTypes": endpoint.event_types})  # fmt: skip
        return WebhookSecretPayload(webhook=webhook_node(endpoint), secret=secret)

    @strawberry.mutation(directives=[MANAGE_WEBHOOKS], description="Change a webhook; omitted fields stay.")
    async def webhook_update(self, info: strawberry.Info, id: strawberry.ID, input: WebhookUpdateInput) -> Webhook:
        context: Context = info.context
        given = input.filter
        endpoint = await webhooks.update(
            context.tx, context.settings.keyring, _pk(id), url=input.url, event_types=input.event_types,
            description=input.description, secret=input.secret,
            filter=given.parse("input.filter") if given else None, clear_filter=given is None,
        )  # fmt: skip
        if input.secret is not None:
            await audit.record(context.tx, "webhook.secret", _TABLE, endpoint.id)
        return webhook_node(endpoint)

    @strawberry.mutation(
        directives=[MANAGE_WEBHOOKS], description="Stop sending; the events meanwhile are sent on resume."
    )
    async def webhook_pause(self, info: strawberry.Info, id: strawberry.ID) -> Webhook:
        context: Context = info.context
        return webhook_node(await webhooks.pause(context.tx, _pk(id)))

    @strawberry.mutation(
        directives=[MANAGE_WEBHOOKS],
        description="Send again (also after the system disabled it), from where it stopped.",
    )
    async def webhook_resume(self, info: strawberry.Info, id: strawberry.ID) -> Webhook:
        context: Context = info.context
        return webhook_node(await webhooks.resume(context.tx, _pk(id)))

    @strawberry.mutation(directives=[MANAGE_WEBHOOKS], description="Delete a webhook and its delivery log.")
    async def webhook_delete(self, info: strawberry.Info, id: strawberry.ID) -> strawberry.ID:
        context: Context = info.context
        await webhooks.delete(context.tx, _pk(id))
        return id

    @strawberry.mutation(
        directives=[MANAGE_WEBHOOKS],
        description="Send a `webhook.ping` once; its outcome appears in the delivery log.",
    )
    async def webhook_ping(self, info: strawberry.Info, id: strawberry.ID) -> WebhookDelivery:
        context: Context = info.context
        return delivery_node(await webhooks.ping(context.tx, _pk(id)))

    @strawberry.mutation(
        directives=[MANAGE_WEBHOOKS],
        description="Send the retained events fromSeq..toSeq (inclusive) of the webhook's types again, to "
        "this webhook only; returns how many deliveries were queued.",
    )
    async def webhook_replay(self, info: strawberry.Info, id: strawberry.ID, from_seq: Seq, to_seq: Seq) -> int:
        context: Context = info.context
        count = await webhooks.replay(context.tx, _pk(id), from_seq, to_seq)
        await audit.record(context.tx, "webhook.replay", _TABLE, _pk(id), after={"fromSeq": from_seq, "toSeq": to_seq})
        return count
