from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import UNSET

from schema.enums import LifecycleStageFilter, TierFilter
from schema.filters import CustomFieldFilter, DateTimeFilter, IDFilter, OrderDirection, StringFilter

if TYPE_CHECKING:
    from schema.contacts.inputs import ContactFilter
    from schema.feedback.inputs import FeedbackFilter
    from schema.orders.inputs import OrderFilter
    from schema.tickets.inputs import TicketFilter
    from schema.users.inputs import UserFilter


@strawberry.input(description="Conditions on accounts; all given conditions must hold.")
class AccountFilter:
    id: IDFilter | None = UNSET
    name: StringFilter | None = UNSET
    domain: StringFilter | None = UNSET
    industry: StringFilter | None = UNSET
    lifecycle_stage: LifecycleStageFilter | None = UNSET
    tier: TierFilter | None = UNSET
    created_at: DateTimeFilter | None = UNSET
    updated_at: DateTimeFilter | None = UNSET
    parent: AccountFilter | None = UNSET
    owner: Annotated[UserFilter, strawberry.lazy("schema.users.inputs")] | None = UNSET
    children: AccountFilter | None = strawberry.field(default=UNSET, description="Some subsidiary matches.")
    contacts: Annotated[ContactFilter, strawberry.lazy("schema.contacts.inputs")] | None = strawberry.field(
        default=UNSET, description="Some contact matches."
    )
    orders: Annotated[OrderFilter, strawberry.lazy("schema.orders.inputs")] | None = strawberry.field(
        default=UNSET, description="Some order matches."
    )
    tickets: Annotated[TicketFilter, strawberry.lazy("schema.tickets.inputs")] | None = strawberry.field(
        default=UNSET, description="Some ticket matches."
    )
    feedback: Annotated[FeedbackFilter, strawberry.lazy("schema.feedback.inputs")] | None = strawberry.field(
        default=UNSET, description="Some feedback matches."
    )
    custom_fields: list[CustomFieldFilter] | None = UNSET
    and_: list[AccountFilter] | None = strawberry.field(name="and", default=UNSET)
    or_: list[AccountFilter] | None = strawberry.field(name="or", default=UNSET)
    not_: AccountFilter | None = strawberry.field(name="not", default=UNSET)


@strawberry.enum(description="Fields accounts can be sorted by (the id breaks ties).")
class AccountOrderField(Enum):
    NAME = "name"
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"


@strawberry.input(description="One sort key: a field or a custom field.")
class AccountOrder:
    field: AccountOrderField | None = None
    custom_field: str | None = None
    direction: OrderDirection = OrderDirection.ASC
