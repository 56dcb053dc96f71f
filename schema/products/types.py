from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import strawberry
from strawberry.scalars import JSON

from schema.fields import Computed, connection_field, node_type
from schema.money import Money
from schema.relay import Node


@node_type(
    "Product",
    price=Computed(
        python=lambda row: Money(amount=row["price"], currency=row["currency"]),
        sql={"amount": lambda a: f"({a}.price)::text", "currency": lambda a: f"{a}.currency"},
    ),
)
@strawberry.type(description="Something the tenant sells.")
class Product(Node):
    sku: str
    name: str
    description: str | None
    price: Money
    is_active: bool
    custom_fields: JSON
    version: int
    created_at: datetime
    updated_at: datetime
    pk: strawberry.Private[UUID]
    row: strawberry.Private[Any]

    order_lines = connection_field("Product", "order_lines")
