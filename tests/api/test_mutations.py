"""Writes: create/update/delete for every type, batches, validation paths, concurrency, idempotency."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import uuid

import pytest

from backend.db import tenant_transaction
from backend.models import Tenant
from tests import factories
from tests.conftest import Api


def gid(type_name: str, pk: uuid.UUID) -> str:
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


@pytest.fixture
async def refs(tenant: Tenant) -> dict[str, str]:
    async with tenant_transaction(tenant.id) as tx:
        account = await factories.account(tx, name="Acme")
        contact = await factories.contact(tx, account)
        product = await factories.product(tx)
        order = await factories.order(tx, account)
        ticket = await factories.ticket(tx, account)
        user = await factories.user(tx)
    return {
        "account": gid("Account", account.id),
        "contact": gid("Contact", contact.id),
        "product": gid("Product", product.id),
        "order": gid("Order", order.id),
        "ticket": gid("Ticket", ticket.id),
        "user": gid("User", user.id),
    }


# (type, create mutation, input, update input, field read back)
CASES: list[tuple[str, str, str, str, str]] = [
    ("Account", "account", '{name: "New Co", domain: "https://www.New.co/about"}', '{industry: "retail"}', "industry"),
    (
        "Contact",
        "contact",
        '{lastName: "Roe", accountId: "$account", phone: "+1 415 555 0101"}',
        '{title: "CTO"}',
        "title",
    ),
    ("Product", "product", '{sku: "P-9", name: "Gadget", price: "12.50", currency: "eur"}', '{name: "Gizmo"}', "name"),
    ("Order", "order", '{accountId: "$account", currency: "USD"}', "{status: PAID}", "status"),
    ("OrderLine", "orderLine", '{orderId: "$order", productId: "$product", quantity: 2}', "{quantity: 3}", "quantity"),
    ("Ticket", "ticket", '{accountId: "$account", subject: "Down"}', "{priority: URGENT}", "priority"),
    ("Feedback", "feedback", '{accountId: "$account", kind: CSAT, score: 5}', '{topic: "billing"}', "topic"),
    ("User", "user", '{email: "new.user@example.com"}', '{name: "New User"}', "name"),
]


def _fill(text: str, refs: dict[str, str]) -> str:
    for name, value in refs.items():
        text = text.replace(f"${name}", value)
    return text


@pytest.mark.parametrize(("type_name", "field", "create", "change", "read"), CASES, ids=[c[0] for c in CASES])
async def test_create_update_delete_every_type(
    api: Api, tenant: Tenant, refs: dict[str, str], type_name: str, field: str, create: str, change: str, read: str
) -> None:
    created = await api.data(
        tenant, f"mutation {{ x: {field}Create(input: {_fill(create, refs)}) {{ {field} {{ id version }} }} }}"
    )
    node = created["x"][field]
    assert node["version"] == 1
    updated = await api.data(
        tenant,
        f'mutation {{ x: {field}Update(id: "{node["id"]}", version: 1, input: {_fill(change, refs)}) '
        f"{{ {field} {{ id version {read} }} }} }}",
    )
    assert updated["x"][field]["version"] == 2
    stale = await api.errors(
        tenant,
        f'mutation {{ x: {field}Update(id: "{node["id"]}", version: 1, input: {_fill(change, refs)}) {{ {field} {{ id }} }} }}',
    )
    assert [(e["code"], e["field"], e["currentVersion"]) for e in stale] == [("CONFLICT", "version", 2)]
    deleted = await api.data(tenant, f'mutation {{ x: {field}Delete(id: "{node["id"]}") {{ deletedId }} }}')
    assert deleted["x"]["deletedId"] == node["id"]
    assert (await api.data(tenant, f'{{ node(id: "{node["id"]}") {{ id }} }}'))["node"] is None
    again = await api.errors(tenant, f'mutation {{ x: {field}Delete(id: "{node["id"]}") {{ deletedId }} }}')
    assert again[0]["code"] == "NOT_FOUND"


async def test_values_are_normalised(api: Api, tenant: Tenant, refs: dict[str, str]) -> None:
    data = await api.data(
        tenant,
        _fill(
            """mutation {
              a: accountCreate(input: {name: "  Padded  ", domain: "HTTPS://www.Example.COM/path?q=1"}) { account { name domain } }
              c: contactCreate(input: {lastName: "Roe", email: " Jane@EXAMPLE.com", phone: "+44 20 7946 0958"}) {
                contact { email phone } }
              p: productCreate(input: {sku: "S", name: "n", price: "3", currency: "gbp"}) { product { price { amount currency } } }
            }""",
            refs,
        ),
    )
    assert data["a"]["account"] == {"name": "Padded", "domain": "example.com"}
    assert data["c"]["contact"] == {"email": "Jane@example.com", "phone": "+442079460958"}
    assert data["p"]["product"]["price"] == {"amount": "3.00", "currency": "GBP"}


async def test_every_invalid_value_is_reported_with_its_path(api: Api, tenant: Tenant, refs: dict[str, str]) -> None:
    query = """mutation($inputs: [ContactCreateInput!]!) { contactsCreate(inputs: $inputs) { contacts { id } } }"""
    inputs = [
        {"lastName": "Fine"},
        {"lastName": "", "email": "not-an-email"},
        {"lastName": "Ok", "phone": "12", "accountId": gid("Account", uuid.uuid4())},
        {"lastName": "Ok", "accountId": "garbage"},
    ]
    errors = await api.errors(tenant, query, {"inputs": inputs})
    assert [(e["code"], e["field"]) for e in errors] == [
        ("BAD_USER_INPUT", "inputs.1.email"),
        ("BAD_USER_INPUT", "inputs.1.lastName"),
        ("BAD_USER_INPUT", "inputs.2.accountId"),
        ("BAD_USER_INPUT", "inputs.2.phone"),
        ("BAD_USER_INPUT", "inputs.3.accountId"),
    ]
    assert (await api.data(tenant, "{ contacts { totalCount } }"))["contacts"]["totalCount"] == 1  # the fixture's


async def test_batches_are_all_or_none_and_bounded(api: Api, tenant: Tenant) -> None:
    query = "mutation($inputs: [AccountCreateInput!]!) { accountsCreate(inputs: $inputs) { accounts { name } } }"
    created = await api.data(tenant, query, {"inputs": [{"name": f"batch {i}"} for i in range(500)]})
    assert [a["name"] for a in created["accountsCreate"]["accounts"]][:3] == ["batch 0", "batch 1", "batch 2"]
    errors = await api.errors(tenant, query, {"inputs": [{"name": "x"}] * 501})
    assert [(e["code"], e["field"]) for e in errors] == [("BAD_USER_INPUT", "inputs")]
    ids = [a["id"] for a in (await api.data(tenant, "{ accounts(first: 3) { nodes { id } } }"))["accounts"]["nodes"]]
    bad = await api.errors(
        tenant,
        """mutation($inputs: [AccountUpdateItem!]!) { accountsUpdate(inputs: $inputs) { accounts { id } } }""",
        {"inputs": [{"id": ids[0], "input": {"name": "renamed"}}, {"id": ids[1], "input": {"name": ""}}]},
    )
    assert [e["field"] for e in bad] == ["inputs.1.input.name"]
    names = await api.data(tenant, '{ accounts(filter: {name: {eq: "renamed"}}) { totalCount } }')
    assert names["accounts"]["totalCount"] == 0


async def test_references_must_exist_in_the_same_tenant(
    api: Api, tenant: Tenant, other_tenant: Tenant, refs: dict[str, str]
) -> None:
    errors = await api.errors(
        other_tenant,
        f'mutation {{ ticketCreate(input: {{accountId: "{refs["account"]}", subject: "x"}}) {{ ticket {{ id }} }} }}',
    )
    assert [(e["code"], e["field"]) for e in errors] == [("BAD_USER_INPUT", "input.accountId")]


async def test_deleting_a_referenced_record_is_a_conflict(api: Api, tenant: Tenant, refs: dict[str, str]) -> None:
    errors = await api.errors(tenant, f'mutation {{ accountDelete(id: "{refs["account"]}") {{ deletedId }} }}')
    assert errors[0]["code"] == "CONFLICT"


async def test_unique_values_are_conflicts_on_their_field(api: Api, tenant: Tenant) -> None:
    create = (
        'mutation { productCreate(input: {sku: "DUP", name: "a", price: "1", currency: "USD"}) { product { id } } }'
    )
    await api.data(tenant, create)
    errors = await api.errors(tenant, create)
    assert [(e["code"], e["field"]) for e in errors] == [("CONFLICT", "sku")]


async def test_order_totals_follow_their_lines(api: Api, tenant: Tenant, refs: dict[str, str]) -> None:
    created = await api.data(
        tenant,
        _fill(
            """mutation { orderCreate(input: {accountId: "$account", currency: "USD",
                lines: [{productId: "$product", quantity: 3}, {productId: "$product", quantity: 1, unitPrice: "0.99"}]}) {
                order { id number total { amount currency } lines { nodes { id amount } } } } }""",
            refs,
        ),
    )
    order = created["orderCreate"]["order"]
    assert order["total"] == {"amount": "30.99", "currency": "USD"}
    assert order["number"].startswith("SO-")
    line = order["lines"]["nodes"][0]["id"]
    await api.data(
        tenant, f'mutation {{ orderLineUpdate(id: "{line}", input: {{quantity: 1}}) {{ orderLine {{ id }} }} }}'
    )
    await api.data(tenant, f'mutation {{ orderLineDelete(id: "{order["lines"]["nodes"][1]["id"]}") {{ deletedId }} }}')
    after = await api.data(tenant, f'{{ order(id: "{order["id"]}") {{ total {{ amount }} }} }}')
    assert after["order"]["total"]["amount"] == "10.00"


async def test_order_numbers_are_sequential_per_tenant(api: Api, tenant: Tenant, refs: dict[str, str]) -> None:
    query = _fill(
        'mutation { ordersCreate(inputs: [{accountId: "$account", currency: "USD"}, {accountId: "$account", currency: "USD"}]) { orders { number } } }',
        refs,
    )
    first = [o["number"] for o in (await api.data(tenant, query))["ordersCreate"]["orders"]]
    second = [o["number"] for o in (await api.data(tenant, query))["ordersCreate"]["orders"]]
    numbers = [int(n.removeprefix("SO-")) for n in first + second]
    assert numbers == list(range(numbers[0], numbers[0] + 4))


async def test_ticket_resolution_time_follows_status(api: Api, tenant: Tenant, refs: dict[str, str]) -> None:
    update = (
        'mutation($s: TicketStatus!) { ticketUpdate(id: "%s", input: {status: $s}) { ticket { resolvedAt slaDueAt } } }'
    )
    resolved = (await api.data(tenant, update % refs["ticket"], {"s": "RESOLVED"}))["ticketUpdate"]["ticket"]
    assert resolved["resolvedAt"] is not None
    reopened = (await api.data(tenant, update % refs["ticket"], {"s": "OPEN"}))["ticketUpdate"]["ticket"]
    assert reopened["resolvedAt"] is None


async def test_new_tickets_are_due_by_their_priority(api: Api, tenant: Tenant, refs: dict[str, str]) -> None:
    query = 'mutation($p: TicketPriority!) { ticketCreate(input: {accountId: "%s", subject: "s", priority: $p}) { ticket { createdAt slaDueAt } } }'
    for priority, hours in (("URGENT", 4), ("LOW", 72)):
        ticket = (await api.data(tenant, query % refs["account"], {"p": priority}))["ticketCreate"]["ticket"]
        created, due = (dt.datetime.fromisoformat(ticket[k]) for k in ("createdAt", "slaDueAt"))
        assert abs((due - created) - dt.timedelta(hours=hours)) < dt.timedelta(seconds=5)


@pytest.mark.parametrize(
    ("kind", "score", "sentiment"), [("NPS", 10, "POSITIVE"), ("NPS", 7, "NEUTRAL"), ("CSAT", 1, "NEGATIVE")]
)
async def test_feedback_sentiment_follows_the_score(
    api: Api, tenant: Tenant, refs: dict[str, str], kind, score, sentiment
):
    query = 'mutation($k: FeedbackKind!, $s: Int) { feedbackCreate(input: {accountId: "%s", kind: $k, score: $s}) { feedback { sentiment } } }'
    data = await api.data(tenant, query % refs["account"], {"k": kind, "s": score})
    assert data["feedbackCreate"]["feedback"]["sentiment"] == sentiment
    errors = await api.errors(tenant, query % refs["account"], {"k": "FREE_TEXT", "s": 3})
    assert errors[0]["field"] == "input.score"


async def test_a_failed_mutation_operation_writes_nothing(api: Api, tenant: Tenant) -> None:
    errors = await api.errors(
        tenant,
        'mutation { ok: accountCreate(input: {name: "kept?"}) { account { id } } bad: accountCreate(input: {name: ""}) { account { id } } }',
    )
    assert errors[0]["code"] == "BAD_USER_INPUT"
    assert (await api.data(tenant, '{ accounts(filter: {name: {eq: "kept?"}}) { totalCount } }'))["accounts"][
        "totalCount"
    ] == 0


IDEMPOTENT = "mutation($name: String!, $key: String) { accountCreate(input: {name: $name}, idempotencyKey: $key) { account { id name } } }"


async def test_idempotency_key_replays_the_first_result(api: Api, tenant: Tenant) -> None:
    first = await api.data(tenant, IDEMPOTENT, {"name": "Once", "key": "k-1"})
    again = await api.data(tenant, IDEMPOTENT, {"name": "Once", "key": "k-1"})
    assert again == first
    conflict = await api.errors(tenant, IDEMPOTENT, {"name": "Other", "key": "k-1"})
    assert [(e["code"], e["field"]) for e in conflict] == [("CONFLICT", "idempotencyKey")]
    count = await api.data(tenant, '{ accounts(filter: {name: {in: ["Once", "Other"]}}) { totalCount } }')
    assert count["accounts"]["totalCount"] == 1


async def test_concurrent_retries_write_once(api: Api, tenant: Tenant) -> None:
    results = await asyncio.gather(*(api.data(tenant, IDEMPOTENT, {"name": "Race", "key": "race"}) for _ in range(6)))
    assert len({r["accountCreate"]["account"]["id"] for r in results}) == 1
    count = await api.data(tenant, '{ accounts(filter: {name: {eq: "Race"}}) { totalCount } }')
    assert count["accounts"]["totalCount"] == 1


async def test_idempotency_keys_are_per_tenant(api: Api, tenant: Tenant, other_tenant: Tenant) -> None:
    mine = await api.data(tenant, IDEMPOTENT, {"name": "Same", "key": "shared"})
    theirs = await api.data(other_tenant, IDEMPOTENT, {"name": "Same", "key": "shared"})
    assert mine["accountCreate"]["account"]["id"] != theirs["accountCreate"]["account"]["id"]


async def test_a_failed_keyed_mutation_can_be_retried(api: Api, tenant: Tenant) -> None:
    query = 'mutation($n: String!) { accountCreate(input: {name: $n}, idempotencyKey: "retry") { account { name } } }'
    await api.errors(tenant, query, {"n": ""})
    with_other_args = await api.data(tenant, query, {"n": "Fixed"})  # the failed attempt did not keep the key
    assert with_other_args["accountCreate"]["account"]["name"] == "Fixed"


async def test_custom_fields_are_validated_on_write(api: Api, tenant: Tenant) -> None:
    define = (
        "mutation($i: CustomFieldDefineInput!) { customFieldDefine(input: $i) { definition { key kind options } } }"
    )
    await api.data(tenant, define, {"i": {"entity": "ACCOUNT", "key": "budget", "label": "Budget", "kind": "NUMBER"}})
    await api.data(
        tenant,
        define,
        {"i": {"entity": "ACCOUNT", "key": "region", "label": "Region", "kind": "ENUM", "options": ["emea", "apac"]}},
    )
    create = (
        'mutation($cf: JSON) { accountCreate(input: {name: "CF", customFields: $cf}) { account { customFields } } }'
    )
    ok = await api.data(tenant, create, {"cf": {"budget": "1200.5", "region": "emea"}})
    assert ok["accountCreate"]["account"]["customFields"] == {"budget": 1200.5, "region": "emea"}
    errors = await api.errors(tenant, create, {"cf": {"budget": "lots", "region": "mars", "ghost": 1}})
    assert sorted(e["field"] for e in errors) == [
        "input.customFields.budget",
        "input.customFields.ghost",
        "input.customFields.region",
    ]


async def test_required_custom_fields_are_enforced_on_every_write(api: Api, tenant: Tenant) -> None:
    define = "mutation($i: CustomFieldDefineInput!) { customFieldDefine(input: $i) { definition { key } } }"
    await api.data(
        tenant,
        define,
        {"i": {"entity": "TICKET", "key": "asset", "label": "Asset tag", "kind": "TEXT", "required": True}},
    )
    account = (await api.data(tenant, 'mutation { accountCreate(input: {name: "A"}) { account { id } } }'))[
        "accountCreate"
    ]["account"]["id"]
    single = 'mutation($a: ID!) { ticketCreate(input: {accountId: $a, subject: "s"}) { ticket { id } } }'
    errors = await api.errors(tenant, single, {"a": account})
    assert [(e["code"], e["field"], e["message"]) for e in errors] == [
        ("BAD_USER_INPUT", "input.customFields.asset", "'Asset tag' is required")
    ]
    batch = "mutation($i: [TicketCreateInput!]!) { ticketsCreate(inputs: $i) { tickets { id } } }"
    errors = await api.errors(
        tenant,
        batch,
        {
            "i": [
                {"accountId": account, "subject": "s", "customFields": {"asset": "X1"}},
                {"accountId": account, "subject": "s"},
            ]
        },
    )
    assert [e["field"] for e in errors] == ["inputs.1.customFields.asset"]
    created = await api.data(
        tenant,
        'mutation($a: ID!) { ticketCreate(input: {accountId: $a, subject: "s", customFields: {asset: "X2"}}) { ticket { customFields } } }',
        {"a": account},
    )
    assert created["ticketCreate"]["ticket"]["customFields"] == {"asset": "X2"}
