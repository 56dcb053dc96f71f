from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields

from backend.models.base import TenantModel

if TYPE_CHECKING:
    from backend.models.team import Team


class User(TenantModel):
    external_id = fields.TextField(description="The identity provider's subject (JWT `sub`).")
    email = fields.TextField()
    name = fields.TextField(default="")
    is_active = fields.BooleanField(default=True)
    last_login_at = fields.DatetimeField(null=True)
    team: fields.ForeignKeyNullableRelation[Team] = fields.ForeignKeyField(
        "models.Team", related_name="members", null=True, on_delete=fields.SET_NULL, db_constraint=False
    )
    roles_seeded = fields.BooleanField(
        default=False, description="Role bindings were seeded from the first token's roles claim."
    )

    class Meta:
        table = "users"
