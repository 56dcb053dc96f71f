from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields

from backend.models.base import TenantModel

if TYPE_CHECKING:
    from backend.models.user import User


class Team(TenantModel):
    """A group of users; the `team` record scope matches records owned by the caller's team."""

    name = fields.TextField()
    members: fields.ReverseRelation[User]

    class Meta:
        table = "teams"
