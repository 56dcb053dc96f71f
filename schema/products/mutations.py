from __future__ import annotations

from decimal import Decimal

import strawberry
from strawberry import UNSET
from strawberry.scalars import JSON

from backend.products.service import RULES
from schema.mutations import crud_fields


@strawberry.input(description="A new product.")
class ProductCreateInput:
    sku: str
    name: str
    price: Decimal
    currency: str = strawberry.field(description="ISO 4217 code, e.g. USD.")
    description: str | None = UNSET
    is_active: bool | None = UNSET
    custom_fields: JSON | None = UNSET


@strawberry.input(description="Changes to a product: only the fields given change.")
class ProductUpdateInput:
    sku: str | None = UNSET
    name: str | None = UNSET
    price: Decimal | None = UNSET
    currency: str | None = UNSET
    description: str | None = UNSET
    is_active: bool | None = UNSET
    custom_fields: JSON | None = UNSET


@strawberry.type
class Mutation:
    (
        product_create,
        products_create,
        product_update,
        products_update,
        product_delete,
        products_delete,
    ) = crud_fields("Product", RULES, ProductCreateInput, ProductUpdateInput)
