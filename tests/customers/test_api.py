"""The customer master over GraphQL: rules, duplicates, create warnings and rejection, merge, undo."""

from __future__ import annotations

import base64
from typing import Any

from backend.db import tenant_transaction
from backend.models import Tenant
from schema.relay import to_global_id
from tests import factories
from tests.conftest import Api

RULES = """{ matchRules { rejectDuplicates
  account { sameDomain emailDomain similarName nameThreshold } contact { sameEmail } } }"""
UPDATE_RULES = """mutation ($input: MatchRulesInput!) {
  matchRulesUpdate(input: $input) { matchRules { rejectDuplicates account { nameThreshold sameDomain } } } }"""
DUPLICATES = """query ($type: CustomerType!, $first: Int, $after: String) {
  duplicates(type: $type, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage hasPreviousPage endCursor }
    nodes { members { id ... on Account { name } ... on Contact { email } }
            links { first { id } second { id } reasons { rule similarity value } } } } }"""
ACCOUNT_CREATE = """mutation ($input: AccountCreateInput!) {
  accountCreate(input: $input) {
    account { id } duplicates { node { id ... on Account { name } } reasons { rule value } } } }"""
ACCOUNTS_CREATE = """mutation ($inputs: [AccountCreateInput!]!) {
  accountsCreate(inputs: $inputs) { accounts { id } duplicates { node { id } reasons { rule } } } }"""
CONTACT_CREATE = """mutation ($input: ContactCreateInput!) {
  contactCreate(input: $input) { contact { id } duplicates { node { id } reasons { rule value } } } }"""
MERGE = """mutation (
  $survivor: ID!, $merged: [ID!]!, $choices: [MergeFieldChoiceInput!], $dry: Boolean!, $version: Int
) {
  accountMerge(survivorId: $survivor, mergedIds: $merged, fieldChoices: $choices, dryRun: $dry, version: $version) {
    dryRun account { id name version contacts { totalCount } }
    merge { id type survivorId mergedIds fieldChoices { field from } moved { relation type count } undoneAt
            survivor { id } } } }"""
CONTACT_MERGE = """mutation ($survivor: ID!, $merged: [ID!]!) {
  contactMerge(survivorId: $survivor, mergedIds: $merged) { contact { id } merge { moved { relation count } } } }"""
UNDO = """mutation ($id: ID!) { mergeUndo(mergeId: $id) {
  merge { undoneAt } survivor { id ... on Account { name } } restored { id ... on Account { name } } } }"""


def gid(type_name: str, row: Any) -> str:
    return to_global_id(type_name, row.id)


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


async def test_match_rules_read_change_and_validate(api: Api, tenant: Tenant) -> None:
    body = await api.graphql(tenant, RULES)
    assert body["data"]["matchRules"] == {
        "rejectDuplicates": False,
        "account": {"sameDomain": True, "emailDomain": True, "similarName": True, "nameThreshold": 0.5},
        "contact": {"sameEmail": True},
    }
    body = await api.graphql(
        tenant, UPDATE_RULES, {"input": {"rejectDuplicates": True, "account": {"nameThreshold": 0.7}}}
    )
    assert body["data"]["matchRulesUpdate"]["matchRules"] == {
        "rejectDuplicates": True,
        "account": {"nameThreshold": 0.7, "sameDomain": True},
    }
    body = await api.graphql(tenant, UPDATE_RULES, {"input": {"account": {"nameThreshold": 2, "sameDomain": None}}})
    assert codes(body) == ["BAD_USER_INPUT", "BAD_USER_INPUT"]
    assert sorted(e["extensions"]["field"] for e in body["errors"]) == [
        "input.account.nameThreshold",
        "input.account.sameDomain",
    ]
    assert (await api.graphql(tenant, RULES))["data"]["matchRules"]["account"]["nameThreshold"] == 0.7


async def test_duplicates_lists_groups_with_reasons_page_by_page(
    api: Api, tenant: Tenant, other_tenant: Tenant
) -> None:
    async with tenant_transaction(other_tenant.id) as tx:
        theirs = [await factories.account(tx, name="Acme Corp", domain="acme.com") for _ in range(2)]
    async with tenant_transaction(tenant.id) as tx:
        acme = [await factories.account(tx, name=n, domain="acme.com") for n in ("Acme Corp", "ACME, Inc.")]
        globex = [await factories.account(tx, name=n) for n in ("Globex Corporation", "Globex")]
        await factories.account(tx, name="Initech")
    first = await api.graphql(tenant, DUPLICATES, {"type": "ACCOUNT", "first": 1})
    page = first["data"]["duplicates"]
    assert page["totalCount"] == 2
    assert page["pageInfo"]["hasNextPage"] and not page["pageInfo"]["hasPreviousPage"]
    [group] = page["nodes"]
    assert [m["id"] for m in group["members"]] == [gid("Account", a) for a in acme]
    assert sorted((r["rule"], r["value"]) for r in group["links"][0]["reasons"]) == [
        ("SAME_DOMAIN", "acme.com"),
        ("SIMILAR_NAME", None),
    ]
    second = await api.graphql(
        tenant, DUPLICATES, {"type": "ACCOUNT", "first": 5, "after": page["pageInfo"]["endCursor"]}
    )
    page = second["data"]["duplicates"]
    assert [[m["id"] for m in g["members"]] for g in page["nodes"]] == [[gid("Account", a) for a in globex]]
    assert not page["pageInfo"]["hasNextPage"] and page["pageInfo"]["hasPreviousPage"]
    everything = str(first) + str(second)
    assert all(gid("Account", a) not in everything for a in theirs)
    too_many = await api.graphql(tenant, "{ duplicates(type: ACCOUNT, first: 501) { totalCount } }")
    assert codes(too_many) == ["BAD_USER_INPUT"]
    bad_cursor = base64.b64encode(b"Account:nope").decode()
    assert codes(await api.graphql(tenant, DUPLICATES, {"type": "ACCOUNT", "first": 5, "after": bad_cursor})) == [
        "BAD_USER_INPUT"
    ]


async def test_contact_duplicates(api: Api, tenant: Tenant) -> None:
    async with tenant_transaction(tenant.id) as tx:
        a = await factories.contact(tx, email="jane@acme.com")
        b = await factories.contact(tx, email="JANE@acme.com")
    body = await api.graphql(tenant, DUPLICATES, {"type": "CONTACT", "first": 5})
    assert body["extensions"]["cost"] <= api.settings.max_cost
    [group] = body["data"]["duplicates"]["nodes"]
    assert [m["id"] for m in group["members"]] == [gid("Contact", a), gid("Contact", b)]
    assert group["links"][0]["reasons"] == [{"rule": "SAME_EMAIL", "similarity": None, "value": "jane@acme.com"}]


async def test_create_returns_likely_duplicates(api: Api, tenant: Tenant, other_tenant: Tenant) -> None:
    async with tenant_transaction(other_tenant.id) as tx:
        await factories.account(tx, name="Umbrella", domain="umbrella.com")
    async with tenant_transaction(tenant.id) as tx:
        old = await factories.account(tx, name="Umbrella Corporation", domain="umbrella.com")
        person = await factories.contact(tx, email="ada@umbrella.com", phone="+14155550100")
    body = await api.graphql(
        tenant, ACCOUNT_CREATE, {"input": {"name": "Umbrella Corp.", "domain": "www.Umbrella.com"}}
    )
    created = body["data"]["accountCreate"]
    assert created["duplicates"] == [
        {
            "node": {"id": gid("Account", old), "name": "Umbrella Corporation"},
            "reasons": [{"rule": "SAME_DOMAIN", "value": "umbrella.com"}, {"rule": "SIMILAR_NAME", "value": None}],
        }
    ]
    lone = await api.graphql(tenant, ACCOUNT_CREATE, {"input": {"name": "Wholly Unrelated"}})
    assert lone["data"]["accountCreate"]["duplicates"] == []
    body = await api.graphql(tenant, CONTACT_CREATE, {"input": {"lastName": "L", "email": "ADA@umbrella.com"}})
    assert body["data"]["contactCreate"]["duplicates"] == [
        {"node": {"id": gid("Contact", person)}, "reasons": [{"rule": "SAME_EMAIL", "value": "ada@umbrella.com"}]}
    ]
    batch = await api.graphql(
        tenant,
        ACCOUNTS_CREATE,
        {"inputs": [{"name": "Stark Industries"}, {"name": "Zyx"}, {"name": "Stark Industries Ltd"}]},
    )
    ids = [a["id"] for a in batch["data"]["accountsCreate"]["accounts"]]
    assert [[d["node"]["id"] for d in ds] for ds in batch["data"]["accountsCreate"]["duplicates"]] == [
        [ids[2]],
        [],
        [ids[0]],
    ]


async def test_rejecting_duplicates_refuses_creates_with_conflict(api: Api, tenant: Tenant) -> None:
    async with tenant_transaction(tenant.id) as tx:
        old = await factories.account(tx, name="Wayne Enterprises", domain="wayne.com")
    await api.graphql(tenant, UPDATE_RULES, {"input": {"rejectDuplicates": True}})
    body = await api.graphql(tenant, ACCOUNT_CREATE, {"input": {"name": "Something", "domain": "wayne.com"}})
    assert codes(body) == ["CONFLICT"]
    assert body["errors"][0]["extensions"]["duplicates"] == [
        {
            "field": "input",
            "matches": [
                {
                    "id": gid("Account", old),
                    "reasons": [{"rule": "SAME_DOMAIN", "similarity": None, "value": "wayne.com"}],
                }
            ],
        }
    ]
    # Batch-mates count too, and nothing of a refused batch is written.
    body = await api.graphql(
        tenant, ACCOUNTS_CREATE, {"inputs": [{"name": "Ok One"}, {"name": "Twin Co"}, {"name": "Twin Co."}]}
    )
    assert codes(body) == ["CONFLICT"]
    assert [d["field"] for d in body["errors"][0]["extensions"]["duplicates"]] == ["inputs.1", "inputs.2"]
    async with tenant_transaction(tenant.id) as tx:
        assert await tx.fetchval("SELECT count(*) FROM accounts") == 1
    fine = await api.graphql(tenant, ACCOUNT_CREATE, {"input": {"name": "Different"}})
    assert fine["data"]["accountCreate"]["duplicates"] == []


async def test_merge_dry_run_merge_and_undo(api: Api, tenant: Tenant, other_tenant: Tenant) -> None:
    async with tenant_transaction(other_tenant.id) as tx:
        foreign = await factories.account(tx)
    async with tenant_transaction(tenant.id) as tx:
        survivor = await factories.account(tx, name="Acme")
        dup = await factories.account(tx, name="ACME Inc")
        await factories.contact(tx, dup)
        await factories.ticket(tx, dup)
    args = {
        "survivor": gid("Account", survivor),
        "merged": [gid("Account", dup)],
        "choices": [{"field": "name", "from": gid("Account", dup)}],
        "dry": True,
    }
    preview = (await api.graphql(tenant, MERGE, args))["data"]["accountMerge"]
    assert preview["dryRun"] and preview["account"]["name"] == "ACME Inc"
    assert preview["account"]["contacts"]["totalCount"] == 0  # the preview is not stored
    stale = await api.graphql(tenant, MERGE, {**args, "dry": False, "version": survivor.version + 5})
    assert codes(stale) == ["CONFLICT"]
    done = (await api.graphql(tenant, MERGE, {**args, "dry": False, "version": survivor.version}))["data"][
        "accountMerge"
    ]
    assert not done["dryRun"]
    assert done["account"] == {
        "id": gid("Account", survivor),
        "name": "ACME Inc",
        "version": survivor.version + 1,
        "contacts": {"totalCount": 1},
    }
    merge = done["merge"]
    assert {k: merge[k] for k in ("type", "survivorId", "mergedIds", "fieldChoices", "undoneAt")} == {
        "type": "ACCOUNT",
        "survivorId": gid("Account", survivor),
        "mergedIds": [gid("Account", dup)],
        "fieldChoices": [{"field": "name", "from": gid("Account", dup)}],
        "undoneAt": None,
    }
    assert sorted((m["relation"], m["type"], m["count"]) for m in merge["moved"]) == [
        ("contacts", "Contact", 1),
        ("tickets", "Ticket", 1),
    ]
    assert merge["survivor"] == {"id": gid("Account", survivor)}
    node = await api.graphql(
        tenant, "query ($id: ID!) { node(id: $id) { ... on Merge { type } } }", {"id": merge["id"]}
    )
    assert node["data"]["node"] == {"type": "ACCOUNT"}
    assert (await api.graphql(other_tenant, UNDO, {"id": merge["id"]}))["errors"][0]["extensions"][
        "code"
    ] == "NOT_FOUND"
    undone = (await api.graphql(tenant, UNDO, {"id": merge["id"]}))["data"]["mergeUndo"]
    assert undone["survivor"] == {"id": gid("Account", survivor), "name": "Acme"}
    assert undone["restored"] == [{"id": gid("Account", dup), "name": "ACME Inc"}]
    assert undone["merge"]["undoneAt"] is not None
    assert codes(await api.graphql(tenant, UNDO, {"id": merge["id"]})) == ["CONFLICT"]
    # Ids of another tenant are not found; ids of another type are bad input.
    cross = await api.graphql(tenant, MERGE, {**args, "dry": False, "choices": [], "merged": [gid("Account", foreign)]})
    assert codes(cross) == ["NOT_FOUND"] and cross["errors"][0]["extensions"]["field"] == "mergedIds.0"
    wrong = await api.graphql(tenant, MERGE, {**args, "dry": False, "merged": [to_global_id("Contact", dup.id)]})
    assert codes(wrong) == ["BAD_USER_INPUT"] and wrong["errors"][0]["extensions"]["field"] == "mergedIds.0"


async def test_contact_merge(api: Api, tenant: Tenant) -> None:
    async with tenant_transaction(tenant.id) as tx:
        acc = await factories.account(tx)
        keep, dup = await factories.contact(tx, acc), await factories.contact(tx, acc)
        await factories.order(tx, acc, contact=dup)
    body = await api.graphql(tenant, CONTACT_MERGE, {"survivor": gid("Contact", keep), "merged": [gid("Contact", dup)]})
    assert body["data"]["contactMerge"] == {
        "contact": {"id": gid("Contact", keep)},
        "merge": {"moved": [{"relation": "orders", "count": 1}]},
    }


async def test_a_retried_merge_with_the_same_key_is_not_merged_twice(api: Api, tenant: Tenant) -> None:
    async with tenant_transaction(tenant.id) as tx:
        survivor, dup = await factories.account(tx), await factories.account(tx)
    query = """mutation ($s: ID!, $m: [ID!]!) {
      accountMerge(survivorId: $s, mergedIds: $m, idempotencyKey: "merge-1") { merge { id } account { version } } }"""
    variables = {"s": gid("Account", survivor), "m": [gid("Account", dup)]}
    first = await api.graphql(tenant, query, variables)
    again = await api.graphql(tenant, query, variables)
    assert first["data"] == again["data"] and first["data"]["accountMerge"]["merge"]["id"]
    async with tenant_transaction(tenant.id) as tx:
        assert await tx.fetchval("SELECT count(*) FROM merges") == 1
