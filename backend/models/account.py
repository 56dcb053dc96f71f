from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields

from backend.models.base import TenantModel

if TYPE_CHECKING:
    from backend.models.user import User


class LifecycleStage(StrEnum):
    LEAD = "lead"
    PROSPECT = "prospect"
    CUSTOMER = "customer"
    CHURNED = "churned"


class Tier(StrEnum):
    FREE = "free"
    STARTER = "starter"
    PRO = "pro"
    ENTERPRISE = "enterprise"


class Account(TenantModel):
    name = fields.TextField()
    domain = fields.TextField(null=True)
    industry = fields.TextField(null=True)
    parent: fields.ForeignKeyNullableRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="children", null=True, on_delete=fields.SET_NULL, db_constraint=False
    )
    owner: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="owned_accounts", null=True, on_delete=fields.SET_NULL, db_constraint=False
    )
    lifecycle_stage = fields.CharEnumField(LifecycleStage, default=LifecycleStage.LEAD)
    tier = fields.CharEnumField(Tier, null=True)
    custom_fields: fields.Field[dict[str, object]] = fields.JSONField(default=dict)

    class Meta:
        table = "accounts"
