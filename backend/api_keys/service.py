"""API keys: creation (the secret is returned once), rotation with a grace period, revocation,
and the credential lookup the authenticator uses.

A secret is `rpk_` + 43 characters of URL-safe base64 (256 random bits). The prefix lets
secret scanners recognise leaked keys; only SHA-256(secret) is stored. Role bindings of a
key are access policy (policies/admin.py), not columns here.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from uuid_utils.compat import uuid7

from backend import db
from backend.context import TenantContext
from backend.errors import BadInput, NotFound
from backend.models import ApiKey, ApiKeySecret

SECRET_PREFIX = "rpk_"  # noqa: S105  (a public marker that makes leaked keys recognisable, not a secret)
_SHOWN_PREFIX = 12  # "rpk_" + 8 characters: enough to tell keys apart in a list
MAX_GRACE = timedelta(days=30)


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def looks_like_key(token: str) -> bool:
    return token.startswith(SECRET_PREFIX)


@dataclass(frozen=True, slots=True)
class Credential:
    """What a valid secret stands for (before the tenant is known)."""

    tenant_id: UUID
    key_id: UUID
    secret_id: UUID
    expires_at: datetime | None


async def lookup(secret_hash: str) -> Credential | None:
    """The valid key behind a secret's hash, through the owner's narrow api_key_lookup() function."""
    async with db.pool().acquire() as conn:
        row = await conn.fetchrow(
            "SELECT tenant_id, key_id, secret_id, expires_at FROM api_key_lookup($1)", secret_hash
        )
    if row is None:
        return None
    return Credential(row["tenant_id"], row["key_id"], row["secret_id"], row["expires_at"])


async def touch(tx: TenantContext, secret_id: UUID) -> None:
    """Record that a secret was used (callers throttle this: it is a write)."""
    await tx.execute(
        "UPDATE api_key_secrets SET last_used_at = now() WHERE tenant_id = $1 AND id = $2", tx.tenant_id, secret_id
    )


def _check_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise BadInput("a key name has 1 to 100 characters", field="name")
    return name


async def create(
    tx: TenantContext, *, name: str, expires_at: datetime | None, created_by: UUID | None
) -> tuple[ApiKey, str]:
    """A new key and its secret; the secret is not stored and cannot be shown again."""
    name = _check_name(name)
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise BadInput("the expiry must lie in the future", field="expiresAt")
    key = await ApiKey.create(tenant_id=tx.tenant_id, id=uuid7(), name=name, expires_at=expires_at,
                              created_by_id=created_by)  # fmt: skip
    secret = await _add_secret(tx, key.id)
    return key, secret


async def _add_secret(tx: TenantContext, key_id: UUID) -> str:
    secret = new_secret()
    await ApiKeySecret.create(
        tenant_id=tx.tenant_id, id=uuid7(), key_id=key_id, secret_hash=hash_secret(secret),
        prefix=secret[:_SHOWN_PREFIX],
    )  # fmt: skip
    return secret


async def get(tx: TenantContext, key_id: UUID) -> ApiKey:
    key = await ApiKey.get_or_none(tenant_id=tx.tenant_id, id=key_id)
    if key is None:
        raise NotFound("no such API key", field="id")
    return key


async def by_ids(tx: TenantContext, ids: list[UUID]) -> list[ApiKey]:
    return await ApiKey.filter(tenant_id=tx.tenant_id, id__in=ids)


async def list_keys(tx: TenantContext) -> list[ApiKey]:
    return await ApiKey.filter(tenant_id=tx.tenant_id).order_by("created_at", "id")


async def secrets_of(tx: TenantContext, key_ids: list[UUID]) -> dict[UUID, list[ApiKeySecret]]:
    found: dict[UUID, list[ApiKeySecret]] = {k: [] for k in key_ids}
    for secret in await ApiKeySecret.filter(tenant_id=tx.tenant_id, key_id__in=key_ids).order_by("created_at"):
        found[secret.key_id].append(secret)  # type: ignore[attr-defined]  # the FK's source field
    return found


async def rotate(tx: TenantContext, key_id: UUID, *, grace: timedelta) -> tuple[ApiKey, str]:
    """A new secret for the key; the current ones stay valid for `grace`, then expire."""
    if not timedelta(0) <= grace <= MAX_GRACE:
        raise BadInput(f"the grace period lies between 0 and {MAX_GRACE.days} days", field="gracePeriodSeconds")
    key = await _live(tx, key_id)
    await tx.execute(
        "UPDATE api_key_secrets SET expires_at = now() + $3::interval "
        "WHERE tenant_id = $1 AND key_id = $2 AND (expires_at IS NULL OR expires_at > now() + $3::interval)",
        tx.tenant_id,
        key.id,
        grace,
    )
    return key, await _add_secret(tx, key.id)


async def revoke(tx: TenantContext, key_id: UUID) -> ApiKey:
    key = await _live(tx, key_id)
    await tx.execute("UPDATE api_keys SET revoked_at = now() WHERE tenant_id = $1 AND id = $2", tx.tenant_id, key.id)
    await key.refresh_from_db()
    return key


async def _live(tx: TenantContext, key_id: UUID) -> ApiKey:
    key = await get(tx, key_id)
    if key.revoked_at is not None:
        raise BadInput("the key is revoked", field="id")
    return key
