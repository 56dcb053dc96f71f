from __future__ import annotations

import strawberry
from strawberry.scalars import JSON

from schema.fields import Computed, Record, connection_field, node_type
from schema.money import Money


@node_type(
    "Product",
    price=Computed(
        python=lambda row: Money(amount=row["price"], currency=row["currency"]),
        sql={"amount": lambda a: f"({a}.price)::text", "currency": lambda a: f"{a}.currency"},
    ),
)
@strawberry.type(description="Something the tenant sells.")
class Product(Record):
    sku: str
    name: str
    description: str | None
    price: Money
    is_active: bool
    custom_fields: JSON

    order_lines = connection_field("Product", "order_lines")
