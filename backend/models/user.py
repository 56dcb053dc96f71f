from __future__ import annotations

from tortoise import fields

from backend.models.base import TenantModel


class User(TenantModel):
    external_id = fields.TextField(description="The identity provider's subject (JWT `sub`).")
    email = fields.TextField()
    name = fields.TextField(default="")
    is_active = fields.BooleanField(default=True)
    last_login_at = fields.DatetimeField(null=True)

    class Meta:
        table = "users"
