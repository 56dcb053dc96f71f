"""The admin GraphQL API end to end: roles, rules, scopes, bindings, keys, explain, matrix,
validation, no lock-out, no escalation, and the issue's acceptance scenario."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest
from graphql import GraphQLEnumType, GraphQLInputObjectType

from backend.app import wire
from backend.db import tenant_transaction
from backend.models import Tenant
from policies.catalog import Catalog
from schema import schema
from schema.executor import OperationRequest
from schema.relay import to_global_id
from tests import factories
from tests.conftest import Api

CATALOG = Catalog(schema._schema)
# The fields the acceptance scenario hides: the revenue fields once Account has them, until
# then two commercial fields it has today.
HIDDEN = sorted(f for f in CATALOG.entities["Account"] if "revenue" in f.lower()) or ["tier", "lifecycleStage"]

Ask = Callable[[str, dict[str, Any] | None], Awaitable[dict[str, Any]]]


async def ok(api: Api, tenant: Tenant, query: str, variables: dict[str, Any] | None = None, **token: Any) -> Any:
    body = await api.graphql(tenant, query, variables, **token)
    assert "errors" not in body, body
    return body["data"]


async def error(api: Api, tenant: Tenant, query: str, variables: dict[str, Any] | None = None, **token: Any) -> Any:
    body = await api.graphql(tenant, query, variables, **token)
    assert body["data"] is None and body.get("errors"), body
    return body["errors"][0]


async def with_key(api: Api, secret: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    response = await api.client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers={"Authorization": f"Bearer {secret}"}
    )
    body: dict[str, Any] = response.json()
    return body


async def sign_in(api: Api, tenant: Tenant, subject: str, *roles: str) -> str:
    """Sign a user in once (provisioned, roles seeded from the token); their global id, as
    the tenant's first admin, alice, sees it."""
    await ok(api, tenant, "{ viewer { roles } }", subject=subject, roles=roles)  # needs no permission
    found = await ok(api, tenant, "query ($e: String!) { users(filter: {email: {eq: $e}}) { nodes { id } } }",
                     {"e": f"{subject}@example.com"}, subject="alice", roles=("admin",))  # fmt: skip
    return str(found["users"]["nodes"][0]["id"])


def _denied_objects(body: dict[str, Any]) -> set[str]:
    assert body["data"] is None, body
    [failure] = body["errors"]
    assert failure["extensions"]["code"] == "FORBIDDEN"
    return {d["object"] for d in failure["extensions"]["denied"]}


async def test_acceptance_a_role_that_sees_accounts_but_not_the_hidden_fields(api: Api, tenant: Tenant) -> None:
    async with tenant_transaction(tenant.id) as tx:
        account = await factories.account(tx)
    account_id = to_global_id("Account", account.id)

    # An admin, through GraphQL alone, creates the role ...
    await sign_in(api, tenant, "alice", "admin")
    await ok(api, tenant, 'mutation { roleCreate(input: {name: "account-reader"}) { name } }')
    await ok(
        api, tenant, 'mutation { policyGrant(role: "account-reader", object: "Account.*", action: "read") { name } }'
    )
    deny = 'mutation ($o: String!) { policyDeny(role: "account-reader", object: $o, action: "read") { name } }'
    for field in HIDDEN:
        await ok(api, tenant, deny, {"o": f"Account.{field}"})
    # ... binds a user and an API key to it ...
    created = await ok(
        api, tenant, 'mutation { userCreate(input: {externalId: "bob", email: "b@example.com"}) { user { id } } }'
    )
    bob = created["userCreate"]["user"]["id"]
    await ok(api, tenant, 'mutation ($s: ID!) { roleBind(role: "account-reader", subject: $s) { name } }', {"s": bob})
    key = await ok(
        api,
        tenant,
        'mutation { apiKeyCreate(input: {name: "bi", roles: ["account-reader"]}) { secret apiKey { id } } }',
    )
    secret, key_id = key["apiKeyCreate"]["secret"], key["apiKeyCreate"]["apiKey"]["id"]

    async def as_bob(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        return await api.graphql(tenant, query, variables, subject="bob", roles=("admin",))  # claim ignored

    async def as_key(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        return await with_key(api, secret, query, variables)

    hidden = {f"Account.{f}" for f in HIDDEN}
    filter_type = CATALOG.schema.get_type("AccountFilter")
    order_enum = CATALOG.schema.get_type("AccountOrderField")
    assert isinstance(filter_type, GraphQLInputObjectType) and isinstance(order_enum, GraphQLEnumType)
    for ask in (as_bob, as_key):
        # ... both see accounts ...
        body = await ask("{ accounts { nodes { id name } } }")
        assert body["data"]["accounts"]["nodes"] == [{"id": account_id, "name": account.name}], body
        # ... and are refused exactly those fields everywhere:
        assert _denied_objects(await ask(f"{{ accounts {{ nodes {{ name {' '.join(HIDDEN)} }} }} }}")) == hidden
        field = HIDDEN[0]
        refused = [
            f"{{ accounts {{ nodes {{ x: {field} }} }} }}",
            f"{{ accounts {{ nodes {{ ...F }} }} }} fragment F on Account {{ {field} }}",
            f'{{ node(id: "{account_id}") {{ ... on Account {{ {field} }} }} }}',
            f'{{ account(id: "{account_id}") {{ ... {{ {field} }} }} }}',
        ]
        if field in filter_type.fields:
            refused.append(f"{{ accounts(filter: {{{field}: {{isNull: false}}}}) {{ nodes {{ name }} }} }}")
            variables_query = "query ($f: AccountFilter) { accounts(filter: $f) { nodes { name } } }"
            assert _denied_objects(await ask(variables_query, {"f": {field: {"isNull": True}}})) == {f"Account.{field}"}
        enum_value = "".join("_" + c if c.isupper() else c.upper() for c in field)
        if enum_value in order_enum.values:
            refused.append(f"{{ accounts(orderBy: [{{field: {enum_value}}}]) {{ nodes {{ name }} }} }}")
        for query in refused:
            assert _denied_objects(await ask(query)) == {f"Account.{field}"}, query
        # ... and nothing else leaks: no contacts, no admin API.
        assert _denied_objects(await ask("{ contacts { nodes { id } } }")) == {"Contact.id"}
        assert "Role.*" in _denied_objects(await ask('{ accessMatrix(role: "admin") { role } }'))

    # accessExplain says why, for the user and for the key.
    explain = """query ($s: ID!, $o: String!) { accessExplain(subject: $s, object: $o, action: "read") {
        allowed decision roles reason rules { role object action effect } } }"""
    for subject in (bob, key_id):
        why = (await ok(api, tenant, explain, {"s": subject, "o": f"Account.{field}"}))["accessExplain"]
        assert why["allowed"] is False and why["decision"] == "DENIED" and why["roles"] == ["account-reader"]
        assert {"role": "account-reader", "object": f"Account.{field}", "action": "read", "effect": "DENY"} in why[
            "rules"
        ]
        assert "account-reader" in why["reason"]
        fine = (await ok(api, tenant, explain, {"s": subject, "o": "Account.name"}))["accessExplain"]
        assert fine["decision"] == "ALLOWED" and fine["rules"] == [
            {"role": "account-reader", "object": "Account.*", "action": "read", "effect": "ALLOW"}
        ]


async def test_roles_can_be_created_renamed_listed_and_deleted(api: Api, tenant: Tenant) -> None:
    await sign_in(api, tenant, "alice", "admin")
    role = """fragment R on Role { name description rules { object action effect } scopes { type action scope } }"""
    created = await ok(
        api, tenant, role + ' mutation { roleCreate(input: {name: "auditor", description: "Reads"}) { ...R } }'
    )
    assert created["roleCreate"] == {"name": "auditor", "description": "Reads", "rules": [], "scopes": []}
    await ok(api, tenant, 'mutation { policyGrant(role: "auditor", object: "AuditEntry.*", action: "read") { name } }')
    await ok(
        api, tenant, 'mutation { roleScopeSet(role: "auditor", type: "Ticket", action: "read", scope: OWN) { name } }'
    )
    renamed = await ok(api, tenant, role + ' mutation { roleRename(name: "auditor", newName: "inspector") { ...R } }')
    assert renamed["roleRename"]["rules"] == [{"object": "AuditEntry.*", "action": "read", "effect": "ALLOW"}]
    assert renamed["roleRename"]["scopes"] == [{"type": "Ticket", "action": "read", "scope": "OWN"}]
    names = [r["name"] for r in (await ok(api, tenant, "{ roles { name } }"))["roles"]]
    assert names == ["admin", "inspector", "integrator", "manager", "sales", "support", "viewer"]
    assert (await ok(api, tenant, 'mutation { roleDelete(name: "inspector") }'))["roleDelete"] == "inspector"
    assert (await ok(api, tenant, '{ role(name: "inspector") { name } }'))["role"] is None
    revoked = await ok(api, tenant, 'mutation { policyRevoke(role: "viewer", object: "Contact.email", action: "read") '
                       "{ rules { object action effect } } }")  # fmt: skip
    assert {"object": "Contact.email", "action": "read", "effect": "DENY"} not in revoked["policyRevoke"]["rules"]


@pytest.mark.parametrize(
    ("mutation", "field"),
    [
        ('policyGrant(role: "viewer", object: "Acount.*", action: "read")', "object"),
        ('policyGrant(role: "viewer", object: "Account.revenu", action: "read")', "object"),
        ('policyGrant(role: "viewer", object: "Account.name", action: "peek")', "action"),
        ('policyDeny(role: "viewer", object: "Account.name", action: "delete")', "object"),
        ('policyGrant(role: "viewer", object: "account", action: "read")', "object"),
        ('roleCreate(input: {name: "Bad Name"}) { name }', "name"),
        ('roleScopeSet(role: "viewer", type: "Product", action: "read", scope: OWN) { name }', "scope"),
        ('roleScopeSet(role: "viewer", type: "Acount", action: "read", scope: ALL) { name }', "type"),
        ('roleScopeSet(role: "viewer", type: "Account", action: "create", scope: OWN) { name }', "action"),
    ],
)
async def test_invalid_policy_changes_are_bad_user_input(api: Api, tenant: Tenant, mutation: str, field: str) -> None:
    await sign_in(api, tenant, "alice", "admin")
    selection = "" if "{" in mutation.rpartition(")")[2] else " { name }"
    failure = await error(api, tenant, f"mutation {{ {mutation}{selection} }}")
    assert failure["extensions"]["code"] == "BAD_USER_INPUT"
    assert failure["extensions"]["field"] == field


async def test_the_last_administrator_cannot_be_removed(api: Api, tenant: Tenant) -> None:
    alice = await sign_in(api, tenant, "alice", "admin")
    for mutation in [
        f'roleUnbind(role: "admin", subject: "{alice}") {{ name }}',
        'roleDelete(name: "admin")',
        'policyDeny(role: "admin", object: "Role.*", action: "manage_policies") { name }',
        'policyRevoke(role: "admin", object: "*", action: "*") { name }',
        f'userUpdate(id: "{alice}", input: {{isActive: false}}) {{ user {{ email }} }}',
        f'userDelete(id: "{alice}") {{ deletedId }}',
    ]:
        failure = await error(api, tenant, f"mutation {{ {mutation} }}")
        assert failure["extensions"]["code"] == "CONFLICT", mutation
    # With a second administrator the first may go (and the change took effect: rolled back before).
    carol = await sign_in(api, tenant, "carol", "viewer")
    await ok(api, tenant, f'mutation {{ roleBind(role: "admin", subject: "{carol}") {{ name }} }}')
    await ok(api, tenant, f'mutation {{ roleUnbind(role: "admin", subject: "{alice}") {{ name }} }}')
    roles = await ok(api, tenant, "{ viewer { roles } }", subject="carol")
    assert roles["viewer"]["roles"] == ["admin", "viewer"]


async def test_nobody_gives_more_than_they_hold(api: Api, tenant: Tenant) -> None:
    await sign_in(api, tenant, "alice", "admin")
    # A delegated administrator: manages policies, reads accounts, nothing else.
    await ok(api, tenant, 'mutation { roleCreate(input: {name: "delegate"}) { name } }')
    for obj, action in [
        ("Role.*", "manage_policies"),
        ("Role.*", "read"),
        ("Account.*", "read"),
        ("ApiKey.*", "manage_keys"),
    ]:
        await ok(
            api, tenant, f'mutation {{ policyGrant(role: "delegate", object: "{obj}", action: "{action}") {{ name }} }}'
        )
    dave = await sign_in(api, tenant, "dave")
    await ok(api, tenant, f'mutation {{ roleBind(role: "delegate", subject: "{dave}") {{ name }} }}')
    await ok(api, tenant, 'mutation { roleCreate(input: {name: "helper"}) { name } }', subject="dave")
    granted = 'mutation { policyGrant(role: "helper", object: "Account.name", action: "read") { name } }'
    assert await ok(api, tenant, granted, subject="dave")
    for mutation in [
        'policyGrant(role: "helper", object: "Account.name", action: "update") { name }',
        'policyGrant(role: "helper", object: "*", action: "read") { name }',
        f'roleBind(role: "admin", subject: "{dave}") {{ name }}',
        'policyRevoke(role: "viewer", object: "Contact.email", action: "read") { name }',  # lifting a deny
        'roleScopeSet(role: "sales", type: "Account", action: "update", scope: ALL) { name }',  # widening
        'apiKeyCreate(input: {name: "k", roles: ["manager"]}) { secret }',
    ]:
        failure = await error(api, tenant, f"mutation {{ {mutation} }}", subject="dave")
        assert failure["extensions"]["code"] == "FORBIDDEN", mutation
    # Restricting is always possible for whoever manages policies.
    await ok(api, tenant, 'mutation { policyDeny(role: "helper", object: "Account.name", action: "read") { name } }',
             subject="dave")  # fmt: skip


async def test_the_matrix_shows_a_role_on_every_object(api: Api, tenant: Tenant) -> None:
    await sign_in(api, tenant, "alice", "admin")
    data = await ok(
        api,
        tenant,
        '{ accessMatrix(role: "support") { role rows { object field cells { action effect } '
        "scopes { action scope } } } }",
    )
    rows = {row["object"]: row for row in data["accessMatrix"]["rows"]}
    assert {f"Order.{f}" for f in CATALOG.entities["Order"]} <= set(rows)
    cells = {c["action"]: c["effect"] for c in rows["Order.total"]["cells"]}
    assert cells == {"read": "DENY", "create": "NONE", "update": "NONE"}
    assert {c["action"]: c["effect"] for c in rows["Ticket.subject"]["cells"]}["update"] == "ALLOW"
    assert {c["action"]: c["effect"] for c in rows["Ticket.*"]["cells"]}["delete"] == "NONE"
    sales = await ok(api, tenant, '{ accessMatrix(role: "sales") { rows { object scopes { action scope } } } }')
    scopes = next(r for r in sales["accessMatrix"]["rows"] if r["object"] == "Account.*")["scopes"]
    assert {"action": "update", "scope": "OWN"} in scopes
    catalog = await ok(api, tenant, "{ accessCatalog { name fields ownable } }")
    assert {"name": "Product", "fields": sorted(CATALOG.entities["Product"]), "ownable": False} in catalog[
        "accessCatalog"
    ]


async def test_admin_ids_of_another_tenant_read_as_not_found(api: Api, tenant: Tenant, other_tenant: Tenant) -> None:
    theirs = await sign_in(api, other_tenant, "olga", "admin")
    key = await ok(api, other_tenant, 'mutation { apiKeyCreate(input: {name: "theirs"}) { apiKey { id } } }')
    their_key = key["apiKeyCreate"]["apiKey"]["id"]
    await sign_in(api, tenant, "alice", "admin")
    for mutation in [
        f'roleBind(role: "viewer", subject: "{theirs}") {{ name }}',
        f'roleBind(role: "viewer", subject: "{their_key}") {{ name }}',
        f'apiKeyRevoke(id: "{their_key}") {{ name }}',
        f'apiKeyRotate(id: "{their_key}") {{ secret }}',
        f'userUpdate(id: "{theirs}", input: {{isActive: false}}) {{ user {{ email }} }}',
    ]:
        failure = await error(api, tenant, f"mutation {{ {mutation} }}")
        assert failure["extensions"]["code"] == "NOT_FOUND", mutation
    explain = f'{{ accessExplain(subject: "{theirs}", object: "Account.name", action: "read") {{ allowed }} }}'
    assert (await error(api, tenant, explain))["extensions"]["code"] == "NOT_FOUND"
    assert (await ok(api, tenant, "{ apiKeys { name } }"))["apiKeys"] == []


async def test_an_admin_reads_its_own_change_at_once(api: Api, tenant: Tenant) -> None:
    """Without waiting for NOTIFY: the process that committed a policy change drops its copy.
    (This process's listener is not even started: only the commit hook can make it fresh.)"""
    services = wire(api.settings)
    principal = await services.authenticator.authenticate(f"Bearer {api.token(tenant)}")

    async def run(query: str) -> Any:
        body = orjson.loads(await services.executor.run(principal, OperationRequest(query, {}, None), request_id="t"))
        assert "errors" not in body, body
        return body["data"]

    assert "fresh" not in [r["name"] for r in (await run("{ roles { name } }"))["roles"]]  # cached now
    await run('mutation { roleCreate(input: {name: "fresh"}) { name } }')
    assert "fresh" in [r["name"] for r in (await run("{ roles { name } }"))["roles"]]
