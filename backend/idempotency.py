"""Idempotency keys: the first response of a keyed mutation, replayed to retries.

A key is claimed inside the mutation's own transaction, so a concurrent retry waits on the
row until the first attempt commits (and then replays it) or rolls back (and then runs).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from backend.context import TenantContext
from backend.errors import Conflict


@dataclass(frozen=True, slots=True)
class Claim:
    key: str
    replay: Any | None  # the stored response when this key was used before with the same request


async def claim(tx: TenantContext, key: str, request_hash: str) -> Claim:
    inserted = await tx.fetchval(
        """INSERT INTO idempotency_keys (tenant_id, key, request_hash) VALUES ($1, $2, $3)
           ON CONFLICT (tenant_id, key) DO NOTHING RETURNING true""",
        tx.tenant_id,
        key,
        request_hash,
    )
    if inserted:
        return Claim(key, None)
    row = await tx.fetchrow(
        "SELECT request_hash, response FROM idempotency_keys WHERE tenant_id = $1 AND key = $2", tx.tenant_id, key
    )
    assert row is not None, "the conflicting key exists: its transaction committed"
    if row["request_hash"] != request_hash:
        raise Conflict(
            "this idempotencyKey was used for a different request; use a new key for a new request",
            field="idempotencyKey",
        )
    return Claim(key, row["response"])


async def remember(tx: TenantContext, key: str, response: Any) -> None:
    await tx.execute(
        "UPDATE idempotency_keys SET response = $3 WHERE tenant_id = $1 AND key = $2", tx.tenant_id, key, response
    )


async def prune(tx: TenantContext, older_than: dt.timedelta) -> int:
    """Forget keys older than the retention window; returns how many."""
    status = await tx.execute(
        "DELETE FROM idempotency_keys WHERE tenant_id = $1 AND created_at < now() - $2::interval",
        tx.tenant_id,
        older_than,
    )
    return int(status.split()[-1])
