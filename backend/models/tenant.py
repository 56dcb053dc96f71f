from __future__ import annotations

from tortoise import fields
from tortoise.models import Model
from uuid_utils.compat import uuid7


class Tenant(Model):
    id = fields.UUIDField(primary_key=True, default=uuid7)
    name = fields.TextField()
    slug = fields.TextField()
    settings: fields.Field[dict[str, object]] = fields.JSONField(default=dict)
    version = fields.IntField(default=1)
    policy_version = fields.IntField(default=0, description="Bumped by every access policy change.")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "tenants"
