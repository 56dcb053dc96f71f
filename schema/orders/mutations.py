from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import strawberry
from strawberry import UNSET
from strawberry.scalars import JSON

from backend.models import OrderStatus, PaymentTerms
from backend.orders.service import LINE_RULES, ORDER_RULES, create_orders
from schema.mutations import crud_fields


@strawberry.input(description="A line of a new order; the unit price defaults to the product's price.")
class OrderLineInput:
    product_id: strawberry.ID
    quantity: int
    unit_price: Decimal | None = UNSET


@strawberry.input(description="A new order; its total is computed from its lines.")
class OrderCreateInput:
    account_id: strawberry.ID
    currency: str = strawberry.field(description="ISO 4217 code, e.g. USD.")
    contact_id: strawberry.ID | None = UNSET
    number: str | None = strawberry.field(default=UNSET, description="Default: the tenant's next SO-000123.")
    status: OrderStatus | None = UNSET
    ordered_at: datetime | None = UNSET
    delivery_date: date | None = UNSET
    payment_terms: PaymentTerms | None = UNSET
    lines: list[OrderLineInput] | None = UNSET
    custom_fields: JSON | None = UNSET


@strawberry.input(description="Changes to an order (lines change through the orderLine mutations).")
class OrderUpdateInput:
    contact_id: strawberry.ID | None = UNSET
    number: str | None = UNSET
    status: OrderStatus | None = UNSET
    ordered_at: datetime | None = UNSET
    delivery_date: date | None = UNSET
    payment_terms: PaymentTerms | None = UNSET
    custom_fields: JSON | None = UNSET


@strawberry.input(description="A new line on an existing order.")
class OrderLineCreateInput:
    order_id: strawberry.ID
    product_id: strawberry.ID
    quantity: int
    unit_price: Decimal | None = UNSET


@strawberry.input(description="Changes to an order line.")
class OrderLineUpdateInput:
    product_id: strawberry.ID | None = UNSET
    quantity: int | None = UNSET
    unit_price: Decimal | None = UNSET


@strawberry.type
class Mutation:
    (
        order_create,
        orders_create,
        order_update,
        orders_update,
        order_delete,
        orders_delete,
    ) = crud_fields(
        "Order",
        ORDER_RULES,
        OrderCreateInput,
        OrderUpdateInput,
        create_fn=lambda tx, items, path, batch, errors: create_orders(
            tx, items, path=path, batch=batch, known_errors=errors
        ),
    )
    (
        order_line_create,
        order_lines_create,
        order_line_update,
        order_lines_update,
        order_line_delete,
        order_lines_delete,
    ) = crud_fields("OrderLine", LINE_RULES, OrderLineCreateInput, OrderLineUpdateInput)
