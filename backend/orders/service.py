"""Orders and their lines: numbers per tenant, and totals that always equal the lines."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import asyncpg

from backend import validation
from backend.context import TenantContext
from backend.errors import BadInput, FieldError
from backend.query import reads
from backend.query.entities import entity
from backend.records import Draft, Rules, create

ORDER_NUMBER = "order_number"
MAX_LINES = 500


def _check_order(draft: Draft) -> None:
    if draft.current is None:
        for name in ("account_id", "currency"):
            if draft.values.get(name) is None:
                draft.error(name, f"{name.removesuffix('_id')} is required")
        if draft.values.get("ordered_at") is None:
            draft.values["ordered_at"] = dt.datetime.now(dt.UTC)
    draft.check("currency", validation.currency)
    draft.check("number", lambda v: validation.text(v, max_length=64, required=True))
    if (
        draft.current is not None
        and "currency" in draft.values
        and draft.values["currency"] != draft.current["currency"]
    ):
        draft.error("currency", "the currency of an order with lines cannot change; create a new order")
    contact = draft.ref("contact_id")
    if contact is not None and contact["account_id"] not in (None, draft.get("account_id")):
        draft.error("contact_id", "this contact belongs to another account")
    delivery, ordered = draft.get("delivery_date"), draft.get("ordered_at")
    if delivery is not None and ordered is not None and delivery < ordered.date():
        draft.error("delivery_date", "the delivery date is before the order date")


async def _number_orders(tx: TenantContext, drafts: list[Draft]) -> None:
    """Give orders without a number the next ones of the tenant (SO-000001, …)."""
    unnumbered = [d for d in drafts if d.current is None and not d.values.get("number")]
    if not unnumbered:
        return
    last = await tx.fetchval(
        """INSERT INTO tenant_counters (tenant_id, name, value) VALUES ($1, $2, $3)
           ON CONFLICT (tenant_id, name) DO UPDATE SET value = tenant_counters.value + EXCLUDED.value
           RETURNING value""",
        tx.tenant_id,
        ORDER_NUMBER,
        len(unnumbered),
    )
    for offset, draft in enumerate(unnumbered):
        draft.values["number"] = f"SO-{last - len(unnumbered) + offset + 1:06d}"


ORDER_RULES = Rules(
    entity="Order",
    references={"contact_id": "Contact"},
    check=_check_order,
    custom_fields=True,
    prepare=_number_orders,
)


def _check_line(draft: Draft) -> None:
    if draft.current is None:
        for name in ("order_id", "product_id", "quantity"):
            if draft.values.get(name) is None:
                draft.error(name, f"{name.removesuffix('_id')} is required")
    quantity = draft.values.get("quantity")
    if quantity is not None and not 1 <= quantity <= 1_000_000:
        draft.error("quantity", "quantity must be between 1 and 1000000")
    draft.check("unit_price", validation.money)
    order, product = draft.ref("order_id"), draft.ref("product_id")
    if "unit_price" not in draft.values and "product_id" in draft.values and order and product:
        if product["currency"] != order["currency"]:
            draft.error(
                "unit_price", f"the product is priced in {product['currency']}: give a unitPrice in {order['currency']}"
            )
        else:
            draft.values["unit_price"] = product["price"]


async def recompute_totals(tx: TenantContext, lines: list[asyncpg.Record]) -> None:
    """Set each touched order's total to the sum of its lines."""
    orders = list({line["order_id"] for line in lines})
    await tx.execute(
        """UPDATE orders o SET total = coalesce(
               (SELECT sum(l.quantity * l.unit_price) FROM order_lines l
                 WHERE l.tenant_id = o.tenant_id AND l.order_id = o.id), 0)
           WHERE o.tenant_id = $1 AND o.id = ANY($2::uuid[])""",
        tx.tenant_id,
        orders,
    )


LINE_RULES = Rules(
    entity="OrderLine",
    references={"order_id": "Order", "product_id": "Product"},
    check=_check_line,
    after_write=recompute_totals,
)


async def create_orders(
    tx: TenantContext,
    items: list[dict[str, Any]],
    *,
    path: str,
    batch: bool,
    known_errors: Sequence[FieldError] = (),
) -> list[asyncpg.Record]:
    """Create orders with their lines (`lines` in each item) and the totals they add up to."""
    lines_per_order = [item.pop("lines", None) or [] for item in items]
    for i, order_lines in enumerate(lines_per_order):
        if len(order_lines) > MAX_LINES:
            raise BadInput(
                f"an order has {MAX_LINES} lines at most", field=f"{path}.{i}.lines" if batch else "input.lines"
            )
    orders = await create(tx, ORDER_RULES, items, path=path, batch=batch, known_errors=known_errors)
    lines, paths = [], []
    for i, (order, order_lines) in enumerate(zip(orders, lines_per_order, strict=True)):
        prefix = f"{path}.{i}.lines" if batch else f"{path}.lines"
        for j, line in enumerate(order_lines):
            lines.append({**line, "order_id": order["id"]})
            paths.append(f"{prefix}.{j}")
    if not lines:
        return orders
    await create(tx, LINE_RULES, lines, path=path, batch=False, paths=paths)
    found = await reads.by_ids(tx, entity("Order"), [order["id"] for order in orders])
    return [found[order["id"]] for order in orders]
