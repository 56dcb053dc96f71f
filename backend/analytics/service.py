"""Aggregates for dashboards, computed in SQL over the rows the caller may see."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from backend.context import TenantContext
from backend.errors import BadInput
from backend.query.entities import entity
from backend.query.filters import Compare, Op, all_of
from backend.query.sql import Query, Scope
from backend.validation import currency as valid_currency

MAX_SPAN = dt.timedelta(days=3 * 366)


@dataclass(frozen=True, slots=True)
class OrderMonth:
    month: dt.date
    order_count: int
    revenue: Decimal


@dataclass(frozen=True, slots=True)
class StatusCount:
    status: str
    count: int


async def orders_by_month(
    tx: TenantContext,
    start: dt.datetime,
    end: dt.datetime,
    *,
    currency: str | None = None,
    scope: Scope | None = None,
) -> list[OrderMonth]:
    """Order count and revenue per calendar month (UTC) of `ordered_at` in [start, end)."""
    if start >= end:
        raise BadInput("from must be before to", field="from")
    if end - start > MAX_SPAN:
        raise BadInput("a range covers three years at most", field="to")
    conditions = [Compare("ordered_at", Op.GTE, start), Compare("ordered_at", Op.LT, end)]
    if currency is not None:
        try:
            conditions.append(Compare("currency", Op.EQ, valid_currency(currency)))
        except ValueError as exc:
            raise BadInput(f"currency {exc}", field="currency") from None
    orders = entity("Order")
    q = Query(tx.tenant_id, scope)
    alias = q.alias("o")
    # Grouped by the timestamp expression that has statistics (migration 0031), so the planner
    # knows how few months there are; the date is derived from the group afterwards.
    month = f"date_trunc('month', {alias}.ordered_at, 'UTC')"
    rows = await tx.fetch(
        f"SELECT ({month} AT TIME ZONE 'UTC')::date AS month, count(*)::int AS n, "
        f"sum({alias}.total) AS revenue FROM orders {alias} "
        f"WHERE {q.visible(orders, alias, all_of(*conditions))} GROUP BY {month} ORDER BY 1",
        *q.params.values,
    )
    return [OrderMonth(r["month"], r["n"], r["revenue"]) for r in rows]


async def ticket_counts_by_status(tx: TenantContext, *, scope: Scope | None = None) -> list[StatusCount]:
    tickets = entity("Ticket")
    q = Query(tx.tenant_id, scope)
    alias = q.alias("t")
    rows = await tx.fetch(
        f"SELECT {alias}.status, count(*)::int AS n FROM tickets {alias} "
        f"WHERE {q.visible(tickets, alias)} GROUP BY 1 ORDER BY 1",
        *q.params.values,
    )
    return [StatusCount(r["status"], r["n"]) for r in rows]
