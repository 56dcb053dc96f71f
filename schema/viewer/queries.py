from __future__ import annotations

import strawberry

from backend.tenants import service as tenants
from backend.users import service as users
from schema.relay import to_global_id
from schema.viewer.types import Tenant, User, Viewer


@strawberry.type
class Query:
    @strawberry.field(description="The caller: tenant, user and roles.")
    async def viewer(self, info: strawberry.Info) -> Viewer:
        ctx = info.context
        tenant = await tenants.get_current(ctx.tx)
        user = await users.get(ctx.tx, ctx.principal.actor.id) if ctx.principal.actor.id else None
        return Viewer(
            tenant=Tenant(id=to_global_id("Tenant", tenant.id), name=tenant.name, slug=tenant.slug),
            user=None
            if user is None
            else User(
                id=to_global_id("User", user.id), email=user.email, name=user.name, is_active=user.is_active, pk=user.id
            ),
            roles=sorted(ctx.principal.roles),
        )
