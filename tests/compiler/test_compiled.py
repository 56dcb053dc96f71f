"""Edge cases of the compiled path (the property test covers the general case)."""

from __future__ import annotations

import pytest

from backend.db import tenant_transaction
from backend.models import Tenant
from tests import factories
from tests.conftest import Api


@pytest.mark.parametrize(
    ("query", "data"),
    [
        ("{ __typename }", {"__typename": "Query"}),
        ("{ a: __typename accounts { totalCount } }", {"a": "Query", "accounts": {"totalCount": 1}}),
        (
            "{ accounts(first: 0) { nodes { name } pageInfo { hasNextPage } } }",
            {"accounts": {"nodes": [], "pageInfo": {"hasNextPage": True}}},
        ),
        (
            '{ accounts(filter: {name: {eq: "nope"}}) { edges { cursor } pageInfo { startCursor endCursor } } }',
            {"accounts": {"edges": [], "pageInfo": {"startCursor": None, "endCursor": None}}},
        ),
    ],
)
async def test_small_and_empty_answers(api: Api, tenant: Tenant, query: str, data: dict[str, object]) -> None:
    async with tenant_transaction(tenant.id) as tx:
        await factories.account(tx, name="only")
    body = await api.graphql(tenant, query)
    assert body["data"] == data
    assert body["extensions"]["plan"]["path"] == "compiled"
