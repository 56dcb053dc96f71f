from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry import UNSET
from strawberry.scalars import JSON

from backend.models import TicketChannel, TicketPriority, TicketStatus
from backend.tickets.service import RULES
from schema.mutations import crud_fields


@strawberry.input(description="A new service request; the SLA due time follows from the priority unless given.")
class TicketCreateInput:
    account_id: strawberry.ID
    subject: str
    contact_id: strawberry.ID | None = UNSET
    description: str | None = UNSET
    status: TicketStatus | None = UNSET
    priority: TicketPriority | None = UNSET
    channel: TicketChannel | None = UNSET
    assignee_id: strawberry.ID | None = UNSET
    sla_due_at: datetime | None = UNSET
    custom_fields: JSON | None = UNSET


@strawberry.input(description="Changes to a ticket; resolving it records resolvedAt, reopening clears it.")
class TicketUpdateInput:
    contact_id: strawberry.ID | None = UNSET
    subject: str | None = UNSET
    description: str | None = UNSET
    status: TicketStatus | None = UNSET
    priority: TicketPriority | None = UNSET
    channel: TicketChannel | None = UNSET
    assignee_id: strawberry.ID | None = UNSET
    sla_due_at: datetime | None = UNSET
    custom_fields: JSON | None = UNSET


@strawberry.type
class Mutation:
    (
        ticket_create,
        tickets_create,
        ticket_update,
        tickets_update,
        ticket_delete,
        tickets_delete,
    ) = crud_fields("Ticket", RULES, TicketCreateInput, TicketUpdateInput)
