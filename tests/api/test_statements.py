"""DataLoaders: the statements a request runs grow with the depth of the query, not the rows."""

from __future__ import annotations

from typing import Any

import orjson

from backend.app import wire
from backend.db import tenant_transaction
from backend.models import Tenant
from schema.executor import OperationRequest
from tenants.provisioning import provision_tenant
from tests import factories
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


async def _statements(api: Api, tenant: Tenant, *, compiled: bool) -> tuple[int, Any]:
    services = wire(api.settings)
    principal = await services.authenticator.authenticate(f"Bearer {api.token(tenant)}")
    body = orjson.loads(
        await services.executor.run(principal, OperationRequest(NESTED, {}, None), request_id="t", compiled=compiled)
    )
    assert "errors" not in body, body
    assert body["extensions"]["plan"]["path"] == ("compiled" if compiled else "executor")
    return body["extensions"]["plan"]["statements"], body["data"]


async def _populate(tenant: Tenant, accounts: int) -> None:
    """`accounts` accounts, each with every relation of the query filled, so every level is reached."""
    async with tenant_transaction(tenant.id) as tx:
        owner = await factories.user(tx)
        item = await factories.product(tx)
        parent = None
        for _ in range(accounts):
            account = await factories.account(tx, owner=owner, parent=parent)
            parent = parent or account
            for _ in range(2):
                person = await factories.contact(tx, account)
                sale = await factories.order(tx, account, contact=person)
                await factories.order_line(tx, sale, item)
                case = await factories.ticket(tx, account, contact=person, assignee=owner, status="open")
                await factories.feedback(tx, account, ticket=case)


async def test_statement_count_does_not_grow_with_rows(api: Api, app_db: None) -> None:
    small = await provision_tenant("Statements small")
    large = await provision_tenant("Statements large")
    await _populate(small, 2)
    await _populate(large, 40)
    few, small_data = await _statements(api, small, compiled=False)
    many, large_data = await _statements(api, large, compiled=False)
    assert len(small_data["accounts"]["nodes"]) == 2
    assert len(large_data["accounts"]["nodes"]) == 40
    assert few == many
    # one per level: accounts, their count, owner, parent, contacts, their count, contact's account,
    # contact's orders, tickets, assignees, feedback, orders, lines, products
    assert many == 14
    # The compiled path answers the same in one statement, whatever the depth.
    assert await _statements(api, small, compiled=True) == (1, small_data)
    assert await _statements(api, large, compiled=True) == (1, large_data)
