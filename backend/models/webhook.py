from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.contrib.postgres.fields import ArrayField

from backend.models.base import TenantModel


class EndpointStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    DISABLED = "disabled"  # by the system after failing for long; resuming re-enables it


class DeliveryKind(StrEnum):
    EVENT = "event"
    PING = "ping"
    REPLAY = "replay"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    DEAD = "dead"


class WebhookEndpoint(TenantModel):
    """Where a tenant wants events POSTed (see migration 0041 and backend/webhooks/service.py)."""

    url = fields.TextField()
    description = fields.TextField(default="")
    event_types = ArrayField("text")
    # Named `conditions`, not `filter`: that is the ORM's query method.
    conditions: fields.Field[dict[str, list[Any]] | None] = fields.JSONField(
        null=True, description="The endpoint's filter (EndpointFilter)."
    )
    secret = fields.TextField(description="Signs bodies; shown once, never read back through the API.")
    status = fields.CharEnumField(EndpointStatus, default=EndpointStatus.ACTIVE)
    disabled_reason = fields.TextField(null=True)
    cursor = fields.BigIntField(default=0, description="The last event seq fanned out to this endpoint.")
    owner_kind = fields.TextField(description="`user` or `api_key`: whose field policy filters bodies.")
    owner_id = fields.UUIDField()
    consecutive_failures = fields.IntField(default=0)
    failing_since = fields.DatetimeField(null=True)

    class Meta:
        table = "webhook_endpoints"


class WebhookDelivery(TenantModel):
    """One event (or ping) to one endpoint, with the outcome of its latest attempt."""

    endpoint: fields.ForeignKeyRelation[WebhookEndpoint] = fields.ForeignKeyField(
        "models.WebhookEndpoint", related_name="deliveries", on_delete=fields.CASCADE, db_constraint=False
    )
    kind = fields.CharEnumField(DeliveryKind)
    seq = fields.BigIntField(null=True)
    event_type = fields.TextField()
    status = fields.CharEnumField(DeliveryStatus, default=DeliveryStatus.PENDING)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField()
    queued_at = fields.DatetimeField(null=True)
    last_attempt_at = fields.DatetimeField(null=True)
    response_code = fields.IntField(null=True)
    duration_ms = fields.IntField(null=True)
    error = fields.TextField(null=True)
    endpoint_disabled = fields.BooleanField(default=False)

    class Meta:
        table = "webhook_deliveries"
