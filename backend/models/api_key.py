from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields

from backend.models.base import TenantModel

if TYPE_CHECKING:
    from backend.models.user import User


class ApiKey(TenantModel):
    """An integrator's identity; roles are bound to it, its secrets authenticate it."""

    name = fields.TextField()
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="created_api_keys", null=True, on_delete=fields.SET_NULL, db_constraint=False
    )
    expires_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_keys"


class ApiKeySecret(TenantModel):
    """A credential of a key: the SHA-256 of a random secret shown once, never the secret."""

    key: fields.ForeignKeyRelation[ApiKey] = fields.ForeignKeyField(
        "models.ApiKey", related_name="secrets", on_delete=fields.CASCADE, db_constraint=False
    )
    secret_hash = fields.TextField()
    prefix = fields.TextField(description="The secret's first characters, to recognise it.")
    expires_at = fields.DatetimeField(null=True, description="Set when a rotation superseded it (grace period).")
    last_used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_key_secrets"
