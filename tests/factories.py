"""Small factories: one row each, sensible defaults, everything overridable."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from backend.context import TenantContext
from backend.models import Account, Contact, Feedback, Order, OrderLine, Product, Ticket, User


def _tag() -> str:
    return uuid.uuid4().hex[:8]


def _merge(defaults: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    return defaults | overrides


async def user(tx: TenantContext, **fields: Any) -> User:
    tag = _tag()
    defaults = {"tenant_id": tx.tenant_id, "external_id": f"sub-{tag}", "email": f"u{tag}@example.com", "name": "U"}
    return await User.create(**_merge(defaults, fields))


async def account(tx: TenantContext, **fields: Any) -> Account:
    return await Account.create(**_merge({"tenant_id": tx.tenant_id, "name": f"Account {_tag()}"}, fields))


async def contact(tx: TenantContext, account: Account | None = None, **fields: Any) -> Contact:
    tag = _tag()
    defaults = {"tenant_id": tx.tenant_id, "account": account, "last_name": f"Doe{tag}", "email": f"c{tag}@example.com"}
    return await Contact.create(**_merge(defaults, fields))


async def product(tx: TenantContext, **fields: Any) -> Product:
    tag = _tag()
    defaults = {"tenant_id": tx.tenant_id, "sku": f"SKU-{tag}", "name": f"Product {tag}", "price": Decimal("10.00")}
    return await Product.create(**_merge(defaults | {"currency": "USD"}, fields))


async def order(tx: TenantContext, account: Account, **fields: Any) -> Order:
    defaults = {
        "tenant_id": tx.tenant_id,
        "account": account,
        "number": f"SO-{_tag()}",
        "ordered_at": dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        "currency": "USD",
    }
    return await Order.create(**_merge(defaults, fields))


async def order_line(tx: TenantContext, order: Order, product: Product, **fields: Any) -> OrderLine:
    defaults = {
        "tenant_id": tx.tenant_id,
        "order": order,
        "product": product,
        "quantity": 1,
        "unit_price": product.price,
    }
    return await OrderLine.create(**_merge(defaults, fields))


async def ticket(tx: TenantContext, account: Account, **fields: Any) -> Ticket:
    return await Ticket.create(
        **_merge({"tenant_id": tx.tenant_id, "account": account, "subject": f"Help {_tag()}"}, fields)
    )


async def feedback(tx: TenantContext, account: Account, **fields: Any) -> Feedback:
    return await Feedback.create(
        **_merge({"tenant_id": tx.tenant_id, "account": account, "kind": "nps", "score": 9}, fields)
    )


async def graph(tx: TenantContext) -> dict[str, Any]:
    """One row in every tenant table, linked the way the domain links them."""
    owner = await user(tx)
    acc = await account(tx, owner=owner)
    person = await contact(tx, acc)
    item = await product(tx)
    sale = await order(tx, acc, contact=person)
    line = await order_line(tx, sale, item)
    case = await ticket(tx, acc, contact=person, assignee=owner)
    opinion = await feedback(tx, acc, contact=person, ticket=case)
    return {
        "users": owner,
        "accounts": acc,
        "contacts": person,
        "products": item,
        "orders": sale,
        "order_lines": line,
        "tickets": case,
        "feedback": opinion,
    }
