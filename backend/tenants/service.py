"""The tenant row itself: read the current tenant, create a new one."""

from __future__ import annotations

import re
from uuid import UUID

from tortoise.exceptions import IntegrityError

from backend.context import TenantContext
from backend.errors import BadInput, Conflict, NotFound
from backend.models import Tenant

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


async def get_current(tx: TenantContext) -> Tenant:
    tenant = await Tenant.get_or_none(id=tx.tenant_id)
    if tenant is None:
        raise NotFound("tenant not found")
    return tenant


async def exists(tx: TenantContext) -> bool:
    return bool(await tx.fetchval("SELECT 1 FROM tenants WHERE id = $1", tx.tenant_id))


def slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:63] or "tenant"


async def create(tx: TenantContext, *, name: str, slug: str | None = None) -> Tenant:
    """Insert the tenant row for `tx.tenant_id` (the transaction is opened for the new id)."""
    name = name.strip()
    if not 1 <= len(name) <= 200:
        raise BadInput("a tenant name has 1 to 200 characters", field="name")
    slug = slug or slugify(name)
    if not _SLUG.match(slug):
        raise BadInput("a slug is lower-case letters, digits and dashes", field="slug")
    try:
        return await Tenant.create(id=tx.tenant_id, name=name, slug=slug)
    except IntegrityError:
        raise Conflict(f"a tenant with the slug '{slug}' exists already", field="slug") from None


def parse_id(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise BadInput("not a tenant id", field="tenant") from None
