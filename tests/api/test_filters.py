"""Typed filters and ordering: operators, relations, combinators, custom fields, bad input."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from backend.db import tenant_transaction
from backend.models import Tenant
from tests import factories
from tests.conftest import Api

NAMES = "query($f: AccountFilter) { accounts(filter: $f, orderBy: [{field: NAME}]) { totalCount nodes { name } } }"


@pytest.fixture
async def graph(tenant: Tenant) -> dict[str, Any]:
    async with tenant_transaction(tenant.id) as tx:
        alice = await factories.user(tx, name="Alice", email="alice@corp.example")
        acme = await factories.account(tx, name="Acme Robotics", industry="software", tier="pro", owner=alice)
        globex = await factories.account(tx, name="Globex 100% Corp", industry=None, tier="free")
        initech = await factories.account(tx, name="Initech", industry="finance", parent=acme)
        await factories.ticket(tx, acme, status="open", priority="high")
        await factories.ticket(tx, globex, status="closed")
        await factories.order(tx, acme, total=Decimal("120.50"), ordered_at=dt.datetime(2025, 3, 1, tzinfo=dt.UTC))
        await factories.order(tx, initech, total=Decimal("9.99"), ordered_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
        await factories.contact(tx, globex, email="Jane.Roe@Globex.example", phone="+14155550100")
    return {"alice": alice, "acme": acme, "globex": globex, "initech": initech}


async def names(api: Api, tenant: Tenant, filter: dict[str, Any]) -> list[str]:
    data = await api.data(tenant, NAMES, {"f": filter})
    assert data["accounts"]["totalCount"] == len(data["accounts"]["nodes"])
    return [n["name"] for n in data["accounts"]["nodes"]]


@pytest.mark.parametrize(
    ("filter", "expected"),
    [
        ({"name": {"eq": "Initech"}}, ["Initech"]),
        ({"name": {"contains": "ROBO"}}, ["Acme Robotics"]),
        ({"name": {"contains": "100%"}}, ["Globex 100% Corp"]),  # % is a literal, not a wildcard
        ({"name": {"contains": "_"}}, []),
        ({"name": {"startsWith": "glo"}}, ["Globex 100% Corp"]),
        ({"name": {"in": ["Initech", "Acme Robotics", "Nope"]}}, ["Acme Robotics", "Initech"]),
        ({"name": {"notIn": ["Initech"]}}, ["Acme Robotics", "Globex 100% Corp"]),
        ({"industry": {"isNull": True}}, ["Globex 100% Corp"]),
        ({"industry": {"ne": "software"}}, ["Globex 100% Corp", "Initech"]),  # ne keeps NULLs
        ({"tier": {"in": ["PRO", "FREE"]}}, ["Acme Robotics", "Globex 100% Corp"]),
        ({"tickets": {"status": {"eq": "OPEN"}}}, ["Acme Robotics"]),
        ({"not": {"tickets": {"status": {"eq": "OPEN"}}}}, ["Globex 100% Corp", "Initech"]),
        ({"orders": {"total": {"gte": "100"}}}, ["Acme Robotics"]),
        ({"orders": {"orderedAt": {"lt": "2025-01-01T00:00:00Z"}}}, ["Initech"]),
        ({"parent": {"name": {"startsWith": "acme"}}}, ["Initech"]),
        ({"parent": {"id": {"isNull": False}}}, ["Initech"]),
        ({"children": {"name": {"eq": "Initech"}}}, ["Acme Robotics"]),
        ({"owner": {"email": {"contains": "alice@"}}}, ["Acme Robotics"]),
        ({"contacts": {"email": {"startsWith": "jane.roe"}}}, ["Globex 100% Corp"]),
        ({"or": [{"name": {"eq": "Initech"}}, {"tier": {"eq": "FREE"}}]}, ["Globex 100% Corp", "Initech"]),
        ({"and": [{"name": {"contains": "c"}}, {"industry": {"eq": "software"}}]}, ["Acme Robotics"]),
        ({"or": []}, []),
        ({"and": []}, ["Acme Robotics", "Globex 100% Corp", "Initech"]),
    ],
)
async def test_account_filters(api: Api, tenant: Tenant, graph: dict[str, Any], filter, expected) -> None:
    assert await names(api, tenant, filter) == expected


async def test_id_filters_take_global_ids_of_the_right_type(api: Api, tenant: Tenant, graph: dict[str, Any]) -> None:
    acme_id = (await api.data(tenant, '{ accounts(filter: {name: {eq: "Acme Robotics"}}) { nodes { id } } }'))[
        "accounts"
    ]["nodes"][0]["id"]
    assert await names(api, tenant, {"id": {"eq": acme_id}}) == ["Acme Robotics"]
    assert await names(api, tenant, {"children": {"id": {"in": []}}}) == []
    user_id = (await api.data(tenant, "{ users { nodes { id } } }"))["users"]["nodes"]
    errors = await api.errors(tenant, NAMES, {"f": {"id": {"eq": user_id[0]["id"]}, "parent": {"id": {"eq": "zzz"}}}})
    assert sorted((e["code"], e["field"]) for e in errors) == [
        ("BAD_USER_INPUT", "filter.id.eq"),
        ("BAD_USER_INPUT", "filter.parent.id.eq"),
    ]


async def test_filters_never_reach_another_tenant(
    api: Api, tenant: Tenant, other_tenant: Tenant, graph: dict[str, Any]
) -> None:
    async with tenant_transaction(other_tenant.id) as tx:
        theirs = await factories.account(tx, name="Theirs")
        await factories.ticket(tx, theirs, status="open")
    assert await names(api, other_tenant, {"tickets": {"status": {"eq": "OPEN"}}}) == ["Theirs"]
    assert await names(api, tenant, {"name": {"eq": "Theirs"}}) == []


async def test_ordering_on_several_keys_with_the_id_breaking_ties(api: Api, tenant: Tenant) -> None:
    async with tenant_transaction(tenant.id) as tx:
        for name in ["b", "a", "b", "a"]:
            await factories.contact(tx, None, last_name=name)
    query = """{ contacts(orderBy: [{field: LAST_NAME, direction: DESC}, {field: CREATED_AT}]) {
        nodes { lastName createdAt } } }"""
    nodes = (await api.data(tenant, query))["contacts"]["nodes"]
    assert [n["lastName"] for n in nodes] == ["b", "b", "a", "a"]
    assert nodes[0]["createdAt"] < nodes[1]["createdAt"]


async def test_orderby_needs_exactly_one_of_field_or_custom_field(api: Api, tenant: Tenant) -> None:
    query = '{ accounts(orderBy: [{field: NAME, customField: "x"}, {direction: DESC}]) { nodes { id } } }'
    errors = await api.errors(tenant, query)
    assert [e["field"] for e in errors] == ["orderBy.0", "orderBy.1"]
