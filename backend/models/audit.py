from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class AuditEntry(Model):
    """One row of the append-only audit log (written by triggers and by backend.audit)."""

    tenant_id = fields.UUIDField()
    id = fields.UUIDField(primary_key=True)
    at = fields.DatetimeField()
    actor_kind = fields.TextField()
    actor_id = fields.UUIDField(null=True)
    request_id = fields.TextField(null=True)
    action = fields.TextField()
    entity = fields.TextField()
    entity_id = fields.UUIDField(null=True)
    before: fields.Field[dict[str, object] | None] = fields.JSONField(null=True)
    after: fields.Field[dict[str, object] | None] = fields.JSONField(null=True)

    class Meta:
        table = "audit_log"
