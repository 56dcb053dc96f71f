from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import UNSET

from schema.enums import TicketChannelFilter, TicketPriorityFilter, TicketStatusFilter
from schema.filters import CustomFieldFilter, DateTimeFilter, IDFilter, OrderDirection, StringFilter

if TYPE_CHECKING:
    from schema.accounts.inputs import AccountFilter
    from schema.contacts.inputs import ContactFilter
    from schema.feedback.inputs import FeedbackFilter
    from schema.users.inputs import UserFilter


@strawberry.input(description="Conditions on tickets; all given conditions must hold.")
class TicketFilter:
    id: IDFilter | None = UNSET
    subject: StringFilter | None = UNSET
    description: StringFilter | None = UNSET
    status: TicketStatusFilter | None = UNSET
    priority: TicketPriorityFilter | None = UNSET
    channel: TicketChannelFilter | None = UNSET
    sla_due_at: DateTimeFilter | None = UNSET
    resolved_at: DateTimeFilter | None = UNSET
    created_at: DateTimeFilter | None = UNSET
    updated_at: DateTimeFilter | None = UNSET
    account: Annotated[AccountFilter, strawberry.lazy("schema.accounts.inputs")] | None = UNSET
    contact: Annotated[ContactFilter, strawberry.lazy("schema.contacts.inputs")] | None = UNSET
    assignee: Annotated[UserFilter, strawberry.lazy("schema.users.inputs")] | None = UNSET
    feedback: Annotated[FeedbackFilter, strawberry.lazy("schema.feedback.inputs")] | None = UNSET
    custom_fields: list[CustomFieldFilter] | None = UNSET
    and_: list[TicketFilter] | None = strawberry.field(name="and", default=UNSET)
    or_: list[TicketFilter] | None = strawberry.field(name="or", default=UNSET)
    not_: TicketFilter | None = strawberry.field(name="not", default=UNSET)


@strawberry.enum(description="Fields tickets can be sorted by (the id breaks ties).")
class TicketOrderField(Enum):
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"
    PRIORITY = "priority"
    SLA_DUE_AT = "sla_due_at"


@strawberry.input(description="One sort key: a field or a custom field.")
class TicketOrder:
    field: TicketOrderField | None = None
    custom_field: str | None = None
    direction: OrderDirection = OrderDirection.ASC
