"""The compiled write path answers every CRUD mutation as the executor would.

A mutation of one write field runs its write and then one statement that builds the payload
(schema/compiler.py `plan_write`). For random payload selections (the generator of the read
equivalence test: aliases, fragments, nested relations and connections) of every entity, a
create, an update and a delete run compiled, single or batched; each payload must be exactly,
key order included, what the executor answers when it reads the written rows right after.
Invalid mutations must fail with the same response on both paths and write nothing.
"""

from __future__ import annotations

import base64
import itertools
import os
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from graphql import GraphQLObjectType
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.app import wire
from backend.auth import Principal, issue_token
from backend.db import tenant_transaction
from backend.seed import SeedSize, seed_tenant
from backend.settings import Settings
from schema.executor import GraphQLExecutor, OperationRequest
from tenants.provisioning import provision_tenant
from tests.compiler.test_equivalence import GRAPHQL, Doc, gen_selection

SERIAL = itertools.count()


@dataclass
class World:
    executor: GraphQLExecutor
    principal: Principal  # an admin
    seller: Principal  # role sales: updates only the accounts it owns
    ids: dict[str, list[str]]  # type -> global ids of the seeded rows


@dataclass(frozen=True)
class Kind:
    """How the test writes one entity: its field names and a valid create and update input."""

    entity: str
    single: str  # accountCreate -> "account"
    many: str  # accountsCreate -> "accounts"

    def create(self, ids: dict[str, list[str]]) -> dict[str, Any]:
        n = next(SERIAL)
        account, product = ids["Account"][n % 5], ids["Product"][n % 3]
        inputs: dict[str, dict[str, Any]] = {
            "Account": {"name": f"Written {n}", "industry": "Software"},
            "Contact": {"lastName": f"Last {n}", "firstName": "W", "accountId": account, "email": f"w{n}@example.com"},
            "Product": {"sku": f"W-{n}", "name": f"Widget {n}", "price": "12.50", "currency": "USD"},
            "Order": {"accountId": account, "currency": "USD", "lines": [{"productId": product, "quantity": 2}]},
            "OrderLine": {"orderId": ids["Order"][n % 5], "productId": product, "quantity": 3},
            "Ticket": {"accountId": account, "subject": f"Subject {n}", "priority": "HIGH"},
            "Feedback": {"accountId": account, "kind": "NPS", "score": 7},
            "User": {"email": f"user{n}@example.com", "name": f"User {n}"},
        }
        return inputs[self.entity]

    def update(self) -> dict[str, Any]:
        inputs: dict[str, dict[str, Any]] = {
            "Account": {"industry": "Retail"},
            "Contact": {"title": "CTO"},
            "Product": {"name": "Renamed"},
            "Order": {"paymentTerms": "NET_45"},
            "OrderLine": {"quantity": 5},
            "Ticket": {"status": "PENDING", "subject": "Updated"},
            "Feedback": {"comment": "changed my mind"},
            "User": {"name": "Renamed"},
        }
        return inputs[self.entity]


KINDS = [
    Kind("Account", "account", "accounts"),
    Kind("Contact", "contact", "contacts"),
    Kind("Product", "product", "products"),
    Kind("Order", "order", "orders"),
    Kind("OrderLine", "orderLine", "orderLines"),
    Kind("Ticket", "ticket", "tickets"),
    Kind("Feedback", "feedback", "feedbackEntries"),
    Kind("User", "user", "users"),
]


@pytest.fixture(scope="module")
async def world(settings: Settings, app_db: None) -> World:
    tenant = await provision_tenant(f"Writes {uuid.uuid4().hex[:6]}")
    ids: dict[str, list[str]] = {}
    async with tenant_transaction(tenant.id) as tx:
        await seed_tenant(
            tx,
            SeedSize(accounts=6, contacts_per_account=2, orders_per_contact=1, lines_per_order=2, products=4, users=2),
        )
        for table, type_name in [("accounts", "Account"), ("products", "Product"), ("orders", "Order")]:
            rows = await tx.fetch(f"SELECT id FROM {table} WHERE tenant_id = $1 ORDER BY id", tenant.id)
            ids[type_name] = [base64.b64encode(f"{type_name}:{r['id']}".encode()).decode() for r in rows]
    services = wire(settings)

    async def principal(subject: str, role: str) -> Principal:
        token = issue_token(
            settings, tenant_id=tenant.id, subject=subject, roles=[role], email=f"{subject}@example.com"
        )
        return await services.authenticator.authenticate("Bearer " + token)

    return World(services.executor, await principal("writer", "admin"), await principal("seller", "sales"), ids)


async def _run(
    world: World, query: str, variables: dict[str, Any], *, compiled: bool, principal: Principal | None = None
) -> tuple[bytes, Any]:
    answer = await world.executor.run(
        principal or world.principal, OperationRequest(query, variables, None), request_id="w", compiled=compiled
    )
    return answer, orjson.loads(answer)


def _document(doc: Doc, field: str, arguments: str, payload: str) -> str:
    definitions = ", ".join(doc.definitions)
    return f"mutation M({definitions}) {{ {field}({arguments}) {{ {payload} }} }} {' '.join(doc.fragments)}"


async def _read_back(world: World, doc: Doc, entity: str, selection: str, ids: list[str]) -> list[Any]:
    """The rows as the executor reads them, with the payload's selection."""
    declared = [d for d in doc.definitions if not d.startswith(("$input", "$inputs", "$id", "$ids"))]
    header = f"query R({', '.join(declared)})" if declared else "query R"
    fields = " ".join(
        f"n{i}: node(id: {orjson.dumps(pk).decode()}) {{ ... on {entity} {{ {selection} }} }}"
        for i, pk in enumerate(ids)
    )
    variables = {k: v for k, v in doc.variables.items() if not k.startswith(("input", "id"))}
    _, body = await _run(world, f"{header} {{ {fields} }} {' '.join(doc.fragments)}", variables, compiled=False)
    assert "errors" not in body, body
    return [body["data"][f"n{i}"] for i in range(len(ids))]


def _same(a: Any, b: Any) -> bool:
    """Equal JSON, key order included."""
    return orjson.dumps(a) == orjson.dumps(b)


async def _audited(world: World) -> int:
    """Every write is audited: an unchanged count means nothing was written."""
    async with tenant_transaction(world.principal.tenant_id) as tx:
        count: int = await tx.fetchval(
            "SELECT count(*) FROM audit_entries WHERE tenant_id = $1", world.principal.tenant_id
        )
    return count


async def _fails_alike(world: World, query: str, variables: dict[str, Any], principal: Principal | None = None) -> Any:
    """Both paths refuse the mutation with the same bytes, and neither writes anything."""
    before = await _audited(world)
    compiled, body = await _run(world, query, variables, compiled=True, principal=principal)
    executed, _ = await _run(world, query, variables, compiled=False, principal=principal)
    assert "errors" in body and body["data"] is None, body
    assert compiled == executed
    assert await _audited(world) == before
    return body["errors"]


async def _compiled_write(world: World, query: str, variables: dict[str, Any]) -> Any:
    """The payload of a compiled write; None when the payload's own arguments are invalid (the
    executor then answers, and both paths must fail alike)."""
    _, body = await _run(world, query, variables, compiled=True)
    if "errors" in body:
        await _fails_alike(world, query, variables)
        return None
    assert body["extensions"]["plan"]["path"] == "compiled", query
    return body["data"]["w"]


@settings(
    max_examples=int(os.environ.get("RAPPORT_EQUIVALENCE_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=not os.environ.get("RAPPORT_EQUIVALENCE_EXAMPLES"),
)
@given(data=st.data())
async def test_compiled_writes_answer_as_the_executor_reads(world: World, data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(KINDS))
    batch = data.draw(st.booleans())
    node_type = GRAPHQL.get_type(kind.entity)
    assert isinstance(node_type, GraphQLObjectType)
    doc = Doc(data.draw, world.ids)
    selection = "wid: id " + gen_selection(doc, node_type, 1)
    node_key = kind.many if batch else kind.single
    payload = (
        f"__typename w2: {node_key} {{ {selection} }}" if data.draw(st.booleans()) else f"{node_key} {{ {selection} }}"
    )
    key = "w2" if payload.startswith("__typename") else node_key
    suffix = "s" if batch else ""
    entity_field = kind.many if batch else kind.single

    # create
    inputs = [kind.create(world.ids) for _ in range(2 if batch else 1)]
    doc.definitions.append(f"$input{suffix}: {'[' if batch else ''}{kind.entity}CreateInput!{']!' if batch else ''}")
    variables = {**doc.variables, f"input{suffix}": inputs if batch else inputs[0]}
    created = await _compiled_write(
        world, _document(doc, f"w: {entity_field}Create", f"input{suffix}: $input{suffix}", payload), variables
    )
    if created is None:
        return
    nodes = created[key] if batch else [created[key]]
    written_ids = [node["wid"] for node in nodes]
    assert _same(nodes, await _read_back(world, doc, kind.entity, selection, written_ids))
    doc.definitions.pop()

    # update
    if batch:
        doc.definitions.append(f"$inputs: [{kind.entity}UpdateItem!]!")
        variables = {**doc.variables, "inputs": [{"id": pk, "input": kind.update()} for pk in written_ids]}
        mutation = _document(doc, f"w: {kind.many}Update", "inputs: $inputs", payload)
    else:
        doc.definitions += ["$id: ID!", f"$input: {kind.entity}UpdateInput!"]
        variables = {**doc.variables, "id": written_ids[0], "input": kind.update()}
        mutation = _document(doc, f"w: {kind.single}Update", "id: $id, input: $input", payload)
    updated = await _compiled_write(world, mutation, variables)
    nodes = updated[key] if batch else [updated[key]]
    assert _same(nodes, await _read_back(world, doc, kind.entity, selection, written_ids))
    doc.definitions = [d for d in doc.definitions if not d.startswith(("$id", "$input"))]

    # delete
    if batch:
        mutation = f"mutation M($ids: [ID!]!) {{ w: {kind.many}Delete(ids: $ids) {{ __typename deletedIds }} }}"
        deleted = await _compiled_write(world, mutation, {"ids": written_ids})
        assert deleted == {
            "__typename": f"{kind.many[0].upper()}{kind.many[1:]}DeletePayload",
            "deletedIds": written_ids,
        }
    else:
        mutation = f"mutation M($id: ID!) {{ w: {kind.single}Delete(id: $id) {{ x: deletedId }} }}"
        deleted = await _compiled_write(world, mutation, {"id": written_ids[0]})
        assert deleted == {"x": written_ids[0]}
    assert await _read_back(world, Doc(data.draw, {}), kind.entity, "id", written_ids) == [None] * len(written_ids)


ACCOUNT_UPDATE = """mutation M($id: ID!, $input: AccountUpdateInput!, $version: Int) {
  w: accountUpdate(id: $id, input: $input, version: $version) { account { id name version } } }"""
CONTACT_CREATE = "mutation M($input: ContactCreateInput!) { w: contactCreate(input: $input) { contact { id } } }"
ACCOUNTS_CREATE = (
    "mutation M($inputs: [AccountCreateInput!]!) { w: accountsCreate(inputs: $inputs) { accounts { id } } }"
)
ACCOUNT_DELETE = "mutation M($id: ID!) { w: accountDelete(id: $id) { deletedId } }"
TICKET_CREATE_1 = "mutation M($input: TicketCreateInput!) { w: ticketCreate(input: $input) { ticket { id } } }"


def _global(type_name: str, pk: uuid.UUID) -> str:
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


@pytest.mark.parametrize(
    ("query", "variables", "code", "field"),
    [
        (ACCOUNT_UPDATE, {"id": "x", "input": {"name": "A"}}, "BAD_USER_INPUT", "id"),
        (ACCOUNT_UPDATE, {"id": "PRODUCT", "input": {"name": "A"}}, "BAD_USER_INPUT", "id"),
        (ACCOUNT_UPDATE, {"id": "MISSING", "input": {"name": "A"}}, "NOT_FOUND", "id"),
        (ACCOUNT_UPDATE, {"id": "ACCOUNT", "input": {"name": "A"}, "version": 999}, "CONFLICT", "version"),
        (ACCOUNT_UPDATE, {"id": "ACCOUNT", "input": {"name": ""}}, "BAD_USER_INPUT", "input.name"),
        (CONTACT_CREATE, {"input": {"lastName": "L", "accountId": "MISSING"}}, "BAD_USER_INPUT", "input.accountId"),
        (TICKET_CREATE_1, {"input": {"subject": "S", "accountId": "MISSING"}}, "BAD_USER_INPUT", "input.accountId"),
        (TICKET_CREATE_1, {"input": {"subject": "", "accountId": "ACCOUNT"}}, "BAD_USER_INPUT", "input.subject"),
        (
            ACCOUNTS_CREATE,
            {"inputs": [{"name": "Fine"}, {"name": "Bad", "domain": "not a domain"}]},
            "BAD_USER_INPUT",
            "inputs.1.domain",
        ),
        (ACCOUNT_DELETE, {"id": "MISSING"}, "NOT_FOUND", "id"),
    ],
    ids=[
        "malformed id",
        "id of another type",
        "missing row",
        "stale version",
        "empty name",
        "missing reference",
        "missing reference of a one-statement create",
        "bad value of a one-statement create",
        "batch item",
        "delete missing",
    ],
)
async def test_invalid_writes_fail_alike_on_both_paths(
    world: World, query: str, variables: dict[str, Any], code: str, field: str | None
) -> None:
    placeholders = {
        "ACCOUNT": world.ids["Account"][0],
        "PRODUCT": world.ids["Product"][0],
        "MISSING": _global("Account", uuid.uuid4()),
    }

    def filled(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: filled(v) for k, v in value.items()}
        if isinstance(value, list):
            return [filled(v) for v in value]
        return placeholders.get(value, value) if isinstance(value, str) else value

    (error,) = await _fails_alike(world, query, filled(variables))
    assert error["extensions"]["code"] == code, error
    assert error["extensions"].get("field") == field, error
    assert error["path"] == ["w"]


async def test_a_write_outside_the_record_scope_fails_alike(world: World) -> None:
    """A seller may update only the accounts it owns."""
    (error,) = await _fails_alike(
        world, ACCOUNT_UPDATE, {"id": world.ids["Account"][0], "input": {"name": "Mine now"}}, world.seller
    )
    assert error["extensions"] == {"code": "FORBIDDEN", "field": "id"}, error


TICKET_CREATE = """mutation M($input: TicketCreateInput!) {
  w: ticketCreate(input: $input) { ticket { id subject account { name } } } }"""
TICKET_CREATE_COUNTED = """mutation M($input: TicketCreateInput!) {
  w: ticketCreate(input: $input) { ticket { id account { tickets { totalCount } } } } }"""


async def _ticket_event(world: World, ticket_id: str) -> dict[str, Any]:
    pk = uuid.UUID(base64.b64decode(ticket_id).decode().partition(":")[2])
    async with tenant_transaction(world.principal.tenant_id) as tx:
        row = await tx.fetchrow("SELECT type, actor_id, request_id FROM events WHERE entity_id = $1", pk)
    assert row is not None
    return dict(row)


async def test_a_create_that_reads_nothing_first_is_one_statement(world: World) -> None:
    """Settings, INSERT and payload in one statement (the transaction in one round trip), with
    the payload the executor reads back and the event naming the actor and the request."""
    variables = {"input": {"accountId": world.ids["Account"][1], "subject": "One trip", "priority": "LOW"}}
    _, body = await _run(world, TICKET_CREATE, variables, compiled=True)
    assert body["extensions"]["plan"] == {"path": "compiled", "statements": 1}, body
    ticket = body["data"]["w"]["ticket"]
    doc = Doc(lambda _: None, {})
    assert [ticket] == await _read_back(world, doc, "Ticket", "id subject account { name }", [ticket["id"]])
    assert await _ticket_event(world, ticket["id"]) == {
        "type": "ticket.created",
        "actor_id": world.principal.actor.id,
        "request_id": "w",
    }


async def test_a_payload_reading_the_written_table_sees_the_new_row(world: World) -> None:
    """A payload that reads the written table beyond the new row (here: the account's tickets)
    runs after the INSERT, as its own statement, so that it counts the new ticket too."""
    account = world.ids["Account"][2]
    variables = {"input": {"accountId": account, "subject": "Counted", "priority": "LOW"}}
    counts = []
    for _ in range(2):
        _, body = await _run(world, TICKET_CREATE_COUNTED, variables, compiled=True)
        assert body["extensions"]["plan"] == {"path": "compiled", "statements": 2}, body
        counts.append(body["data"]["w"]["ticket"]["account"]["tickets"]["totalCount"])
    assert counts[1] == counts[0] + 1
    doc = Doc(lambda _: None, {})
    (read,) = await _read_back(world, doc, "Account", "tickets { totalCount }", [account])
    assert read["tickets"]["totalCount"] == counts[1]
