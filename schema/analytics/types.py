from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

import strawberry

from backend.analytics import service
from backend.models import TicketStatus


@strawberry.type(description="Orders of one calendar month (UTC).")
class OrderMonth:
    month: dt.date = strawberry.field(description="The first day of the month.")
    order_count: int
    revenue: Decimal = strawberry.field(description="Sum of order totals (all currencies unless filtered).")


@strawberry.type
class TicketStatusCount:
    status: TicketStatus
    count: int


@strawberry.type(description="Aggregates for dashboards, over the records you may see.")
class Analytics:
    @strawberry.field(description="Order count and revenue per month of orderedAt in [from, to).")
    async def orders_by_month(
        self,
        info: strawberry.Info,
        from_: Annotated[dt.datetime, strawberry.argument(name="from")],
        to: dt.datetime,
        currency: str | None = None,
    ) -> list[OrderMonth]:
        ctx = info.context
        months = await service.orders_by_month(ctx.tx, from_, to, currency=currency, scope=ctx.scope)
        return [OrderMonth(month=m.month, order_count=m.order_count, revenue=m.revenue) for m in months]

    @strawberry.field(description="How many tickets are in each status.")
    async def ticket_counts_by_status(self, info: strawberry.Info) -> list[TicketStatusCount]:
        ctx = info.context
        counts = await service.ticket_counts_by_status(ctx.tx, scope=ctx.scope)
        return [TicketStatusCount(status=TicketStatus(c.status), count=c.count) for c in counts]
