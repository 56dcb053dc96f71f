"""Shared columns of every tenant-owned table.

The database is the source of truth for keys and constraints (see backend/migrations);
these models mirror it so the ORM, the GraphQL schema and the SQL builder share one
description of each table. Tortoise has no composite primary keys: `id` is the ORM's key,
while the table's primary key is (tenant_id, id) and every foreign key is composite,
which is why relations here are declared with db_constraint=False.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model
from uuid_utils.compat import uuid7


class TenantModel(Model):
    id = fields.UUIDField(primary_key=True, default=uuid7)
    tenant_id = fields.UUIDField()
    # Both maintained by the touch_row() trigger on every UPDATE.
    version = fields.IntField(default=1)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        abstract = True
