"""Access control policy rows (see migration 0012): roles, Casbin `p` and `g` rules, record scopes."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields

from backend.models.base import TenantModel

if TYPE_CHECKING:
    from backend.models.api_key import ApiKey
    from backend.models.user import User


class Effect(StrEnum):
    ALLOW = "allow"
    DENY = "deny"


class RecordScopeKind(StrEnum):
    ALL = "all"
    OWN = "own"
    TEAM = "team"


class AccessRole(TenantModel):
    name = fields.TextField()
    description = fields.TextField(default="")

    class Meta:
        table = "access_roles"


class AccessGrant(TenantModel):
    """One Casbin `p` rule: the role may (allow) or may not (deny) do `action` on `object`."""

    role: fields.ForeignKeyRelation[AccessRole] = fields.ForeignKeyField(
        "models.AccessRole", related_name="grants", on_delete=fields.CASCADE, db_constraint=False
    )
    object = fields.TextField()
    action = fields.TextField()
    effect = fields.CharEnumField(Effect)

    class Meta:
        table = "access_grants"


class AccessScope(TenantModel):
    """Which records of `entity` the role reaches for `action` (default: all)."""

    role: fields.ForeignKeyRelation[AccessRole] = fields.ForeignKeyField(
        "models.AccessRole", related_name="scopes", on_delete=fields.CASCADE, db_constraint=False
    )
    entity = fields.TextField()
    action = fields.TextField()
    scope = fields.CharEnumField(RecordScopeKind)

    class Meta:
        table = "access_scopes"


class AccessBinding(TenantModel):
    """One Casbin `g` rule: a user or an API key holds a role."""

    role: fields.ForeignKeyRelation[AccessRole] = fields.ForeignKeyField(
        "models.AccessRole", related_name="bindings", on_delete=fields.CASCADE, db_constraint=False
    )
    user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="role_bindings", null=True, on_delete=fields.CASCADE, db_constraint=False
    )
    api_key: fields.ForeignKeyNullableRelation[ApiKey] = fields.ForeignKeyField(
        "models.ApiKey", related_name="role_bindings", null=True, on_delete=fields.CASCADE, db_constraint=False
    )

    class Meta:
        table = "access_bindings"
