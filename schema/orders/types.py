from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import strawberry
from strawberry.scalars import JSON

from backend.models import OrderStatus, PaymentTerms
from schema.fields import Computed, Record, connection_field, node_type, to_one
from schema.money import Money


@node_type(
    "Order",
    total=Computed(
        python=lambda row: Money(amount=row["total"], currency=row["currency"]),
        sql={"amount": lambda a: f"({a}.total)::text", "currency": lambda a: f"{a}.currency"},
    ),
)
@strawberry.type(description="A purchase by an account; its total is the sum of its lines.")
class Order(Record):
    number: str
    status: OrderStatus
    ordered_at: datetime
    delivery_date: date | None
    payment_terms: PaymentTerms
    currency: str
    total: Money
    custom_fields: JSON

    account = to_one("Order", "account")
    contact = to_one("Order", "contact")
    lines = connection_field("Order", "lines")


@node_type(
    "OrderLine",
    amount=Computed(
        python=lambda row: row["quantity"] * row["unit_price"],
        sql=lambda a: f"({a}.quantity * {a}.unit_price)::text",
    ),
)
@strawberry.type(description="One product on an order, in the order's currency.")
class OrderLine(Record):
    quantity: int
    unit_price: Decimal
    amount: Decimal = strawberry.field(description="quantity × unitPrice")

    order = to_one("OrderLine", "order")
    product = to_one("OrderLine", "product")
