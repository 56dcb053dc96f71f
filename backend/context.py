"""Who is acting, for which tenant, on which open transaction.

A `TenantContext` only exists inside `backend.db.tenant_transaction()`: holding one means a
transaction is open with `app.tenant_id` set, so services that take it as their first
parameter cannot run a tenant query outside one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID

if TYPE_CHECKING:
    import asyncpg
    from tortoise.backends.asyncpg.client import TransactionWrapper


class ActorKind(StrEnum):
    USER = "user"
    API_KEY = "api_key"
    JOB = "job"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Actor:
    kind: ActorKind
    id: UUID | None = None
    roles: frozenset[str] = frozenset()


SYSTEM_ACTOR = Actor(ActorKind.SYSTEM)


@dataclass(slots=True, eq=False)
class TenantContext:
    tenant_id: UUID
    actor: Actor
    request_id: str | None
    readonly: bool
    _client: TransactionWrapper = field(repr=False)
    statements: int | None = None  # counted when the transaction was opened with count_statements

    def count_statement(self, record: object) -> None:
        if self.statements is not None:
            self.statements += 1

    @property
    def connection(self) -> asyncpg.Connection:
        """The transaction's connection; use the query helpers below unless you need asyncpg itself."""
        return self._client._connection

    # Every helper takes the wrapper's lock: DataLoaders of one level run concurrently, and one
    # asyncpg connection runs one statement at a time. Tortoise's ORM takes the same lock.
    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        async with self._client.acquire_connection() as conn:
            return await conn.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        async with self._client.acquire_connection() as conn:
            return await conn.fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        async with self._client.acquire_connection() as conn:
            return await conn.fetchval(sql, *args)

    async def execute(self, sql: str, *args: Any) -> str:
        async with self._client.acquire_connection() as conn:
            return await conn.execute(sql, *args)

    async def executemany(self, sql: str, args: Sequence[Sequence[Any]]) -> None:
        async with self._client.acquire_connection() as conn:
            await conn.executemany(sql, args)
