from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields

from backend.models.base import TenantModel

if TYPE_CHECKING:
    from backend.models.account import Account
    from backend.models.contact import Contact
    from backend.models.user import User


class TicketStatus(StrEnum):
    OPEN = "open"
    PENDING = "pending"
    RESOLVED = "resolved"
    CLOSED = "closed"


class TicketPriority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class TicketChannel(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    WEB = "web"
    CHAT = "chat"
    SOCIAL = "social"
    API = "api"


class Ticket(TenantModel):
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="tickets", on_delete=fields.NO_ACTION, db_constraint=False
    )
    contact: fields.ForeignKeyNullableRelation[Contact] = fields.ForeignKeyField(
        "models.Contact", related_name="tickets", null=True, on_delete=fields.SET_NULL, db_constraint=False
    )
    subject = fields.TextField()
    description = fields.TextField(null=True)
    status = fields.CharEnumField(TicketStatus, default=TicketStatus.OPEN)
    priority = fields.CharEnumField(TicketPriority, default=TicketPriority.NORMAL)
    channel = fields.CharEnumField(TicketChannel, default=TicketChannel.WEB)
    assignee: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="assigned_tickets", null=True, on_delete=fields.SET_NULL, db_constraint=False
    )
    sla_due_at = fields.DatetimeField(null=True)
    resolved_at = fields.DatetimeField(null=True)
    custom_fields: fields.Field[dict[str, object]] = fields.JSONField(default=dict)

    class Meta:
        table = "tickets"
