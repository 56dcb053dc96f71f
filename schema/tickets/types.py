from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from backend.models import TicketChannel, TicketPriority, TicketStatus
from schema.fields import Record, connection_field, node_type, to_one


@node_type("Ticket")
@strawberry.type(description="A service request from a customer.")
class Ticket(Record):
    subject: str
    description: str | None
    status: TicketStatus
    priority: TicketPriority
    channel: TicketChannel
    sla_due_at: datetime | None = strawberry.field(description="When the service level requires a resolution.")
    resolved_at: datetime | None
    custom_fields: JSON

    account = to_one("Ticket", "account")
    contact = to_one("Ticket", "contact")
    assignee = to_one("Ticket", "assignee")
    feedback = connection_field("Ticket", "feedback")
