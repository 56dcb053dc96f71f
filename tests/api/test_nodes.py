"""Global object identification: node(id), nodes(ids), and ids across tenants."""

from __future__ import annotations

import base64
import uuid

from backend.db import tenant_transaction
from backend.models import Tenant
from tests import factories
from tests.conftest import Api


def gid(type_name: str, pk: uuid.UUID) -> str:
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


async def test_node_and_nodes_resolve_any_type_in_order(api: Api, tenant: Tenant) -> None:
    async with tenant_transaction(tenant.id) as tx:
        account = await factories.account(tx, name="Acme")
        ticket = await factories.ticket(tx, account, subject="Help")
    query = """query($a: ID!, $ids: [ID!]!) {
      node(id: $a) { __typename id ... on Account { name } }
      nodes(ids: $ids) { __typename ... on Ticket { subject } ... on Account { name } }
    }"""
    missing = gid("Account", uuid.uuid4())
    data = await api.data(
        tenant,
        query,
        {"a": gid("Account", account.id), "ids": [gid("Ticket", ticket.id), missing, gid("Account", account.id)]},
    )
    assert data["node"] == {"__typename": "Account", "id": gid("Account", account.id), "name": "Acme"}
    assert data["nodes"] == [
        {"__typename": "Ticket", "subject": "Help"},
        None,
        {"__typename": "Account", "name": "Acme"},
    ]


async def test_another_tenants_id_reads_as_not_found(api: Api, tenant: Tenant, other_tenant: Tenant) -> None:
    async with tenant_transaction(other_tenant.id) as tx:
        theirs = await factories.account(tx, name="Theirs")
    query = "query($id: ID!) { node(id: $id) { id } account(id: $id) { name } }"
    assert await api.data(tenant, query, {"id": gid("Account", theirs.id)}) == {"node": None, "account": None}


async def test_malformed_ids_are_bad_user_input(api: Api, tenant: Tenant) -> None:
    for value in ["nope", gid("Account", uuid.uuid4())[:-4], base64.b64encode(b"Account:not-a-uuid").decode()]:
        errors = await api.errors(tenant, "query($id: ID!) { node(id: $id) { id } }", {"id": value})
        assert [(e["code"], e["field"]) for e in errors] == [("BAD_USER_INPUT", "id")]
    errors = await api.errors(
        tenant, "query($id: ID!) { account(id: $id) { id } }", {"id": gid("Ticket", uuid.uuid4())}
    )
    assert errors[0]["code"] == "BAD_USER_INPUT"
    errors = await api.errors(tenant, "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ["x"] * 101})
    assert errors[0]["code"] == "BAD_USER_INPUT"
