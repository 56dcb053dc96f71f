"""DataLoaders: the statements a request runs grow with the depth of the query, not the rows."""

from __future__ import annotations

from typing import Any

from backend.db import tenant_transaction
from backend.models import Tenant
from backend.seed import SeedSize, seed_tenant
from tenants.provisioning import provision_tenant
from tests.conftest import Api

NESTED = """{
  accounts(first: 60) {
    totalCount
    nodes {
      name owner { email }
      parent { name }
      contacts(first: 3) { totalCount nodes { email account { name } orders(first: 2) { nodes { number } } } }
      tickets(first: 2, filter: {status: {in: [OPEN, PENDING]}}) {
        pageInfo { hasNextPage } nodes { subject assignee { name } feedback(first: 2) { nodes { score } } }
      }
      orders(first: 2, orderBy: [{field: ORDERED_AT, direction: DESC}]) {
        nodes { total { amount } lines(first: 3) { nodes { quantity product { name } } } }
      }
    }
  }
}"""


async def _statements(api: Api, tenant: Tenant) -> tuple[int, Any]:
    body = await api.graphql(tenant, NESTED)
    assert "errors" not in body, body
    return body["extensions"]["plan"]["statements"], body["data"]


async def test_statement_count_does_not_grow_with_rows(api: Api, app_db: None) -> None:
    small = await provision_tenant("Statements small")
    large = await provision_tenant("Statements large")
    async with tenant_transaction(small.id) as tx:
        await seed_tenant(tx, SeedSize(accounts=3, contacts_per_account=1, orders_per_contact=1, products=2, users=2))
    async with tenant_transaction(large.id) as tx:
        await seed_tenant(tx, SeedSize(accounts=60, contacts_per_account=4, orders_per_contact=3, products=10))
    few, small_data = await _statements(api, small)
    many, large_data = await _statements(api, large)
    assert len(small_data["accounts"]["nodes"]) == 3
    assert len(large_data["accounts"]["nodes"]) == 60
    assert few == many
    # one per level: accounts, count, owner, parent, contacts, their count, account, orders, tickets,
    # assignees, feedback, orders, lines, products
    assert many <= 15
