from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import UNSET

from schema.filters import BooleanFilter, CustomFieldFilter, DateTimeFilter, IDFilter, OrderDirection, StringFilter

if TYPE_CHECKING:
    from schema.accounts.inputs import AccountFilter
    from schema.feedback.inputs import FeedbackFilter
    from schema.orders.inputs import OrderFilter
    from schema.tickets.inputs import TicketFilter


@strawberry.input(description="Conditions on contacts; all given conditions must hold.")
class ContactFilter:
    id: IDFilter | None = UNSET
    first_name: StringFilter | None = UNSET
    last_name: StringFilter | None = UNSET
    email: StringFilter | None = UNSET
    phone: StringFilter | None = UNSET
    title: StringFilter | None = UNSET
    consent_email: BooleanFilter | None = UNSET
    consent_sms: BooleanFilter | None = UNSET
    consent_phone: BooleanFilter | None = UNSET
    created_at: DateTimeFilter | None = UNSET
    updated_at: DateTimeFilter | None = UNSET
    account: Annotated[AccountFilter, strawberry.lazy("schema.accounts.inputs")] | None = UNSET
    orders: Annotated[OrderFilter, strawberry.lazy("schema.orders.inputs")] | None = UNSET
    tickets: Annotated[TicketFilter, strawberry.lazy("schema.tickets.inputs")] | None = UNSET
    feedback: Annotated[FeedbackFilter, strawberry.lazy("schema.feedback.inputs")] | None = UNSET
    custom_fields: list[CustomFieldFilter] | None = UNSET
    and_: list[ContactFilter] | None = strawberry.field(name="and", default=UNSET)
    or_: list[ContactFilter] | None = strawberry.field(name="or", default=UNSET)
    not_: ContactFilter | None = strawberry.field(name="not", default=UNSET)


@strawberry.enum(description="Fields contacts can be sorted by (the id breaks ties).")
class ContactOrderField(Enum):
    LAST_NAME = "last_name"
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"


@strawberry.input(description="One sort key: a field or a custom field.")
class ContactOrder:
    field: ContactOrderField | None = None
    custom_field: str | None = None
    direction: OrderDirection = OrderDirection.ASC
