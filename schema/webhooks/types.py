from __future__ import annotations

from datetime import datetime
from enum import Enum
from uuid import UUID

import strawberry

from backend.errors import BadInput
from backend.models import DeliveryStatus
from backend.models import WebhookDelivery as DeliveryRow
from backend.models import WebhookEndpoint as EndpointRow
from backend.webhooks import service as webhooks
from schema.context import Context
from schema.pagination import Connection, connection
from schema.relay import Node, to_global_id
from schema.scalars import Seq


@strawberry.enum(description="Whether a webhook receives events.")
class WebhookStatus(Enum):
    ACTIVE = "active"
    PAUSED = "paused"
    DISABLED = "disabled"


@strawberry.enum(description="Where a delivery stands.")
class WebhookDeliveryStatus(Enum):
    PENDING = "pending"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    DEAD = "dead"


@strawberry.enum(description="Why a delivery exists.")
class WebhookDeliveryKind(Enum):
    EVENT = "event"
    PING = "ping"
    REPLAY = "replay"


@strawberry.type(description="Narrows a webhook's events; all given conditions must hold.")
class WebhookFilter:
    entity_ids: list[strawberry.ID] = strawberry.field(description="Only events about these records.")
    changed: list[str] = strawberry.field(
        description="Only events that changed one of these fields (GraphQL names): updates only."
    )


@strawberry.type(description="One event (or ping) sent to a webhook, with its latest attempt.")
class WebhookDelivery(Node):
    kind: WebhookDeliveryKind
    seq: Seq | None = strawberry.field(description="The event's seq (none for a ping).")
    event_type: str
    status: WebhookDeliveryStatus
    attempts: int
    next_attempt_at: datetime | None = strawberry.field(description="When it is tried again (while retrying).")
    last_attempt_at: datetime | None
    response_code: int | None
    duration_ms: int | None
    error: str | None
    endpoint_disabled: bool = strawberry.field(description="This delivery's failure disabled the webhook.")
    created_at: datetime


@strawberry.type(description="An endpoint that receives the tenant's events as signed HTTP POSTs.")
class Webhook(Node):
    url: str
    description: str
    event_types: list[str] = strawberry.field(description="Types (`ticket.updated`), families (`ticket.*`) or `*`.")
    filter: WebhookFilter | None
    status: WebhookStatus
    disabled_reason: str | None = strawberry.field(description="Why the system disabled it.")
    last_seq: Seq = strawberry.field(description="The last event seq handed to this webhook.")
    consecutive_failures: int
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime
    pk: strawberry.Private[UUID]

    @strawberry.field(description="The delivery log, newest first.")
    async def deliveries(
        self,
        info: strawberry.Info,
        status: WebhookDeliveryStatus | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> Connection[WebhookDelivery]:
        context: Context = info.context
        if not 0 <= first <= context.settings.page_max:
            raise BadInput(f"first must be between 0 and {context.settings.page_max}", field="first")
        wanted = DeliveryStatus(status.value) if status is not None else None
        page = await webhooks.deliveries(context.tx, self.pk, status=wanted, first=first, after=after)

        async def count() -> int:
            return await webhooks.count_deliveries(context.tx, self.pk, wanted)

        async def newer() -> bool:  # pages go one way (newest first): an `after` page has newer ones
            return after is not None

        return connection(
            [delivery_node(d) for d in page.deliveries],
            [webhooks.delivery_cursor(d) for d in page.deliveries],
            has_more=page.has_more,
            backward=False,
            count=count,
            other_direction=newer,
        )


@strawberry.type(description="A new webhook and its signing secret: shown this once, store it now.")
class WebhookSecretPayload:
    webhook: Webhook
    secret: str


def webhook_node(row: EndpointRow) -> Webhook:
    where = webhooks.EndpointFilter.of(row.conditions)
    shown = where.as_json()
    return Webhook(
        id=to_global_id(webhooks.ENTITY, row.id),
        url=row.url,
        description=row.description,
        event_types=list(row.event_types),
        filter=None
        if shown is None
        else WebhookFilter(
            entity_ids=[to_global_id(t, pk) for t, pk in sorted(where.entities)], changed=sorted(where.changed)
        ),
        status=WebhookStatus(row.status.value),
        disabled_reason=row.disabled_reason,
        last_seq=Seq(row.cursor),
        consecutive_failures=row.consecutive_failures,
        failing_since=row.failing_since,
        created_at=row.created_at,
        updated_at=row.updated_at,
        pk=row.id,
    )


def delivery_node(row: DeliveryRow) -> WebhookDelivery:
    retrying = row.status.value in ("pending", "retrying")
    return WebhookDelivery(
        id=to_global_id("WebhookDelivery", row.id),
        kind=WebhookDeliveryKind(row.kind.value),
        seq=None if row.seq is None else Seq(row.seq),
        event_type=row.event_type,
        status=WebhookDeliveryStatus(row.status.value),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at if retrying else None,
        last_attempt_at=row.last_attempt_at,
        response_code=row.response_code,
        duration_ms=row.duration_ms,
        error=row.error,
        endpoint_disabled=row.endpoint_disabled,
        created_at=row.created_at,
    )
