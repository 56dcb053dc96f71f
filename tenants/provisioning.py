"""Creating a tenant: its row and everything a new tenant starts with."""

from __future__ import annotations

from uuid import UUID

from uuid_utils.compat import uuid7

from backend.db import tenant_transaction
from backend.models import Tenant
from backend.tenants import service as tenant_rows
from policies import defaults


async def provision_tenant(name: str, *, slug: str | None = None, tenant_id: UUID | None = None) -> Tenant:
    """Create a tenant with its default roles, in one transaction (opened for the new id, so
    RLS admits the row). Its first users get roles from their token (see backend/auth.py) or
    from an admin."""
    async with tenant_transaction(tenant_id or uuid7()) as tx:
        tenant = await tenant_rows.create(tx, name=name, slug=slug)
        await defaults.install(tx)
        await tenant.refresh_from_db()  # the policy version the defaults set
    return tenant
