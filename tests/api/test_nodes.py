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


ADMIN_OBJECTS = """mutation {
  webhookCreate(input: {url: "https://hooks.example.com/in", eventTypes: ["ticket.*"]}) { webhook { id } }
  teamCreate(name: "Night shift") { id }
  apiKeyCreate(input: {name: "ETL", roles: ["viewer"]}) { apiKey { id } }
}"""


async def test_node_refetches_the_administrative_types(api: Api, tenant: Tenant, other_tenant: Tenant) -> None:
    created = await api.data(tenant, ADMIN_OBJECTS)
    webhook_id = created["webhookCreate"]["webhook"]["id"]
    ping = await api.data(tenant, "mutation($id: ID!) { webhookPing(id: $id) { id } }", {"id": webhook_id})
    later = await api.data(tenant, "{ roles { id name } auditLog(first: 1) { nodes { id action } } }")
    role = next(r for r in later["roles"] if r["name"] == "viewer")
    entry = later["auditLog"]["nodes"][0]
    expected = [
        {"__typename": "Webhook", "id": webhook_id, "url": "https://hooks.example.com/in"},
        {"__typename": "WebhookDelivery", "id": ping["webhookPing"]["id"], "eventType": "webhook.ping"},
        {"__typename": "Team", "id": created["teamCreate"]["id"], "name": "Night shift"},
        {"__typename": "ApiKey", "id": created["apiKeyCreate"]["apiKey"]["id"], "name": "ETL"},
        {"__typename": "Role", "id": role["id"], "name": "viewer"},
        {"__typename": "AuditEntry", "id": entry["id"], "action": entry["action"]},
    ]
    query = """query($ids: [ID!]!) { nodes(ids: $ids) { __typename id
      ... on Webhook { url } ... on WebhookDelivery { eventType } ... on Team { name }
      ... on ApiKey { name } ... on Role { name } ... on AuditEntry { action } } }"""
    ids = [e["id"] for e in expected]
    assert (await api.data(tenant, query, {"ids": ids}))["nodes"] == expected
    single = await api.data(tenant, "query($id: ID!) { node(id: $id) { ... on Webhook { url } } }", {"id": webhook_id})
    assert single["node"] == {"url": "https://hooks.example.com/in"}
    # Another tenant's administrative objects do not exist for this one.
    assert (await api.data(other_tenant, query, {"ids": ids}))["nodes"] == [None] * len(ids)


async def test_node_selections_of_administrative_types_pass_the_field_policy(api: Api, tenant: Tenant) -> None:
    created = await api.data(tenant, ADMIN_OBJECTS)
    webhook_id = created["webhookCreate"]["webhook"]["id"]
    query = "query($id: ID!) { node(id: $id) { id ... on Webhook { url } } }"
    errors = await api.errors(tenant, query, {"id": webhook_id}, subject="sam", roles=("sales",))
    assert [e["code"] for e in errors] == ["FORBIDDEN"]
