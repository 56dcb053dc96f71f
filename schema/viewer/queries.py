from __future__ import annotations

import strawberry

from backend.query.entities import entity
from backend.tenants import service as tenants
from schema import loaders
from schema.fields import build
from schema.relay import to_global_id
from schema.viewer.types import Tenant, Viewer


@strawberry.type
class Query:
    @strawberry.field(description="The caller: tenant, user and roles.")
    async def viewer(self, info: strawberry.Info) -> Viewer:
        ctx = info.context
        tenant = await tenants.get_current(ctx.tx)
        user_id = ctx.principal.actor.id
        row = await loaders.row_by_id(ctx, entity("User"), user_id) if user_id else None
        return Viewer(
            tenant=Tenant(id=to_global_id("Tenant", tenant.id), name=tenant.name, slug=tenant.slug),
            user=build("User", row),
            roles=sorted(ctx.principal.roles),
        )
