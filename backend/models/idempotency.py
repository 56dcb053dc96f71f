from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class IdempotencyKey(Model):
    """The primary key is (tenant_id, key); Tortoise sees `key`, always queried with the tenant."""

    key = fields.CharField(max_length=255, primary_key=True)
    tenant_id = fields.UUIDField()
    request_hash = fields.TextField()
    response: fields.Field[object] = fields.JSONField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "idempotency_keys"


class TenantCounter(Model):
    """The primary key is (tenant_id, name)."""

    name = fields.CharField(max_length=64, primary_key=True)
    tenant_id = fields.UUIDField()
    value = fields.BigIntField(default=0)

    class Meta:
        table = "tenant_counters"
