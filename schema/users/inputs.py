from __future__ import annotations

from enum import Enum

import strawberry
from strawberry import UNSET

from schema.filters import BooleanFilter, DateTimeFilter, IDFilter, OrderDirection, StringFilter


@strawberry.input(description="Conditions on users; all given conditions must hold.")
class UserFilter:
    id: IDFilter | None = UNSET
    email: StringFilter | None = UNSET
    name: StringFilter | None = UNSET
    is_active: BooleanFilter | None = UNSET
    created_at: DateTimeFilter | None = UNSET
    and_: list[UserFilter] | None = strawberry.field(name="and", default=UNSET)
    or_: list[UserFilter] | None = strawberry.field(name="or", default=UNSET)
    not_: UserFilter | None = strawberry.field(name="not", default=UNSET)


@strawberry.enum(description="Fields users can be sorted by (the id breaks ties).")
class UserOrderField(Enum):
    NAME = "name"
    EMAIL = "email"


@strawberry.input(description="One sort key.")
class UserOrder:
    field: UserOrderField | None = None
    custom_field: str | None = None
    direction: OrderDirection = OrderDirection.ASC
