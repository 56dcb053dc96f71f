"""Relay connections over HTTP: pages, cursors, pageInfo, totalCount and their errors."""

from __future__ import annotations

import pytest

from backend.db import tenant_transaction
from backend.models import Tenant
from tests import factories
from tests.conftest import Api

PAGE = """query($first: Int, $after: String, $last: Int, $before: String) {
  accounts(first: $first, after: $after, last: $last, before: $before, orderBy: [{field: NAME}]) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { name } }
    nodes { name }
  }
}"""


@pytest.fixture
async def ten_accounts(tenant: Tenant) -> list[str]:
    names = [f"acc-{i:02d}" for i in range(10)]
    async with tenant_transaction(tenant.id) as tx:
        for name in reversed(names):
            await factories.account(tx, name=name)
    return names


async def test_forward_pages_cover_the_list_with_correct_page_info(api: Api, tenant: Tenant, ten_accounts: list[str]):
    first = (await api.data(tenant, PAGE, {"first": 4}))["accounts"]
    assert first["totalCount"] == 10
    assert [n["name"] for n in first["nodes"]] == ten_accounts[:4]
    assert [e["node"]["name"] for e in first["edges"]] == ten_accounts[:4]
    assert first["pageInfo"]["hasNextPage"] is True
    assert first["pageInfo"]["hasPreviousPage"] is False
    assert first["pageInfo"]["endCursor"] == first["edges"][-1]["cursor"]
    second = (await api.data(tenant, PAGE, {"first": 4, "after": first["pageInfo"]["endCursor"]}))["accounts"]
    assert [n["name"] for n in second["nodes"]] == ten_accounts[4:8]
    assert second["pageInfo"]["hasPreviousPage"] is True
    last = (await api.data(tenant, PAGE, {"first": 4, "after": second["pageInfo"]["endCursor"]}))["accounts"]
    assert [n["name"] for n in last["nodes"]] == ten_accounts[8:]
    assert last["pageInfo"]["hasNextPage"] is False


async def test_backward_pages(api: Api, tenant: Tenant, ten_accounts: list[str]):
    tail = (await api.data(tenant, PAGE, {"last": 3}))["accounts"]
    assert [n["name"] for n in tail["nodes"]] == ten_accounts[7:]
    assert tail["pageInfo"]["hasPreviousPage"] is True
    assert tail["pageInfo"]["hasNextPage"] is False
    before = (await api.data(tenant, PAGE, {"last": 3, "before": tail["pageInfo"]["startCursor"]}))["accounts"]
    assert [n["name"] for n in before["nodes"]] == ten_accounts[4:7]
    assert before["pageInfo"]["hasNextPage"] is True


async def test_cursors_are_stable_under_inserts(api: Api, tenant: Tenant, ten_accounts: list[str]):
    first = (await api.data(tenant, PAGE, {"first": 5}))["accounts"]
    async with tenant_transaction(tenant.id) as tx:
        await factories.account(tx, name="acc-00a")  # sorts inside the first page
        await factories.account(tx, name="acc-05a")  # sorts inside the second page
    second = (await api.data(tenant, PAGE, {"first": 5, "after": first["pageInfo"]["endCursor"]}))["accounts"]
    assert [n["name"] for n in second["nodes"]] == ["acc-05", "acc-05a", "acc-06", "acc-07", "acc-08"]


async def test_empty_list(api: Api, tenant: Tenant):
    page = (await api.data(tenant, PAGE, {"first": 3}))["accounts"]
    assert page == {
        "totalCount": 0,
        "pageInfo": {"hasNextPage": False, "hasPreviousPage": False, "startCursor": None, "endCursor": None},
        "edges": [],
        "nodes": [],
    }


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"first": 501}, "first"),
        ({"first": -1}, "first"),
        ({"last": 501}, "last"),
        ({"first": 2, "last": 2}, "last"),
        ({"first": 2, "after": "not-a-cursor"}, "after"),
        ({"last": 2, "before": "bm90IGpzb24="}, "before"),
    ],
)
async def test_bad_page_arguments_are_bad_user_input(api: Api, tenant: Tenant, variables, field):
    errors = await api.errors(tenant, PAGE, variables)
    assert [(e["code"], e["field"]) for e in errors] == [("BAD_USER_INPUT", field)]


async def test_a_cursor_is_refused_under_another_order(api: Api, tenant: Tenant, ten_accounts: list[str]):
    first = (await api.data(tenant, PAGE, {"first": 2}))["accounts"]
    query = (
        "query($after: String) { accounts(first: 2, after: $after, orderBy: [{field: CREATED_AT}]) { nodes { name } } }"
    )
    errors = await api.errors(tenant, query, {"after": first["pageInfo"]["endCursor"]})
    assert errors[0]["code"] == "BAD_USER_INPUT"
    assert "another orderBy" in errors[0]["message"]


async def test_default_page_size_and_maximum(api: Api, tenant: Tenant):
    async with tenant_transaction(tenant.id) as tx:
        account = await factories.account(tx)
        for _ in range(55):
            await factories.contact(tx, account)
    data = await api.data(tenant, "{ accounts { nodes { contacts { nodes { id } pageInfo { hasNextPage } } } } }")
    contacts = data["accounts"]["nodes"][0]["contacts"]
    assert len(contacts["nodes"]) == 50
    assert contacts["pageInfo"]["hasNextPage"] is True
    data = await api.data(tenant, "{ accounts(first: 1) { nodes { contacts(first: 500) { nodes { id } } } } }")
    assert len(data["accounts"]["nodes"][0]["contacts"]["nodes"]) == 55


async def test_nested_connections_page_per_parent(api: Api, tenant: Tenant):
    async with tenant_transaction(tenant.id) as tx:
        accounts = [await factories.account(tx, name=f"n{i}") for i in range(3)]
        for i, account in enumerate(accounts):
            for j in range(i + 1):
                await factories.contact(tx, account, last_name=f"c{i}{j}")
    query = """{ accounts(orderBy: [{field: NAME}]) { nodes { name
        contacts(first: 2, orderBy: [{field: LAST_NAME, direction: DESC}]) {
          totalCount pageInfo { hasNextPage } nodes { lastName } } } } }"""
    nodes = (await api.data(tenant, query))["accounts"]["nodes"]
    assert [(n["name"], n["contacts"]["totalCount"], n["contacts"]["pageInfo"]["hasNextPage"]) for n in nodes] == [
        ("n0", 1, False),
        ("n1", 2, False),
        ("n2", 3, True),
    ]
    assert [c["lastName"] for c in nodes[2]["contacts"]["nodes"]] == ["c22", "c21"]
