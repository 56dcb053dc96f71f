from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import UNSET

from schema.enums import OrderStatusFilter, PaymentTermsFilter
from schema.filters import (
    CustomFieldFilter,
    DateFilter,
    DateTimeFilter,
    DecimalFilter,
    IDFilter,
    IntFilter,
    OrderDirection,
    StringFilter,
)

if TYPE_CHECKING:
    from schema.accounts.inputs import AccountFilter
    from schema.contacts.inputs import ContactFilter
    from schema.products.inputs import ProductFilter


@strawberry.input(description="Conditions on orders; all given conditions must hold.")
class OrderFilter:
    id: IDFilter | None = UNSET
    number: StringFilter | None = UNSET
    status: OrderStatusFilter | None = UNSET
    ordered_at: DateTimeFilter | None = UNSET
    delivery_date: DateFilter | None = UNSET
    payment_terms: PaymentTermsFilter | None = UNSET
    currency: StringFilter | None = UNSET
    total: DecimalFilter | None = UNSET
    created_at: DateTimeFilter | None = UNSET
    updated_at: DateTimeFilter | None = UNSET
    account: Annotated[AccountFilter, strawberry.lazy("schema.accounts.inputs")] | None = UNSET
    contact: Annotated[ContactFilter, strawberry.lazy("schema.contacts.inputs")] | None = UNSET
    lines: OrderLineFilter | None = strawberry.field(default=UNSET, description="Some line matches.")
    custom_fields: list[CustomFieldFilter] | None = UNSET
    and_: list[OrderFilter] | None = strawberry.field(name="and", default=UNSET)
    or_: list[OrderFilter] | None = strawberry.field(name="or", default=UNSET)
    not_: OrderFilter | None = strawberry.field(name="not", default=UNSET)


@strawberry.enum(description="Fields orders can be sorted by (the id breaks ties).")
class OrderOrderField(Enum):
    ORDERED_AT = "ordered_at"
    NUMBER = "number"
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"


@strawberry.input(description="One sort key: a field or a custom field.")
class OrderOrder:
    field: OrderOrderField | None = None
    custom_field: str | None = None
    direction: OrderDirection = OrderDirection.ASC


@strawberry.input(description="Conditions on order lines; all given conditions must hold.")
class OrderLineFilter:
    id: IDFilter | None = UNSET
    quantity: IntFilter | None = UNSET
    unit_price: DecimalFilter | None = UNSET
    created_at: DateTimeFilter | None = UNSET
    order: OrderFilter | None = UNSET
    product: Annotated[ProductFilter, strawberry.lazy("schema.products.inputs")] | None = UNSET
    and_: list[OrderLineFilter] | None = strawberry.field(name="and", default=UNSET)
    or_: list[OrderLineFilter] | None = strawberry.field(name="or", default=UNSET)
    not_: OrderLineFilter | None = strawberry.field(name="not", default=UNSET)


@strawberry.enum(description="Fields order lines can be sorted by (the id breaks ties).")
class OrderLineOrderField(Enum):
    CREATED_AT = "created_at"


@strawberry.input(description="One sort key.")
class OrderLineOrder:
    field: OrderLineOrderField | None = None
    custom_field: str | None = None
    direction: OrderDirection = OrderDirection.ASC
