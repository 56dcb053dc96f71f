from __future__ import annotations

from tortoise import fields
from tortoise.contrib.postgres.fields import ArrayField
from tortoise.models import Model


class Event(Model):
    """One event of the transactional outbox (written by triggers, migration 0040; see
    backend/events/service.py). The primary key is (tenant_id, seq)."""

    tenant_id = fields.UUIDField()
    seq = fields.BigIntField(primary_key=True)
    type = fields.TextField()
    entity = fields.TextField()
    entity_id = fields.UUIDField(null=True)
    changed = ArrayField("text")
    data: fields.Field[dict[str, object] | None] = fields.JSONField(null=True)
    change = fields.TextField(null=True, description="insert/update/delete for a row change (an audit entry)")
    before: fields.Field[dict[str, object] | None] = fields.JSONField(
        null=True, description="Updates: the changed columns' old values"
    )
    actor_kind = fields.TextField()
    actor_id = fields.UUIDField(null=True)
    request_id = fields.TextField(null=True)
    at = fields.DatetimeField()

    class Meta:
        table = "events"
