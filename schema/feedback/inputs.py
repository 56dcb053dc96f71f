from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import UNSET

from schema.enums import FeedbackKindFilter, SentimentFilter
from schema.filters import DateTimeFilter, IDFilter, IntFilter, OrderDirection, StringFilter

if TYPE_CHECKING:
    from schema.accounts.inputs import AccountFilter
    from schema.contacts.inputs import ContactFilter
    from schema.tickets.inputs import TicketFilter


@strawberry.input(description="Conditions on feedback; all given conditions must hold.")
class FeedbackFilter:
    id: IDFilter | None = UNSET
    kind: FeedbackKindFilter | None = UNSET
    score: IntFilter | None = UNSET
    comment: StringFilter | None = UNSET
    sentiment: SentimentFilter | None = UNSET
    topic: StringFilter | None = UNSET
    created_at: DateTimeFilter | None = UNSET
    account: Annotated[AccountFilter, strawberry.lazy("schema.accounts.inputs")] | None = UNSET
    contact: Annotated[ContactFilter, strawberry.lazy("schema.contacts.inputs")] | None = UNSET
    ticket: Annotated[TicketFilter, strawberry.lazy("schema.tickets.inputs")] | None = UNSET
    and_: list[FeedbackFilter] | None = strawberry.field(name="and", default=UNSET)
    or_: list[FeedbackFilter] | None = strawberry.field(name="or", default=UNSET)
    not_: FeedbackFilter | None = strawberry.field(name="not", default=UNSET)


@strawberry.enum(description="Fields feedback can be sorted by (the id breaks ties).")
class FeedbackOrderField(Enum):
    CREATED_AT = "created_at"
    SCORE = "score"


@strawberry.input(description="One sort key.")
class FeedbackOrder:
    field: FeedbackOrderField | None = None
    custom_field: str | None = None
    direction: OrderDirection = OrderDirection.ASC
