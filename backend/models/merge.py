from __future__ import annotations

from tortoise import fields
from tortoise.contrib.postgres.fields import ArrayField

from backend.models.base import TenantModel


class Merge(TenantModel):
    """A customer-master merge and the snapshot that undoes it."""

    entity = fields.TextField()
    survivor_id = fields.UUIDField()
    merged_ids = ArrayField(element_type="uuid")
    field_choices: fields.Field[dict[str, object]] = fields.JSONField(default=dict)
    snapshot: fields.Field[dict[str, object]] = fields.JSONField()
    created_by = fields.UUIDField(null=True)
    undone_at = fields.DatetimeField(null=True)

    class Meta:
        table = "merges"
