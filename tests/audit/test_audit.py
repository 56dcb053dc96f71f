"""The append-only audit log: every write by trigger (who, actor kind, request, before/after of
changed fields), explicit entries for policy and key changes, admins' filtered queries."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import asyncpg
import pytest

from backend import db
from backend.audit import service as audit
from backend.context import Actor, ActorKind
from backend.db import tenant_transaction
from backend.events import service as events
from backend.models import Tenant
from jobs.audit import archive_backlog
from tests import factories
from tests.access.test_admin_api import ok, sign_in
from tests.conftest import Api, Database

# Tenant tables whose rows are not business records: caches, counters, the logs themselves.
# The webhook delivery log is the record of deliveries (endpoint changes are audited).
NOT_AUDITED = {"audit_log", "events", "idempotency_keys", "tenant_counters", "webhook_deliveries"}


async def entries(tenant: Tenant, entity: str) -> list[asyncpg.Record]:
    async with tenant_transaction(tenant.id) as tx:
        return await tx.fetch(
            "SELECT actor_kind, actor_id, request_id, action, entity_id, before, after FROM audit_entries "
            "WHERE tenant_id = $1 AND entity = $2 ORDER BY at, id",
            tenant.id,
            entity,
        )


async def test_writes_are_recorded_with_actor_request_and_changed_fields(tenant: Tenant) -> None:
    actor = Actor(ActorKind.USER, uuid.uuid4())
    async with tenant_transaction(tenant.id, actor=actor, request_id="req-1") as tx:
        account = await factories.account(tx, name="Acme", industry="tools")
    async with tenant_transaction(tenant.id, actor=Actor(ActorKind.JOB, uuid.uuid4()), request_id="job-7") as tx:
        await tx.execute("UPDATE accounts SET name = 'Acme Corp', updated_at = now() WHERE id = $1", account.id)
        await tx.execute("UPDATE accounts SET updated_at = now() WHERE id = $1", account.id)  # no real change
    async with tenant_transaction(tenant.id, actor=actor) as tx:
        await tx.execute("DELETE FROM accounts WHERE id = $1", account.id)
    async with tenant_transaction(tenant.id, actor=actor) as tx:
        await audit.record(tx, "export", "accounts", after={"rows": 1})
    rows = await entries(tenant, "accounts")
    assert [(r["action"], r["actor_kind"], r["request_id"]) for r in rows] == [
        ("insert", "user", "req-1"),
        ("update", "job", "job-7"),
        ("delete", "user", None),
        ("export", "user", None),
    ]
    assert rows[0]["actor_id"] == actor.id and rows[0]["entity_id"] == account.id
    inserted, updated, deleted, exported = rows
    assert inserted["after"]["industry"] == "tools" and inserted["before"] is None
    assert "version" not in inserted["after"] and "tenant_id" not in inserted["after"]  # bookkeeping left out
    assert (updated["before"], updated["after"]) == ({"name": "Acme"}, {"name": "Acme Corp"})
    assert deleted["before"]["name"] == "Acme Corp" and deleted["after"] is None
    assert exported["after"] == {"rows": 1} and exported["actor_id"] == actor.id


async def test_the_application_role_cannot_change_the_log(tenant: Tenant, other_tenant: Tenant) -> None:
    async with tenant_transaction(tenant.id) as tx:
        await factories.account(tx)
    for statement in ("UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with tenant_transaction(tenant.id) as tx:
                await tx.execute(statement)
    async with tenant_transaction(other_tenant.id) as tx:
        assert await tx.fetchval("SELECT count(*) FROM audit_log WHERE tenant_id = $1", tenant.id) == 0
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await tx.execute(
                "INSERT INTO audit_log (tenant_id, actor_kind, action, entity) VALUES ($1, 'system', 'x', 'y')",
                tenant.id,
            )


async def test_every_tenant_table_is_audited(database: Database) -> None:
    conn = await asyncpg.connect(database.superuser_url)
    try:
        tables = await conn.fetch(
            "SELECT c.relname, array_agg(t.tgname) FILTER (WHERE t.tgname IS NOT NULL) AS triggers FROM pg_class c "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' "
            "LEFT JOIN pg_trigger t ON t.tgrelid = c.oid AND (t.tgname LIKE '%\\_audit\\_%' OR t.tgname LIKE '%\\_events') "
            "WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace GROUP BY c.relname"
        )
    finally:
        await conn.close()
    missing = {
        r["relname"]
        for r in tables
        if r["relname"] not in NOT_AUDITED
        and set(r["triggers"] or ()) != {f"{r['relname']}_audit_{op}" for op in ("insert", "update", "delete")}
        and set(r["triggers"] or ()) != {f"{r['relname']}_events"}  # audited from the outbox (0044)
    }
    assert missing == set(), "add `SELECT audit_table('<table>')` (or publish_events) to the table's migration"


async def test_policy_and_key_changes_are_queryable_by_admins(api: Api, tenant: Tenant) -> None:
    alice = await sign_in(api, tenant, "alice", "admin")
    response = await api.client.post(
        "/graphql",
        json={"query": 'mutation { policyGrant(role: "viewer", object: "AuditEntry.*", action: "read") { name } }'},
        headers={"Authorization": f"Bearer {api.token(tenant)}", "X-Request-Id": "grant-42"},
    )
    assert "errors" not in response.json()
    await ok(api, tenant, 'mutation { apiKeyCreate(input: {name: "erp", roles: ["integrator"]}) { secret } }')
    query = """query ($f: AuditEntryFilter, $after: String, $n: Int = 2) {
        auditLog(filter: $f, first: $n, after: $after) {
        nodes { actorKind actorId requestId action entity after } endCursor hasNextPage } }"""
    grants = (await ok(api, tenant, query, {"f": {"action": "policy.allow"}}))["auditLog"]
    assert [(n["actorKind"], n["actorId"], n["requestId"], n["action"]) for n in grants["nodes"]] == [
        ("USER", alice, "grant-42", "policy.allow")
    ]
    assert grants["nodes"][0]["after"] == {
        "role": "viewer",
        "object": "AuditEntry.*",
        "action": "read",
        "effect": "allow",
    }
    keys = (await ok(api, tenant, query, {"f": {"action": "api_key.", "actorId": alice}}))["auditLog"]["nodes"]
    assert [n["action"] for n in keys] == ["api_key.create"]
    assert keys[0]["after"]["roles"] == ["integrator"]
    # Row changes of the same requests are there too, and pages follow each other.
    first = (await ok(api, tenant, query, {"f": {"requestId": "grant-42"}, "n": 1}))["auditLog"]
    assert first["hasNextPage"] and len(first["nodes"]) == 1
    rest = await ok(api, tenant, query, {"f": {"requestId": "grant-42"}, "after": first["endCursor"]})
    assert not rest["auditLog"]["hasNextPage"]
    assert sorted(n["action"] for n in first["nodes"] + rest["auditLog"]["nodes"]) == ["insert", "policy.allow"]
    # The viewer just got read access to the log; roles without it are refused.
    denied = await api.graphql(tenant, "{ auditLog { nodes { action } } }", subject="sam", roles=("sales",))
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    allowed = await api.graphql(tenant, "{ auditLog(first: 1) { nodes { action } } }", subject="val", roles=("viewer",))
    assert "errors" not in allowed, allowed


async def test_audit_ids_are_uuid7_in_time_order(tenant: Tenant) -> None:
    async with tenant_transaction(tenant.id) as tx:
        for _ in range(3):
            await factories.account(tx)
    async with tenant_transaction(tenant.id) as tx:
        rows = await tx.fetch(
            "SELECT id, at FROM audit_entries WHERE tenant_id = $1 AND entity = 'accounts' ORDER BY at", tenant.id
        )
    assert len(rows) == 3 and all(row["id"].version == 7 for row in rows)
    milliseconds = [row["id"].int >> 80 for row in rows]  # the first 48 bits: the time
    assert milliseconds == sorted(milliseconds)
    assert all(abs(ms - row["at"].timestamp() * 1000) < 2 for ms, row in zip(milliseconds, rows, strict=True))


ALL_ENTRIES = (
    "SELECT id, at, actor_kind, actor_id, request_id, action, entity, entity_id, before, after FROM audit_entries "
    "WHERE tenant_id = $1 ORDER BY at, id"
)


# Tables whose changes are audited from the outbox (migration 0044).
FROM_EVENTS = ["accounts", "contacts", "products", "orders", "order_lines", "tickets", "feedback", "users"]


async def _archived_row_changes(tenant: Tenant) -> int:
    async with tenant_transaction(tenant.id) as tx:
        count: int = await tx.fetchval(
            "SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND entity = ANY($2)", tenant.id, FROM_EVENTS
        )
    return count


async def test_archiving_moves_row_changes_into_the_log_and_readers_see_no_difference(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    actor = Actor(ActorKind.USER, uuid.uuid4())
    async with tenant_transaction(tenant.id, actor=actor, request_id="req-a") as tx:
        account = await factories.account(tx, name="Acme")
        ticket = await factories.ticket(tx, account)
    async with tenant_transaction(tenant.id, actor=actor) as tx:
        await tx.execute("UPDATE tickets SET status = 'closed' WHERE id = $1", ticket.id)  # + status_changed
        await tx.execute("DELETE FROM tickets WHERE id = $1", ticket.id)
    async with tenant_transaction(other_tenant.id) as tx:
        await factories.account(tx)
    async with tenant_transaction(tenant.id) as tx:
        before = await tx.fetch(ALL_ENTRIES, tenant.id)
    assert await _archived_row_changes(tenant) == 0
    from_events = [r for r in before if r["entity"] in FROM_EVENTS]
    assert [(r["action"], r["entity"]) for r in from_events if r["entity"] != "users"] == [
        ("insert", "accounts"),
        ("insert", "tickets"),
        ("update", "tickets"),
        ("delete", "tickets"),
    ]

    async with tenant_transaction(tenant.id) as tx:
        archived = await audit.archive(tx)
        assert await audit.archive(tx) == 0  # nothing new
    assert archived == len(from_events) == await _archived_row_changes(tenant)
    async with tenant_transaction(tenant.id) as tx:
        assert await tx.fetch(ALL_ENTRIES, tenant.id) == before  # same ids, times and contents
    assert await _archived_row_changes(other_tenant) == 0  # archiving is per tenant

    # Pruning the outbox archives first: the entries outlive the events.
    async with tenant_transaction(other_tenant.id) as tx:
        pending = await tx.fetch(ALL_ENTRIES, other_tenant.id)
        await events.prune(tx, timedelta(0))
        assert await tx.fetch(ALL_ENTRIES, other_tenant.id) == pending
    assert await _archived_row_changes(other_tenant) == len([r for r in pending if r["entity"] in FROM_EVENTS]) > 0


async def test_readers_never_see_an_entry_twice_or_lose_one_while_archivers_run(app_db: None, tenant: Tenant) -> None:
    writes, seen = 40, []

    async def write(n: int) -> None:
        for i in range(writes // 4):
            async with tenant_transaction(tenant.id) as tx:
                await factories.account(tx, name=f"writer {n} account {i}")

    async def count() -> tuple[int, int]:
        async with tenant_transaction(tenant.id) as tx:
            row = await tx.fetchrow(
                "SELECT count(*) AS n, count(DISTINCT id) AS ids FROM audit_entries "
                "WHERE tenant_id = $1 AND entity = 'accounts'",
                tenant.id,
            )
        assert row is not None
        return row["n"], row["ids"]

    async def archive_and_read(done: asyncio.Event) -> None:
        while not done.is_set():
            await archive_backlog()
            seen.append(await count())

    done = asyncio.Event()
    reader = asyncio.create_task(archive_and_read(done))
    await asyncio.gather(*(write(n) for n in range(4)))
    done.set()
    await reader
    await archive_backlog()
    assert tenant.id not in await db.audit_backlog()
    assert all(n == ids for n, ids in seen), "an entry was seen twice"
    assert [n for n, _ in seen] == sorted(n for n, _ in seen), "an entry disappeared"
    assert await count() == (writes, writes)
