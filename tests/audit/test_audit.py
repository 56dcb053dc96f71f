"""The append-only audit log: every write by trigger (who, actor kind, request, before/after of
changed fields), explicit entries for policy and key changes, admins' filtered queries."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from backend.audit import service as audit
from backend.context import Actor, ActorKind
from backend.db import tenant_transaction
from backend.models import Tenant
from tests import factories
from tests.access.test_admin_api import ok, sign_in
from tests.conftest import Api, Database

# Tenant tables whose rows are not business records: caches, counters, the logs themselves.
# The outbox records row changes that the audit log already has, with the same actor and request;
# the webhook delivery log is the record of deliveries (endpoint changes are audited).
NOT_AUDITED = {"audit_log", "events", "idempotency_keys", "tenant_counters", "webhook_deliveries"}


async def entries(tenant: Tenant, entity: str) -> list[asyncpg.Record]:
    async with tenant_transaction(tenant.id) as tx:
        return await tx.fetch(
            "SELECT actor_kind, actor_id, request_id, action, entity_id, before, after FROM audit_log "
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
            "LEFT JOIN pg_trigger t ON t.tgrelid = c.oid AND t.tgname LIKE '%\\_audit\\_%' "
            "WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace GROUP BY c.relname"
        )
    finally:
        await conn.close()
    missing = {
        r["relname"]
        for r in tables
        if r["relname"] not in NOT_AUDITED
        and set(r["triggers"] or ()) != {f"{r['relname']}_audit_{op}" for op in ("insert", "update", "delete")}
    }
    assert missing == set(), "add `SELECT audit_table('<table>')` to the table's migration"


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
            "SELECT id, at FROM audit_log WHERE tenant_id = $1 AND entity = 'accounts' ORDER BY at", tenant.id
        )
    assert len(rows) == 3 and all(row["id"].version == 7 for row in rows)
    milliseconds = [row["id"].int >> 80 for row in rows]  # the first 48 bits: the time
    assert milliseconds == sorted(milliseconds)
    assert all(abs(ms - row["at"].timestamp() * 1000) < 2 for ms, row in zip(milliseconds, rows, strict=True))
