from __future__ import annotations

from uuid import UUID

import strawberry

from schema.relay import Node


@strawberry.type(description="The organisation whose data this API serves.")
class Tenant(Node):
    name: str
    slug: str


@strawberry.type(description="A person who signs in to the tenant.")
class User(Node):
    email: str
    name: str
    is_active: bool
    pk: strawberry.Private[UUID]


@strawberry.type(description="Who is asking: the caller's tenant, user and roles.")
class Viewer:
    tenant: Tenant
    user: User | None
    roles: list[str]
