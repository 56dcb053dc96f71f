from __future__ import annotations

import strawberry

from schema.users.types import User


@strawberry.type(description="The organisation whose data this API serves.")
class Tenant:
    id: strawberry.ID
    name: str
    slug: str


@strawberry.type(description="Who is asking: the caller's tenant, user and roles.")
class Viewer:
    tenant: Tenant
    user: User | None
    roles: list[str]
