"""Search across accounts and contacts; dashboard aggregates."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from backend.db import tenant_transaction
from backend.models import Tenant
from tests import factories
from tests.conftest import Api

SEARCH = """query($q: String!) { search(query: $q) { score node { __typename
  ... on Account { name } ... on Contact { lastName } } } }"""


async def test_search_finds_accounts_and_contacts_by_name_email_phone_domain(
    api: Api, tenant: Tenant, other_tenant: Tenant
) -> None:
    async with tenant_transaction(tenant.id) as tx:
        acme = await factories.account(tx, name="Acme Robotics", domain="acme-robotics.com")
        await factories.account(tx, name="Unrelated Ltd")
        await factories.contact(tx, acme, last_name="Okafor", email="ngozi@bluewave.io", phone="+2348031234567")
    async with tenant_transaction(other_tenant.id) as tx:
        await factories.account(tx, name="Acme Elsewhere")

    async def found(text: str) -> list[tuple[str, str]]:
        hits = (await api.data(tenant, SEARCH, {"q": text}))["search"]
        return [(h["node"]["__typename"], h["node"].get("name") or h["node"].get("lastName")) for h in hits]

    assert await found("acme") == [("Account", "Acme Robotics")]
    assert await found("robotics.com") == [("Account", "Acme Robotics")]
    assert await found("okafor") == [("Contact", "Okafor")]
    assert await found("bluewave") == [("Contact", "Okafor")]
    assert await found("803 1234") == [("Contact", "Okafor")]
    assert await found("zzzz") == []
    errors = await api.errors(tenant, SEARCH, {"q": "a"})
    assert errors[0]["code"] == "BAD_USER_INPUT"


async def test_orders_by_month_and_ticket_counts(api: Api, tenant: Tenant) -> None:
    async with tenant_transaction(tenant.id) as tx:
        account = await factories.account(tx)
        for day, total, currency in [
            (3, "10.00", "USD"),
            (20, "5.50", "EUR"),
            (40, "1.00", "USD"),
            (400, "9.00", "USD"),
        ]:
            await factories.order(
                tx,
                account,
                total=Decimal(total),
                currency=currency,
                ordered_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=day),
            )
        for status in ["open", "open", "closed"]:
            await factories.ticket(tx, account, status=status)
    query = """query($c: String) { analytics {
      ordersByMonth(from: "2025-01-01T00:00:00Z", to: "2026-01-01T00:00:00Z", currency: $c) { month orderCount revenue }
      ticketCountsByStatus { status count } } }"""
    data = (await api.data(tenant, query))["analytics"]
    assert data["ordersByMonth"] == [
        {"month": "2025-01-01", "orderCount": 2, "revenue": "15.50"},
        {"month": "2025-02-01", "orderCount": 1, "revenue": "1.00"},
    ]
    assert data["ticketCountsByStatus"] == [{"status": "CLOSED", "count": 1}, {"status": "OPEN", "count": 2}]
    usd = (await api.data(tenant, query, {"c": "usd"}))["analytics"]["ordersByMonth"]
    assert [m["revenue"] for m in usd] == ["10.00", "1.00"]
    errors = await api.errors(
        tenant, '{ analytics { ordersByMonth(from: "2025-02-01T00:00:00Z", to: "2025-01-01T00:00:00Z") { month } } }'
    )
    assert errors[0]["code"] == "BAD_USER_INPUT"
