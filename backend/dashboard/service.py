"""Live dashboard counters: what `dashboardUpdates` pushes, computed in SQL over the rows the
caller may see (its record scope), recomputed when an event that can change them arrives."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from backend.context import TenantContext
from backend.query.entities import entity
from backend.query.sql import Query, Scope

# Event families that can change a counter (ticket status/priority, orders).
RELEVANT = ("ticket.*", "order.*")


@dataclass(frozen=True, slots=True)
class TicketCount:
    status: str
    priority: str
    count: int


@dataclass(frozen=True, slots=True)
class Counters:
    open_tickets: int  # tickets not resolved or closed
    tickets: list[TicketCount]  # unresolved tickets by status and priority
    orders_today: int  # orders placed since midnight UTC
    at: dt.datetime


async def counters(tx: TenantContext, *, scope: Scope | None = None) -> Counters:
    """The counters in one statement; `scope` limits them to the rows the caller reaches."""
    q = Query(tx.tenant_id, scope)
    tickets, orders = entity("Ticket"), entity("Order")
    t, o = q.alias(), q.alias()
    rows = await tx.fetch(
        f"SELECT {t}.status, {t}.priority, count(*)::int AS n, NULL::int AS orders, now() AS at "
        f"FROM tickets {t} WHERE {q.visible(tickets, t)} AND {t}.status IN ('open', 'pending') GROUP BY 1, 2 "
        f"UNION ALL SELECT NULL, NULL, NULL, count(*)::int, now() FROM orders {o} "
        f"WHERE {q.visible(orders, o)} AND {o}.ordered_at >= date_trunc('day', now() AT TIME ZONE 'UTC') "
        "AT TIME ZONE 'UTC' ORDER BY 1, 2",
        *q.params.values,
    )
    found = [TicketCount(r["status"], r["priority"], r["n"]) for r in rows if r["status"] is not None]
    return Counters(
        open_tickets=sum(c.count for c in found),
        tickets=found,
        orders_today=next(r["orders"] for r in rows if r["status"] is None),
        at=rows[0]["at"],
    )
