"""Record scopes through the API: rows outside a caller's scope are not counted, not paged,
not found by id, on the compiled path and on the executor's path alike."""

from __future__ import annotations

from typing import Any

import orjson

from backend.app import wire
from backend.db import tenant_transaction
from backend.models import Tenant
from schema.executor import OperationRequest
from schema.relay import to_global_id
from tests import factories
from tests.access.test_admin_api import ok, sign_in, with_key
from tests.conftest import Api

ACCOUNTS = "{ accounts(first: 10) { totalCount nodes { name } } contacts { totalCount nodes { lastName } } }"


async def both_paths(api: Api, tenant: Tenant, subject: str, query: str = ACCOUNTS) -> dict[str, Any]:
    """The answer of the compiled statement and of the executor, which must agree."""
    services = wire(api.settings)
    principal = await services.authenticator.authenticate(f"Bearer {api.token(tenant, subject=subject, roles=())}")
    answers = []
    for compiled in (True, False):
        raw = await services.executor.run(
            principal, OperationRequest(query, {}, None), request_id="t", compiled=compiled
        )
        body = orjson.loads(raw)
        assert "errors" not in body, body
        assert body["extensions"]["plan"]["path"] == ("compiled" if compiled else "executor")
        answers.append(body["data"])
    assert answers[0] == answers[1]
    data: dict[str, Any] = answers[0]
    return data


def names(data: dict[str, Any]) -> tuple[int, list[str], int, list[str]]:
    accounts, contacts = data["accounts"], data["contacts"]
    return (
        accounts["totalCount"],
        sorted(n["name"] for n in accounts["nodes"]),
        contacts["totalCount"],
        sorted(n["lastName"] for n in contacts["nodes"]),
    )


async def test_own_and_team_scopes_limit_counts_pages_and_lookups(api: Api, tenant: Tenant) -> None:
    await sign_in(api, tenant, "alice", "admin")
    ids = {name: await sign_in(api, tenant, name, "sales") for name in ("bob", "carol", "dan", "eve")}
    red = (await ok(api, tenant, 'mutation { teamCreate(name: "Red") { id } }'))["teamCreate"]["id"]
    blue = (await ok(api, tenant, 'mutation { teamCreate(name: "Blue") { id } }'))["teamCreate"]["id"]
    for user, team in (("bob", red), ("carol", red), ("dan", blue)):
        await ok(api, tenant, "mutation ($u: ID!, $t: ID) { userSetTeam(userId: $u, teamId: $t) }",
                 {"u": ids[user], "t": team})  # fmt: skip
    async with tenant_transaction(tenant.id) as tx:
        owners = {r["external_id"]: r["id"] for r in await tx.fetch("SELECT id, external_id FROM users")}
        accounts = {}
        for owner in ("bob", "carol", "dan", None):
            account = await factories.account(tx, name=f"A-{owner}", owner_id=owners[owner] if owner else None)
            await factories.contact(tx, account, last_name=f"C-{owner}")
            accounts[owner] = account

    everything = await both_paths(api, tenant, "bob")
    assert names(everything) == (4, ["A-None", "A-bob", "A-carol", "A-dan"], 4, ["C-None", "C-bob", "C-carol", "C-dan"])

    for type_name in ("Account", "Contact"):
        await ok(api, tenant, f'mutation {{ roleScopeSet(role: "sales", type: "{type_name}", action: "read", '
                 "scope: OWN) { name } }")  # fmt: skip
    assert names(await both_paths(api, tenant, "bob")) == (1, ["A-bob"], 1, ["C-bob"])
    assert names(await both_paths(api, tenant, "eve")) == (0, [], 0, [])
    others = to_global_id("Account", accounts["carol"].id)
    lookup = await api.graphql(tenant, f'{{ account(id: "{others}") {{ name }} node(id: "{others}") {{ id }} }}',
                               subject="bob")  # fmt: skip
    assert lookup["data"] == {"account": None, "node": None}

    for type_name in ("Account", "Contact"):
        await ok(api, tenant, f'mutation {{ roleScopeSet(role: "sales", type: "{type_name}", action: "read", '
                 "scope: TEAM) { name } }")  # fmt: skip
    assert names(await both_paths(api, tenant, "bob")) == (2, ["A-bob", "A-carol"], 2, ["C-bob", "C-carol"])
    assert names(await both_paths(api, tenant, "dan")) == (1, ["A-dan"], 1, ["C-dan"])
    assert names(await both_paths(api, tenant, "eve")) == (0, [], 0, [])  # no team: a team of one

    # A key holding the role owns nothing: OWN/TEAM scopes give it no rows.
    key = await ok(api, tenant, 'mutation { apiKeyCreate(input: {name: "k", roles: ["sales"]}) { secret } }')
    body = await with_key(api, key["apiKeyCreate"]["secret"], ACCOUNTS)
    assert names(body["data"]) == (0, [], 0, [])

    # Back to ALL, everyone sees everything again.
    for type_name in ("Account", "Contact"):
        await ok(api, tenant, f'mutation {{ roleScopeSet(role: "sales", type: "{type_name}", action: "read", '
                 "scope: ALL) { scopes { type } } }")  # fmt: skip
    assert names(await both_paths(api, tenant, "dan")) == names(everything)


async def test_nothing_leaks_around_the_field_check(api: Api, tenant: Tenant) -> None:
    """`__typename`, connection counts, page info, `node` and introspection are allowed to a
    caller who may read no account, and tell it nothing about the tenant's accounts."""
    async with tenant_transaction(tenant.id) as tx:
        account = await factories.account(tx, name="Secret")
    account_id = to_global_id("Account", account.id)
    await sign_in(api, tenant, "alice", "admin")
    await ok(api, tenant, 'mutation { roleCreate(input: {name: "nobody"}) { name } }')  # a role without rules
    await sign_in(api, tenant, "nemo", "nobody")
    query = f"""{{ accounts {{ __typename totalCount pageInfo {{ hasNextPage }} nodes {{ __typename }} }}
        node(id: "{account_id}") {{ __typename }} account(id: "{account_id}") {{ __typename }}
        __type(name: "Account") {{ fields {{ name }} }} }}"""
    body = await api.graphql(tenant, query, subject="nemo", roles=("nobody",))
    assert "errors" not in body, body
    data = body["data"]
    assert data["accounts"] == {
        "__typename": "AccountConnection",
        "totalCount": 0,
        "pageInfo": {"hasNextPage": False},
        "nodes": [],
    }
    assert data["node"] is None and data["account"] is None
    assert "name" in [f["name"] for f in data["__type"]["fields"]]  # the schema is public in dev, the data is not
    refused = await api.graphql(tenant, "{ accounts { nodes { id } } }", subject="nemo")
    assert refused["errors"][0]["extensions"]["denied"] == [
        {"path": "accounts.nodes.id", "object": "Account.id", "action": "read"}
    ]


async def test_write_scopes_limit_updates_and_deletes(api: Api, tenant: Tenant) -> None:
    """Sales read every account but update (and delete) only those they own (the defaults)."""
    await sign_in(api, tenant, "alice", "admin")
    await sign_in(api, tenant, "bob", "sales")
    async with tenant_transaction(tenant.id) as tx:
        owners = {r["external_id"]: r["id"] for r in await tx.fetch("SELECT id, external_id FROM users")}
        mine = await factories.account(tx, name="Bob's", owner_id=owners["bob"])
        theirs = await factories.account(tx, name="Alice's", owner_id=owners["alice"])
    update = 'mutation($id: ID!) { accountUpdate(id: $id, input: {industry: "retail"}) { account { industry } } }'
    done = await api.graphql(tenant, update, {"id": to_global_id("Account", mine.id)}, subject="bob")
    assert done["data"] == {"accountUpdate": {"account": {"industry": "retail"}}}
    refused = await api.graphql(tenant, update, {"id": to_global_id("Account", theirs.id)}, subject="bob")
    assert [e["extensions"]["code"] for e in refused["errors"]] == ["FORBIDDEN"]
    batch = "mutation($i: [AccountUpdateItem!]!) { accountsUpdate(inputs: $i) { accounts { name } } }"
    items = [{"id": to_global_id("Account", a.id), "input": {"tier": "PRO"}} for a in (mine, theirs)]
    refused = await api.graphql(tenant, batch, {"i": items}, subject="bob")
    assert [(e["extensions"]["code"], e["extensions"]["field"]) for e in refused["errors"]] == [
        ("FORBIDDEN", "inputs.1.id")
    ]
    async with tenant_transaction(tenant.id) as tx:
        tiers = {r["name"]: r["tier"] for r in await tx.fetch("SELECT name, tier FROM accounts")}
    assert tiers == {"Bob's": None, "Alice's": None}  # all or none
    # the admin's scope is ALL
    done = await api.graphql(tenant, update, {"id": to_global_id("Account", theirs.id)}, subject="alice")
    assert "errors" not in done
