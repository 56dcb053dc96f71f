"""Merging and undoing merges (service level): what moves, what is recorded, what undo restores."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.context import TenantContext
from backend.customers import merge as merging
from backend.customers.merge import FieldChoice
from backend.db import tenant_transaction
from backend.errors import BadInput, Conflict, NotFound
from backend.models import Account, Tenant
from backend.query.entities import entity
from tenants.provisioning import provision_tenant
from tests import factories

TABLES = ["users", "accounts", "contacts", "products", "orders", "order_lines", "tickets", "feedback", "merges"]
TRACKED = ("version", "updated_at")  # what undo may move forward


async def dump(tx: TenantContext, *, business: bool = False, tables: list[str] = TABLES) -> dict[str, Any]:
    """Every row of the tenant; `business` leaves out the columns undo may move forward."""
    found = {}
    for table in tables:
        rows = await tx.fetch(f"SELECT * FROM {table} ORDER BY id")
        found[table] = [{k: v for k, v in r.items() if not (business and k in TRACKED)} for r in rows]
    return found


async def account_graph(tx: TenantContext) -> dict[str, Any]:
    """A survivor and two look-alikes with everything that can point at an account."""
    top = await factories.account(tx, name="Holding")
    merged_parent = await factories.account(tx, name="Parent of M1")
    survivor = await factories.account(tx, name="Acme", domain="acme.com", custom_fields={"x": 1, "y": "s"})
    m1 = await factories.account(tx, name="ACME Inc", parent=survivor, custom_fields={"x": 2})
    m2 = await factories.account(
        tx, name="Acme Corp", domain="acme.io", parent=merged_parent, custom_fields={"z": True}
    )
    survivor.parent_id = m2.id
    await survivor.save()
    child = await factories.account(tx, name="Acme Germany", parent=m1)
    c1 = await factories.contact(tx, m1)
    c2 = await factories.contact(tx, m1)
    c3 = await factories.contact(tx, survivor)
    product = await factories.product(tx)
    order = await factories.order(tx, m1, contact=c1)
    await factories.order_line(tx, order, product)
    t1 = await factories.ticket(tx, m1, contact=c2)
    t2 = await factories.ticket(tx, m2)
    f1 = await factories.feedback(tx, m1, ticket=t1)
    return {
        "top": top,
        "survivor": survivor,
        "m1": m1,
        "m2": m2,
        "child": child,
        "contacts": [c1, c2, c3],
        "order": order,
        "tickets": [t1, t2],
        "feedback": f1,
    }


async def test_account_merge_moves_every_related_row_and_applies_choices(tenant: Tenant) -> None:
    async with tenant_transaction(tenant.id) as tx:
        g = await account_graph(tx)
        s, m1, m2 = g["survivor"], g["m1"], g["m2"]
        result = await merging.merge(
            tx,
            "Account",
            s.id,
            [m1.id, m2.id],
            [
                FieldChoice("name", m1.id),
                FieldChoice("domain", m2.id),
                FieldChoice("customFields.x", m1.id),
                FieldChoice("customFields.y", m2.id),  # m2 has no y: the survivor loses it
                FieldChoice("customFields.z", m2.id),
            ],
        )
        accounts = {r["id"]: r for r in await tx.fetch("SELECT * FROM accounts")}
        owners = {
            table: {r["id"]: r["account_id"] for r in await tx.fetch(f"SELECT id, account_id FROM {table}")}
            for table in ("contacts", "orders", "tickets", "feedback")
        }
    assert m1.id not in accounts and m2.id not in accounts
    survivor = accounts[s.id]
    assert (survivor["name"], survivor["domain"]) == ("ACME Inc", "acme.io")
    assert survivor["custom_fields"] == {"x": 2, "z": True}
    assert survivor["parent_id"] is None  # it was m2, which is now the survivor itself
    assert survivor["version"] == s.version + 2  # saved once in the graph, once by the merge
    assert accounts[g["child"].id]["parent_id"] == s.id
    assert set(owners["contacts"].values()) == {s.id}
    assert (
        set(owners["orders"].values()) == set(owners["tickets"].values()) == set(owners["feedback"].values()) == {s.id}
    )
    assert dict(result.survivor)["name"] == "ACME Inc"
    assert {(m.relation, m.count) for m in merging.moved_counts(result.merge["snapshot"])} == {
        ("children", 1),
        ("contacts", 2),
        ("orders", 1),
        ("tickets", 2),
        ("feedback", 1),
    }
    assert result.merge["merged_ids"] == [m1.id, m2.id]


async def test_contact_merge_moves_orders_tickets_and_feedback(tenant: Tenant) -> None:
    async with tenant_transaction(tenant.id) as tx:
        acc = await factories.account(tx)
        keep = await factories.contact(tx, acc, first_name="Jane", phone=None)
        dup = await factories.contact(tx, None, first_name="Janet", phone="+14155550100")
        order = await factories.order(tx, acc, contact=dup)
        ticket = await factories.ticket(tx, acc, contact=dup)
        opinion = await factories.feedback(tx, acc, contact=dup)
        result = await merging.merge(tx, "Contact", keep.id, [dup.id], [FieldChoice("phone", dup.id)])
        contact_of = {
            table: await tx.fetchval(f"SELECT contact_id FROM {table} WHERE id = $1", pk)
            for table, pk in (("orders", order.id), ("tickets", ticket.id), ("feedback", opinion.id))
        }
        assert await tx.fetchval("SELECT count(*) FROM contacts WHERE id = $1", dup.id) == 0
    assert set(contact_of.values()) == {keep.id}
    assert (result.survivor["first_name"], result.survivor["phone"]) == ("Jane", "+14155550100")


async def test_dry_run_returns_the_result_and_writes_nothing(tenant: Tenant) -> None:
    async with tenant_transaction(tenant.id) as tx:
        g = await account_graph(tx)
        before = await dump(tx)
        choices = [FieldChoice("name", g["m2"].id), FieldChoice("customFields.z", g["m2"].id)]
        args = ("Account", g["survivor"].id, [g["m1"].id, g["m2"].id], choices)
        preview = await merging.merge(tx, *args, dry_run=True)
        assert await dump(tx) == before
        real = await merging.merge(tx, *args)
    assert preview.dry_run and not real.dry_run
    assert dict(preview.survivor) == dict(real.survivor)
    assert preview.merge["snapshot"] == real.merge["snapshot"]
    assert preview.merge["id"] != real.merge["id"]


async def test_undo_restores_the_previous_business_data_exactly(tenant: Tenant) -> None:
    async with tenant_transaction(tenant.id) as tx:
        g = await account_graph(tx)
        before = await dump(tx, business=True, tables=TABLES[:-1])
        exact = await dump(tx, tables=["accounts"])
        result = await merging.merge(
            tx, "Account", g["survivor"].id, [g["m1"].id, g["m2"].id], [FieldChoice("name", g["m1"].id)]
        )
        undone = await merging.undo(tx, result.merge["id"])
        after = await dump(tx, business=True, tables=TABLES[:-1])
        merged_rows = {r["id"]: dict(r) for r in await tx.fetch("SELECT * FROM accounts")}
    assert after == before
    # The merged rows come back with their versions and timestamps too.
    for row in exact["accounts"]:
        if row["id"] in (g["m1"].id, g["m2"].id):
            assert merged_rows[row["id"]] == row
    assert undone.merge["undone_at"] is not None
    assert sorted(r["id"] for r in undone.restored) == sorted([g["m1"].id, g["m2"].id])


async def test_undo_is_refused_when_it_cannot_be_exact(tenant: Tenant) -> None:
    async with tenant_transaction(tenant.id) as tx:
        g = await account_graph(tx)
        first = await merging.merge(tx, "Account", g["survivor"].id, [g["m1"].id])
        await merging.undo(tx, first.merge["id"])
        with pytest.raises(Conflict, match="undone already"):
            await merging.undo(tx, first.merge["id"])
        with pytest.raises(NotFound):
            await merging.undo(tx, uuid.uuid4())
        # A moved row deleted since the merge.
        second = await merging.merge(tx, "Account", g["survivor"].id, [g["m2"].id])
        await tx.execute("DELETE FROM feedback WHERE ticket_id = $1", g["tickets"][1].id)
        await tx.execute("DELETE FROM tickets WHERE id = $1", g["tickets"][1].id)
        state = await dump(tx)
        with pytest.raises(Conflict, match="deleted since"):
            await merging.undo(tx, second.merge["id"])
        assert await dump(tx) == state
        # A merged id in use again.
        third = await merging.merge(tx, "Account", g["survivor"].id, [g["child"].id])
        await factories.account(tx, id=g["child"].id, name="Reused")
        with pytest.raises(Conflict, match="in use again"):
            await merging.undo(tx, third.merge["id"])
    async with tenant_transaction(tenant.id) as tx:
        # The survivor deleted since (after moving its rows away, which deleting requires).
        s = await factories.account(tx)
        m = await factories.account(tx)
        fourth = await merging.merge(tx, "Account", s.id, [m.id])
        await tx.execute("DELETE FROM accounts WHERE id = $1", s.id)
        with pytest.raises(Conflict, match="deleted since"):
            await merging.undo(tx, fourth.merge["id"])


async def test_merge_input_is_validated(tenant: Tenant, other_tenant: Tenant) -> None:
    async with tenant_transaction(other_tenant.id) as tx:
        foreign = await factories.account(tx)
    async with tenant_transaction(tenant.id) as tx:
        a, b = await factories.account(tx), await factories.account(tx)
        state = await dump(tx)
        with pytest.raises(BadInput) as caught:
            await merging.merge(
                tx,
                "Account",
                a.id,
                [b.id, b.id, a.id],
                [FieldChoice("nope", b.id), FieldChoice("version", b.id), FieldChoice("name", foreign.id)],
            )
        assert sorted(e.field for e in caught.value.errors) == [
            "fieldChoices.0.field",
            "fieldChoices.1.field",
            "fieldChoices.2.from",
            "mergedIds.1",
            "mergedIds.2",
        ]
        with pytest.raises(BadInput, match="1 to 50"):
            await merging.merge(tx, "Account", a.id, [uuid.uuid4() for _ in range(51)])
        with pytest.raises(BadInput, match="1 to 50"):
            await merging.merge(tx, "Account", a.id, [])
        with pytest.raises(NotFound) as missing:
            await merging.merge(tx, "Account", a.id, [b.id, foreign.id])
        assert missing.value.extensions["field"] == "mergedIds.1"
        with pytest.raises(NotFound):
            await merging.merge(tx, "Account", foreign.id, [b.id])
        with pytest.raises(Conflict) as stale:
            await merging.merge(tx, "Account", a.id, [b.id], version=a.version + 1)
        assert stale.value.extensions["currentVersion"] == a.version
        assert await dump(tx) == state


async def test_a_merge_that_would_make_a_parent_cycle_is_refused(tenant: Tenant) -> None:
    async with tenant_transaction(tenant.id) as tx:
        merged = await factories.account(tx)
        middle = await factories.account(tx, parent=merged)
        survivor = await factories.account(tx, parent=middle)
        with pytest.raises(BadInput, match="its own parent"):
            await merging.merge(tx, "Account", survivor.id, [merged.id])


# -- property: any merge of any graph, undone, leaves the business data as it was ---------------


@st.composite
def graphs(draw: st.DrawFn) -> dict[str, Any]:
    n_accounts = draw(st.integers(2, 6))
    return {
        "parents": [draw(st.none() | st.integers(0, i - 1)) if i else None for i in range(n_accounts)],
        "contacts": draw(st.lists(st.none() | st.integers(0, n_accounts - 1), max_size=6)),
        "records": draw(
            st.lists(
                st.tuples(
                    st.sampled_from(["orders", "tickets", "feedback"]), st.integers(0, n_accounts - 1), st.integers()
                ),
                max_size=6,
            )
        ),
        "survivor": draw(st.integers(0, n_accounts - 1)),
        "merged": draw(st.sets(st.integers(0, n_accounts - 1), min_size=1, max_size=n_accounts)),
        "choices": draw(st.lists(st.sampled_from(["name", "domain", "parentId", "customFields.k"]), unique=True)),
        "contact_merge": draw(st.booleans()),
        "seed": draw(st.integers(0, 1000)),
    }


async def _build(tx: TenantContext, spec: dict[str, Any]) -> tuple[list[Account], list[Any]]:
    accounts: list[Account] = []
    for i, parent in enumerate(spec["parents"]):
        fields = {"custom_fields": {"k": i}} if i % 2 else {}
        domain = f"d{i % 3}.com" if i % 2 else None
        accounts.append(
            await factories.account(
                tx, parent=accounts[parent] if parent is not None else None, domain=domain, **fields
            )
        )
    contacts = [await factories.contact(tx, accounts[a] if a is not None else None) for a in spec["contacts"]]
    for kind, a, pick in spec["records"]:
        person = contacts[pick % len(contacts)] if contacts else None
        make = {"orders": factories.order, "tickets": factories.ticket, "feedback": factories.feedback}[kind]
        await make(tx, accounts[a], contact=person)
    return accounts, contacts


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=graphs())
async def test_any_merge_undone_restores_the_business_data(app_db: None, spec: dict[str, Any]) -> None:
    tenant = await provision_tenant(f"Prop {uuid.uuid4().hex[:8]}")
    async with tenant_transaction(tenant.id) as tx:
        accounts, contacts = await _build(tx, spec)
        before = await dump(tx, business=True, tables=TABLES[:-1])
    if spec["contact_merge"] and len(contacts) >= 2:
        entity_name, records = "Contact", contacts
        choices = [c for c in spec["choices"] if c == "customFields.k"]
    else:
        entity_name, records = "Account", accounts
        choices = spec["choices"]
    survivor = records[spec["survivor"] % len(records)]
    merged = [r.id for i, r in enumerate(records) if i in spec["merged"] and r.id != survivor.id]
    if not merged:
        merged = [next(r.id for r in records if r.id != survivor.id)]
    pick = [FieldChoice(field, merged[(spec["seed"] + i) % len(merged)]) for i, field in enumerate(choices)]
    try:
        async with tenant_transaction(tenant.id) as tx:
            result = await merging.merge(tx, entity_name, survivor.id, merged, pick)
    except BadInput as exc:  # a hierarchy the merge would turn into a cycle
        assert "its own parent" in exc.message
        return
    async with tenant_transaction(tenant.id) as tx:
        assert await tx.fetchval("SELECT count(*) FROM accounts") + await tx.fetchval(
            "SELECT count(*) FROM contacts"
        ) == len(accounts) + len(contacts) - len(merged)
        await merging.undo(tx, result.merge["id"])
    async with tenant_transaction(tenant.id) as tx:
        assert await dump(tx, business=True, tables=TABLES[:-1]) == before


async def test_every_foreign_key_to_a_mergeable_table_is_a_registry_relation(tenant: Tenant) -> None:
    """A merge moves rows along the registry's relations; a table that refers to accounts or
    contacts without a relation in its model would block (or silently lose) rows on merge."""
    async with tenant_transaction(tenant.id) as tx:
        rows = await tx.fetch(
            "SELECT src.relname AS source, tgt.relname AS target, a.attname AS column "
            "FROM pg_constraint c JOIN pg_class src ON src.oid = c.conrelid JOIN pg_class tgt ON tgt.oid = c.confrelid "
            "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[array_length(c.conkey, 1)] "
            "WHERE c.contype = 'f' AND tgt.relname = ANY($1)",
            [entity(name).table for name in merging.ENTITIES],
        )
    in_database = {(r["source"], r["target"], r["column"]) for r in rows}
    in_registry = {
        (entity(rel.target).table, entity(name).table, entity(rel.target).column(rel.remote).db)
        for name in merging.ENTITIES
        for rel in entity(name).relations.values()
        if rel.kind == "many"
    }
    assert in_database == in_registry
    assert ("contacts", "accounts", "account_id") in in_registry


async def test_merges_and_undos_are_audited(tenant: Tenant) -> None:
    async with tenant_transaction(tenant.id) as tx:
        g = await account_graph(tx)
        await merging.merge(tx, "Account", g["survivor"].id, [g["m1"].id], dry_run=True)
        result = await merging.merge(tx, "Account", g["survivor"].id, [g["m1"].id])
        await merging.undo(tx, result.merge["id"])
        entries = await tx.fetch(
            "SELECT action, entity, entity_id, before, after FROM audit_entries "
            "WHERE tenant_id = $1 AND action LIKE 'merge%' ORDER BY at",
            tenant.id,
        )
    assert [(e["action"], e["entity"], e["entity_id"]) for e in entries] == [
        ("merge", "Account", g["survivor"].id),
        ("merge.undo", "Account", g["survivor"].id),
    ]
    assert entries[0]["after"]["merged"] == [str(g["m1"].id)]
    assert entries[1]["before"]["merge"] == str(result.merge["id"])
