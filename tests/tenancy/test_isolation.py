"""Tenant isolation at the database: RLS (FORCE, non-owner role) and composite foreign keys.

Every statement here deliberately forgets its tenant filter: the database alone must keep
tenant B's rows out of tenant A's reach.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest
from tortoise.exceptions import IntegrityError, OperationalError

from backend.context import SYSTEM_ACTOR, Actor, ActorKind
from backend.db import tenant_transaction, write_alone
from backend.models import Account, Tenant
from backend.query.entities import entity
from backend.query.filters import Compare, Op, Related
from backend.query.reads import PageRequest
from backend.query.sql import Ordering, Query
from tests import factories

# Tables whose rows the factories' graph() creates (one per tenant), checked row by row below.
GRAPH_TABLES = ["users", "accounts", "contacts", "products", "orders", "order_lines", "tickets", "feedback"]
# Every tenant-owned table; each must have RLS enabled and forced.
TENANT_TABLES = [
    *GRAPH_TABLES,
    "custom_field_definitions",
    "idempotency_keys",
    "tenant_counters",
    "merges",
    "teams",
    "api_keys",
    "api_key_secrets",
    "access_roles",
    "access_grants",
    "access_scopes",
    "access_bindings",
    "audit_log",
    "events",
    "webhook_endpoints",
    "webhook_deliveries",
]


@pytest.fixture
async def two_graphs(tenant: Tenant, other_tenant: Tenant) -> tuple[dict[str, Any], dict[str, Any]]:
    async with tenant_transaction(tenant.id) as tx:
        mine = await factories.graph(tx)
    async with tenant_transaction(other_tenant.id) as tx:
        theirs = await factories.graph(tx)
    return mine, theirs


async def test_every_tenant_table_is_covered(app_db: None) -> None:
    """A new tenant table must be added to the isolation tests (and get RLS)."""
    async with tenant_transaction(uuid.uuid4()) as tx:
        rows = await tx.fetch(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' "
            "WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace"
        )
    assert sorted(r["relname"] for r in rows) == sorted(TENANT_TABLES)
    assert all(r["relrowsecurity"] and r["relforcerowsecurity"] for r in rows)


@pytest.mark.parametrize("table", GRAPH_TABLES)
async def test_unfiltered_reads_see_only_own_rows(
    table: str, tenant: Tenant, other_tenant: Tenant, two_graphs: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    mine, theirs = two_graphs
    async with tenant_transaction(tenant.id) as tx:
        rows = await tx.fetch(f"SELECT tenant_id, id FROM {table}")
        by_id = await tx.fetchval(f"SELECT count(*) FROM {table} WHERE id = $1", theirs[table].id)
    assert [(r["tenant_id"], r["id"]) for r in rows] == [(tenant.id, mine[table].id)]
    assert by_id == 0


@pytest.mark.parametrize("table", GRAPH_TABLES)
async def test_unfiltered_updates_and_deletes_touch_only_own_rows(
    table: str, tenant: Tenant, other_tenant: Tenant, two_graphs: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    _, theirs = two_graphs
    async with tenant_transaction(tenant.id) as tx:
        updated = await tx.execute(f"UPDATE {table} SET updated_at = now()")
        deleted = await tx.execute(f"DELETE FROM {table} WHERE id = $1", theirs[table].id)
    assert updated == "UPDATE 1"
    assert deleted == "DELETE 0"
    async with tenant_transaction(other_tenant.id) as tx:
        version = await tx.fetchval(f"SELECT version FROM {table} WHERE id = $1", theirs[table].id)
    assert version == 1  # untouched: the trigger bumps the version on every update


async def test_insert_with_another_tenants_id_is_refused(tenant: Tenant, other_tenant: Tenant) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
        async with tenant_transaction(tenant.id) as tx:
            await tx.execute(
                "INSERT INTO accounts (tenant_id, id, name) VALUES ($1, gen_random_uuid(), 'x')", other_tenant.id
            )


async def test_moving_a_row_to_another_tenant_is_refused(tenant: Tenant, other_tenant: Tenant) -> None:
    async with tenant_transaction(tenant.id) as tx:
        account = await factories.account(tx)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with tenant_transaction(tenant.id) as tx:
            await tx.execute("UPDATE accounts SET tenant_id = $1 WHERE id = $2", other_tenant.id, account.id)


@pytest.mark.parametrize(
    ("table", "column", "parent"),
    [
        ("contacts", "account_id", "accounts"),
        ("orders", "account_id", "accounts"),
        ("tickets", "account_id", "accounts"),
        ("tickets", "assignee_id", "users"),
        ("feedback", "ticket_id", "tickets"),
        ("order_lines", "product_id", "products"),
        ("accounts", "parent_id", "accounts"),
    ],
)
async def test_reference_to_another_tenants_row_is_refused(
    table: str,
    column: str,
    parent: str,
    tenant: Tenant,
    other_tenant: Tenant,
    two_graphs: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    mine, theirs = two_graphs
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        async with tenant_transaction(tenant.id) as tx:
            await tx.execute(f"UPDATE {table} SET {column} = $1 WHERE id = $2", theirs[parent].id, mine[table].id)


async def test_orm_reference_to_another_tenants_row_is_refused(
    tenant: Tenant, other_tenant: Tenant, two_graphs: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    _, theirs = two_graphs
    with pytest.raises(IntegrityError):
        async with tenant_transaction(tenant.id) as tx:
            await factories.contact(tx, account=theirs["accounts"])


async def test_queries_outside_a_tenant_transaction_fail(app_db: None) -> None:
    with pytest.raises(OperationalError, match="no tenant in this transaction"):
        await Account.all().count()


async def test_the_application_role_cannot_switch_rls_off(tenant: Tenant) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
        async with tenant_transaction(tenant.id) as tx:
            await tx.execute("SET LOCAL row_security = off")
            await tx.fetch("SELECT * FROM accounts")
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="must be owner"):
        async with tenant_transaction(tenant.id) as tx:
            await tx.execute("ALTER TABLE accounts DISABLE ROW LEVEL SECURITY")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with tenant_transaction(tenant.id) as tx:
            await tx.execute("SET LOCAL ROLE rapport_owner")
    async with tenant_transaction(tenant.id) as tx:
        flags = await tx.fetchrow("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
    assert flags is not None and not flags["rolsuper"] and not flags["rolbypassrls"]


async def test_the_guard_is_what_isolates(
    database: Any, tenant: Tenant, other_tenant: Tenant, two_graphs: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    """Mutation check of the tests above: without RLS the same unfiltered query leaks."""
    conn = await asyncpg.connect(database.superuser_url)
    try:
        async with conn.transaction():
            await conn.execute("ALTER TABLE accounts DISABLE ROW LEVEL SECURITY")
            await conn.execute("SET LOCAL ROLE rapport_app")
            await conn.execute("SELECT set_config('app.tenant_id', $1, true)", str(tenant.id))
            seen = {r["tenant_id"] for r in await conn.fetch("SELECT tenant_id FROM accounts")}
            assert {tenant.id, other_tenant.id} <= seen
            raise _Undo
    except _Undo:
        pass
    finally:
        await conn.close()


class _Undo(Exception):
    pass


async def test_the_code_filter_isolates_without_rls(
    database: Any, tenant: Tenant, other_tenant: Tenant, two_graphs: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    """The other layer on its own: the SQL builder scopes every table it touches by tenant, so its
    statements return only the tenant's rows even on a connection that bypasses RLS (superuser)."""
    mine, _ = two_graphs
    request = PageRequest.from_args(
        Ordering(), Related("contacts", Compare("email", Op.IS_NULL, False)),
        first=50, last=None, after=None, before=None, default=50, maximum=500,
    )  # fmt: skip
    conn = await asyncpg.connect(database.superuser_url)
    try:
        for name in ("Account", "Contact", "Ticket", "Order"):
            q = Query(tenant.id)
            alias = q.alias()
            target = entity(name)
            where = q.visible(target, alias, request.filter if name == "Account" else None)
            rows = await conn.fetch(
                f"SELECT {alias}.tenant_id FROM {target.table} {alias} WHERE {where}", *q.params.values
            )
            assert rows and {r["tenant_id"] for r in rows} == {tenant.id}, name
        q = Query(tenant.id)
        alias = q.alias()
        ids = await conn.fetch(
            f"SELECT {alias}.id FROM accounts {alias} WHERE {q.visible(entity('Account'), alias)}", *q.params.values
        )
        assert [r["id"] for r in ids] == [mine["accounts"].id]
    finally:
        await conn.close()


WRITE_ACCOUNT = "INSERT INTO accounts (tenant_id, id, name) SELECT $5::uuid, $6::uuid, 'alone' {source} RETURNING id"


async def test_a_one_statement_write_runs_as_its_tenant(tenant: Tenant) -> None:
    """`write_alone` sets the tenant, actor and request inside the statement: the row passes RLS
    and its event (written by a deferred trigger when the statement commits) names them."""
    actor = Actor(ActorKind.USER, uuid.uuid4())
    pk = uuid.uuid4()
    sql = f"written AS ({WRITE_ACCOUNT.format(source='FROM settings')}) SELECT id FROM written"
    assert await write_alone(tenant.id, actor, "req-1", sql, [tenant.id, pk]) == pk
    async with tenant_transaction(tenant.id) as tx:
        event = await tx.fetchrow("SELECT type, actor_kind, actor_id, request_id FROM events WHERE entity_id = $1", pk)
    assert event is not None
    assert dict(event) == {"type": "account.created", "actor_kind": "user", "actor_id": actor.id, "request_id": "req-1"}


@pytest.mark.parametrize("source", ["", "FROM settings"])
async def test_a_one_statement_write_fails_closed(tenant: Tenant, other_tenant: Tenant, source: str) -> None:
    """A row not produced from the settings is checked before any tenant is set, and is refused;
    a row of another tenant is refused by RLS as in every transaction. Nothing is written."""
    pk = uuid.uuid4()
    sql = f"written AS ({WRITE_ACCOUNT.format(source=source)}) SELECT id FROM written"
    owner = tenant if not source else other_tenant
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await write_alone(tenant.id, SYSTEM_ACTOR, None, sql, [owner.id, pk])
    for t in (tenant, other_tenant):
        async with tenant_transaction(t.id) as tx:
            assert await tx.fetchval("SELECT count(*) FROM accounts WHERE id = $1", pk) == 0
