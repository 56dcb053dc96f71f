"""Users of a tenant (the people behind JWT subjects)."""

from __future__ import annotations

from uuid import UUID

import asyncpg
from uuid_utils.compat import uuid7

from backend import validation
from backend.context import TenantContext
from backend.errors import Conflict
from backend.models import User
from backend.records import Draft, Rules


async def get(tx: TenantContext, user_id: UUID) -> User | None:
    return await User.get_or_none(tenant_id=tx.tenant_id, id=user_id)


async def find_by_subject(tx: TenantContext, external_id: str) -> User | None:
    return await User.get_or_none(tenant_id=tx.tenant_id, external_id=external_id)


async def provision(tx: TenantContext, *, external_id: str, email: str, name: str = "") -> User:
    """The user with this subject, created if missing.

    Concurrent first requests of a new user race here: ON CONFLICT makes the insert
    idempotent and the loser reads the winner's row. The loser may also trip over the email's
    unique index instead (its check can come first): the savepoint keeps the transaction
    usable to read the winner's row then.
    """
    await tx.execute("SAVEPOINT provision_user")
    try:
        row = await tx.fetchrow(
            """INSERT INTO users (tenant_id, id, external_id, email, name) VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (tenant_id, external_id) DO NOTHING RETURNING id""",
            tx.tenant_id,
            uuid7(),
            external_id,
            email,
            name,
        )
    except asyncpg.UniqueViolationError:
        await tx.execute("ROLLBACK TO SAVEPOINT provision_user")
        row = None
    if row is None and await find_by_subject(tx, external_id) is None:
        raise Conflict(f"another user has the email {email}", field="email")
    user = await find_by_subject(tx, external_id)
    assert user is not None
    return user


def _check(draft: Draft) -> None:
    if draft.current is None and draft.values.get("email") is None:
        draft.error("email", "email is required")
    draft.check("email", validation.email)
    draft.check("name", lambda v: validation.text(v, max_length=200) or "")
    draft.check("external_id", lambda v: validation.text(v, max_length=255, required=True))
    if draft.current is None and draft.values.get("external_id") is None and draft.values.get("email"):
        # Without an identity-provider subject, the email is the subject until the user signs in.
        draft.values["external_id"] = draft.values["email"]


RULES = Rules(entity="User", references={}, check=_check)
