from __future__ import annotations

import strawberry

from backend.webhooks import service as webhooks
from schema.relay import from_global_id


@strawberry.input(description="Narrows a webhook's events; all given conditions must hold.")
class WebhookFilterInput:
    entity_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Only events about these records (ids of any type)."
    )
    changed: list[str] = strawberry.field(
        default_factory=list, description="Only events that changed one of these fields: updates only."
    )

    def parse(self, field: str) -> webhooks.EndpointFilter:
        entities = frozenset(from_global_id(i, field=f"{field}.entityIds.{n}") for n, i in enumerate(self.entity_ids))
        return webhooks.EndpointFilter(entities, frozenset(self.changed))


@strawberry.input(description="A new webhook.")
class WebhookCreateInput:
    url: str
    event_types: list[str] = strawberry.field(description="Types (`ticket.updated`), families (`ticket.*`) or `*`.")
    description: str = ""
    filter: WebhookFilterInput | None = None
    secret: str | None = strawberry.field(default=None, description="24 to 200 characters; generated when omitted.")


@strawberry.input(description="Changes to a webhook; what is omitted stays.")
class WebhookUpdateInput:
    url: str | None = None
    event_types: list[str] | None = None
    description: str | None = None
    filter: WebhookFilterInput | None = strawberry.field(default=strawberry.UNSET, description="null removes it.")
    secret: str | None = strawberry.field(default=None, description="A new signing secret (24 to 200 characters).")
