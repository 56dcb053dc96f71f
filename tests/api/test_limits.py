"""Limits before execution: depth, aliases, tokens, cost; every response reports its cost."""

from __future__ import annotations

from backend.models import Tenant
from tests.conftest import Api


async def test_every_response_reports_its_cost(api: Api, tenant: Tenant) -> None:
    small = await api.graphql(tenant, "{ accounts(first: 1) { nodes { name } } }")
    large = await api.graphql(
        tenant, "{ accounts(first: 100) { nodes { name contacts(first: 10) { nodes { email } } } } }"
    )
    assert 0 < small["extensions"]["cost"] < large["extensions"]["cost"]


async def test_page_sizes_from_variables_count(api: Api, tenant: Tenant) -> None:
    query = "query($n: Int) { accounts(first: $n) { nodes { contacts(first: $n) { nodes { email } } } } }"
    costs = [(await api.graphql(tenant, query, {"n": n}))["extensions"]["cost"] for n in (1, 10)]
    # accounts 1 + nodes n + contacts n + their nodes n² + email n²
    assert costs == [5, 1 + 10 + 10 + 100 + 100]


async def test_too_costly_queries_are_refused_before_execution(api: Api, tenant: Tenant) -> None:
    query = "{ accounts(first: 500) { nodes { contacts(first: 500) { nodes { email } } } } }"
    body = await api.graphql(tenant, query)
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert error["extensions"]["cost"] > error["extensions"]["limit"] == api.settings.max_cost


async def test_depth_limit(api: Api, tenant: Tenant) -> None:
    deep = "{ accounts { nodes { " + "parent { " * 12 + "name" + " }" * 12 + " } } }"
    [error] = await api.errors(tenant, deep)
    assert error["code"] == "QUERY_TOO_COMPLEX" and error["limit"] == api.settings.max_depth


async def test_alias_limit_counts_fragment_expansions(api: Api, tenant: Tenant) -> None:
    fragment = "fragment F on Account { " + " ".join(f"a{i}: name" for i in range(10)) + " }"
    query = "{ accounts(first: 1) { nodes { ...F ...F ...F ...F } } } " + fragment
    [error] = await api.errors(tenant, query)
    assert error["code"] == "QUERY_TOO_COMPLEX" and error["aliases"] == 40


async def test_token_limit(api: Api, tenant: Tenant) -> None:
    query = "{ " + " ".join(["viewer { roles }"] * 2000) + " }"
    [error] = await api.errors(tenant, query)
    assert error["code"] == "BAD_USER_INPUT"
    assert "token" in error["message"].lower()


async def test_introspection_is_allowed_in_dev(api: Api, tenant: Tenant) -> None:
    data = await api.data(tenant, "{ __schema { queryType { name } } }")
    assert data["__schema"]["queryType"]["name"] == "Query"


async def test_small_lists_declare_the_size_the_cost_assumes(api: Api, tenant: Tenant) -> None:
    # 50 groups x (members 10 + links 10 x reasons 4): well within the budget with declared sizes
    body = await api.graphql(
        tenant, "{ duplicates(type: ACCOUNT) { nodes { members { id } links { reasons { rule } } } } }"
    )
    assert "errors" not in body, body
    assert body["extensions"]["cost"] == 1 + 50 + 50 * (1 + 10) + 50 * (1 + 10 * (1 + 4))
