"""Database access for the application role: Tortoise set-up and the tenant transaction.

Everything that touches tenant data runs inside `tenant_transaction(tenant_id)`: one pooled
connection, one transaction, `app.tenant_id` set first. Tortoise's ORM is pointed at the same
connection for the duration (through its connection context variable), so ORM and raw SQL
see the same snapshot and the same tenant. Postgres RLS (FORCE, non-owner role) applies to
every statement, and a statement outside a tenant transaction fails instead of reading
nothing or everything.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlsplit
from uuid import UUID

import asyncpg
import orjson
from tortoise import Tortoise
from tortoise.backends.asyncpg.client import AsyncpgDBClient, TransactionWrapper
from tortoise.connection import get_connections

from backend.context import SYSTEM_ACTOR, Actor, TenantContext
from backend.events.service import CHANNEL as EVENTS_CHANNEL
from backend.settings import Settings

CONNECTION = "default"
log = logging.getLogger("rapport.db")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def connect_kwargs(dsn: str) -> dict[str, Any]:
    """Split a postgresql:// URL into asyncpg keyword arguments (Unix sockets via ?host=/dir)."""
    url = urlsplit(dsn)
    query = {k: v[-1] for k, v in parse_qs(url.query).items()}
    kwargs: dict[str, Any] = {
        "host": query.pop("host", None) or url.hostname or "127.0.0.1",
        "port": int(query.pop("port", None) or url.port or 5432),
        "user": unquote(url.username) if url.username else query.pop("user", None),
        "password": unquote(url.password) if url.password else query.pop("password", None),
        "database": unquote(url.path.lstrip("/")) or query.pop("dbname", None),
    }
    if "sslmode" in query:
        kwargs["ssl"] = query.pop("sslmode")
    return kwargs


def tortoise_config(settings: Settings) -> dict[str, Any]:
    if settings.database_url is None:
        raise RuntimeError("RAPPORT_DATABASE_URL is not set")
    credentials = connect_kwargs(settings.database_url) | {
        "init": _init_connection,
        "connection_class": _Connection,
        # Compiled reads are prepared statements, one per plan: keep many per connection.
        "statement_cache_size": 2000,
        "minsize": settings.db_pool_min,
        "maxsize": settings.db_pool_max,
        "server_settings": {
            "application_name": "rapport",
            "timezone": "UTC",
            "statement_timeout": str(settings.db_statement_timeout_ms),
            # OLTP statements: JIT compilation costs more than it saves on them.
            "jit": "off",
        },
    }
    return {
        "connections": {CONNECTION: {"engine": "tortoise.backends.asyncpg", "credentials": credentials}},
        "apps": {"models": {"models": ["backend.models"], "default_connection": CONNECTION}},
        "use_tz": True,
        "timezone": "UTC",
    }


class _Connection(asyncpg.Connection):
    """A pooled connection that needs no reset query when it goes back to the pool.

    Every use ends its transaction (asyncpg rolls back an open one anyway) and every setting it
    makes is transaction-local, so the default reset (UNLISTEN *, RESET ALL, …) would be a
    wasted round trip on each request. Code that LISTENs uses a dedicated connection.
    """

    def get_reset_query(self) -> str:
        return ""


def _encode_json(value: Any) -> str:
    # Tortoise's JSONField hands over text it already encoded; everything else is encoded here.
    return value if isinstance(value, str) else orjson.dumps(value).decode()


# Array parameters asyncpg must introspect before first use (three catalog queries each time);
# doing it once when a connection opens keeps requests from paying for it at random.
_ARRAY_TYPES = ("uuid", "text", "timestamptz", "date", "numeric", "bool", "int2", "int4", "int8", "jsonb")


async def _init_connection(conn: asyncpg.Connection) -> None:
    """JSON columns read as Python values and accept them as parameters; array codecs loaded."""
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, schema="pg_catalog", encoder=_encode_json, decoder=orjson.loads)
    casts = ", ".join(f"${i + 1}::{name}[]" for i, name in enumerate(_ARRAY_TYPES))
    await conn.fetchrow(f"SELECT {casts}", *([[]] * len(_ARRAY_TYPES)))


class _Pool:
    """The application role's asyncpg pool (Tortoise's), held from init_db to close_db: finding
    it through Tortoise's connection registry on every request cost a few percent of a
    one-statement request's CPU."""

    current: asyncpg.Pool | None = None


async def init_db(settings: Settings) -> None:
    """Connect the application role's pool (once per process)."""
    await Tortoise.init(config=tortoise_config(settings), _enable_global_fallback=True)
    client = _client()
    await client.create_connection(with_db=True)
    _Pool.current = client._pool


async def close_db() -> None:
    await _wakeups.flush()
    _Pool.current = None
    await Tortoise.close_connections()


class _Wakeups:
    """After a write transaction commits, wake the tenant's event consumers: NOTIFY on the
    events channel with the tenant id as payload (consumers then read the outbox after
    their cursor, backend/events/service.py).

    The NOTIFY is not sent inside the writing transaction: Postgres serialises the commits
    of all transactions that notify (one lock for the whole cluster, held through the WAL
    flush), which capped concurrent writes near one commit per flush (measured: 640 vs 1,460
    ticket inserts/s at 16 clients). Here one background task sends, per round trip, one
    NOTIFY per tenant for everything committed since its previous round, on a pooled
    connection and outside any write transaction. A process that dies between its commit
    and the wake-up only delays delivery: consumers also catch up periodically."""

    def __init__(self) -> None:
        self._tenants: set[UUID] = set()
        self._task: asyncio.Task[None] | None = None

    def committed(self, tenant_id: UUID) -> None:
        self._tenants.add(tenant_id)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._send(), name="rapport-event-wakeups")

    async def flush(self) -> None:
        if self._task is not None:
            await self._task

    async def _send(self) -> None:
        while self._tenants:
            tenants, self._tenants = self._tenants, set()
            try:
                async with pool().acquire() as conn:
                    await conn.execute(
                        "SELECT pg_notify($1, t) FROM unnest($2::text[]) t", EVENTS_CHANNEL, [str(t) for t in tenants]
                    )
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, RuntimeError) as exc:
                log.warning("could not wake event consumers (they catch up on their own): %s", exc)


_wakeups = _Wakeups()


def _client() -> AsyncpgDBClient:
    client = get_connections().get(CONNECTION)
    assert isinstance(client, AsyncpgDBClient), "the application database is Postgres via asyncpg"
    return client


def pool() -> asyncpg.Pool:
    if _Pool.current is None:
        raise RuntimeError("database not initialised: call init_db() first")
    return _Pool.current


def _begin(
    tenant_id: UUID, actor: Actor, request_id: str | None, *, readonly: bool, generic_plans: bool = False
) -> str:
    """BEGIN and the transaction-local settings as one simple-protocol round trip.

    The values are inlined, which is safe: UUIDs and an enum value are formatted by Python,
    and a request id is kept only if it is a plain token.
    """
    tenant, kind, actor_id, rid = _settings(tenant_id, actor, request_id)
    mode = " ISOLATION LEVEL REPEATABLE READ READ ONLY" if readonly else ""
    plans = " SET LOCAL plan_cache_mode = force_generic_plan;" if generic_plans else ""
    return (
        f"BEGIN{mode};{plans} SELECT set_config('app.tenant_id', '{tenant}', true), "
        f"set_config('app.actor_kind', '{kind}', true), "
        f"set_config('app.actor_id', '{actor_id}', true), set_config('app.request_id', '{rid}', true)"
    )


def _settings(tenant_id: UUID, actor: Actor, request_id: str | None) -> tuple[str, str, str, str]:
    """A transaction's tenant, actor kind, actor id and request id as their settings' values;
    UUIDs and an enum value, formatted by Python, and a request id only if it is a plain token."""
    if not isinstance(tenant_id, UUID) or (actor.id is not None and not isinstance(actor.id, UUID)):
        raise TypeError("tenant and actor ids must be UUIDs")
    rid = request_id if request_id and _REQUEST_ID.match(request_id) else ""
    return str(tenant_id), actor.kind.value, str(actor.id or ""), rid


@asynccontextmanager
async def tenant_transaction(
    tenant_id: UUID,
    *,
    actor: Actor = SYSTEM_ACTOR,
    readonly: bool = False,
    request_id: str | None = None,
    count_statements: bool = False,
    wake: bool = True,
) -> AsyncIterator[TenantContext]:
    """One transaction on one connection with `app.tenant_id` set; commits on success.

    A write transaction wakes the tenant's event consumers after it commits; `wake=False` is
    for the consumers' own bookkeeping (it writes no events), which must not wake them again.

    Read-only transactions use REPEATABLE READ so that every statement of a request (one per
    DataLoader level) sees the same snapshot. With `count_statements`, `TenantContext.statements`
    counts the statements run inside (not BEGIN, the settings or COMMIT). Nested transactions
    are savepoints issued on `tx` (`SAVEPOINT x` / `ROLLBACK TO SAVEPOINT x`).
    """
    begin = _begin(tenant_id, actor, request_id, readonly=readonly)
    client = _client()
    connections = get_connections()
    conn = cast(asyncpg.Connection, await pool().acquire())
    try:
        await conn.execute(begin)
        try:
            wrapper = TransactionWrapper(client)
            wrapper._connection = conn
            context = TenantContext(tenant_id, actor, request_id, readonly, wrapper)
            if count_statements:
                context.statements = 0
                conn.add_query_logger(context.count_statement)
            token = connections.set(CONNECTION, wrapper)
            try:
                yield context
            finally:
                connections.reset(token)
                if count_statements:
                    conn.remove_query_logger(context.count_statement)
        except BaseException:
            if not conn.is_closed():
                # A broken connection cannot roll back; the pool discards it on release.
                with suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                    await conn.execute("ROLLBACK")
            raise
        else:
            await conn.execute("COMMIT")
            if wake and not readonly:
                _wakeups.committed(tenant_id)
    finally:
        await pool().release(conn)  # type: ignore[arg-type]  # the proxy the pool handed out


async def ping() -> None:
    async with pool().acquire() as conn:
        await conn.fetchval("SELECT 1")


async def applied_migrations() -> set[str]:
    """Versions the database has applied; empty before the first migration."""
    async with pool().acquire() as conn:
        if await conn.fetchval("SELECT to_regclass('schema_migrations') IS NULL"):
            return set()
        rows = await conn.fetch("SELECT version FROM schema_migrations")
    return {r["version"] for r in rows}


async def event_heads() -> dict[UUID, int]:
    """Every tenant's last event seq (backend/events/service.py), for consumers catching up."""
    async with pool().acquire() as conn:
        return {row["tenant_id"]: row["seq"] for row in await conn.fetch("SELECT tenant_id, seq FROM event_heads()")}


async def audit_backlog() -> list[UUID]:
    """Tenants with row changes not yet archived into the audit log (backend/audit/service.py)."""
    async with pool().acquire() as conn:
        return [row["tenant_id"] for row in await conn.fetch("SELECT tenant_id FROM audit_backlog()")]


async def tenant_directory() -> list[asyncpg.Record]:
    """Every tenant's id, slug and name (the one deliberate cross-tenant read)."""
    async with pool().acquire() as conn:
        return await conn.fetch("SELECT id, slug, name, created_at FROM tenant_directory()")


async def read_one(tenant_id: UUID, actor: Actor, request_id: str | None, sql: str, params: Sequence[Any]) -> Any:
    """Run one read-only statement for a tenant and return its single value.

    The hot path of compiled reads: BEGIN and the settings in one round trip, the statement as
    a cached prepared statement with a generic plan (prepared once, run thousands of times;
    planning a statement with a subquery per nested list costs more than running it), COMMIT.
    """
    begin = _begin(tenant_id, actor, request_id, readonly=True, generic_plans=True)
    async with pool().acquire() as conn:
        await conn.execute(begin)
        try:
            value = await conn.fetchval(sql, *params)
        except BaseException:
            with suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                await conn.execute("ROLLBACK")
            raise
        await conn.execute("COMMIT")
        return value


# The settings of a one-statement transaction (`write_alone`), as the first item of its WITH list.
SETTINGS = (
    "settings AS MATERIALIZED (SELECT set_config('app.tenant_id', $1, true), set_config('app.actor_kind', $2, true), "
    "set_config('app.actor_id', $3, true), set_config('app.request_id', $4, true))"
)
SETTINGS_PARAMS = 4


async def write_alone(tenant_id: UUID, actor: Actor, request_id: str | None, sql: str, params: Sequence[Any]) -> Any:
    """Run one write statement as a transaction of its own and return its single value.

    `sql` continues the WITH list that starts with `SETTINGS` (its placeholders start at
    $5); the rows it writes must be produced FROM `settings`, so that Postgres sets the tenant,
    actor and request before it checks the rows against RLS and runs their triggers. The
    statement is then the whole transaction, which Postgres commits when it ends (deferred
    triggers, the outbox's, still run inside it and see the settings): one round trip where
    BEGIN, the settings, the statement and COMMIT take four. Should the settings ever not come
    first, RLS fails closed: `current_tenant_id()` raises without a tenant, and a pooled
    connection carries none between transactions (they are transaction-local).
    """
    async with pool().acquire() as conn:
        value = await conn.fetchval(f"WITH {SETTINGS}, {sql}", *_settings(tenant_id, actor, request_id), *params)
    _wakeups.committed(tenant_id)
    return value
