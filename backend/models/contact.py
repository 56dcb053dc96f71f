from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields

from backend.models.base import TenantModel

if TYPE_CHECKING:
    from backend.models.account import Account


class Contact(TenantModel):
    account: fields.ForeignKeyNullableRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="contacts", null=True, on_delete=fields.SET_NULL, db_constraint=False
    )
    first_name = fields.TextField(default="")
    last_name = fields.TextField()
    email = fields.TextField(null=True)
    phone = fields.TextField(null=True, description="E.164, e.g. +14155550100")
    title = fields.TextField(null=True)
    consent_email = fields.BooleanField(default=False)
    consent_sms = fields.BooleanField(default=False)
    consent_phone = fields.BooleanField(default=False)
    custom_fields: fields.Field[dict[str, object]] = fields.JSONField(default=dict)

    class Meta:
        table = "contacts"
