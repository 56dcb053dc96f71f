from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import UNSET

from schema.filters import (
    BooleanFilter,
    CustomFieldFilter,
    DateTimeFilter,
    DecimalFilter,
    IDFilter,
    OrderDirection,
    StringFilter,
)

if TYPE_CHECKING:
    from schema.orders.inputs import OrderLineFilter


@strawberry.input(description="Conditions on products; all given conditions must hold.")
class ProductFilter:
    id: IDFilter | None = UNSET
    sku: StringFilter | None = UNSET
    name: StringFilter | None = UNSET
    description: StringFilter | None = UNSET
    price: DecimalFilter | None = UNSET
    currency: StringFilter | None = UNSET
    is_active: BooleanFilter | None = UNSET
    created_at: DateTimeFilter | None = UNSET
    updated_at: DateTimeFilter | None = UNSET
    order_lines: Annotated[OrderLineFilter, strawberry.lazy("schema.orders.inputs")] | None = UNSET
    custom_fields: list[CustomFieldFilter] | None = UNSET
    and_: list[ProductFilter] | None = strawberry.field(name="and", default=UNSET)
    or_: list[ProductFilter] | None = strawberry.field(name="or", default=UNSET)
    not_: ProductFilter | None = strawberry.field(name="not", default=UNSET)


@strawberry.enum(description="Fields products can be sorted by (the id breaks ties).")
class ProductOrderField(Enum):
    NAME = "name"
    SKU = "sku"
    CREATED_AT = "created_at"


@strawberry.input(description="One sort key: a field or a custom field.")
class ProductOrder:
    field: ProductOrderField | None = None
    custom_field: str | None = None
    direction: OrderDirection = OrderDirection.ASC
