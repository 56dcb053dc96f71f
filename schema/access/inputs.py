from __future__ import annotations

import strawberry


@strawberry.input(description="A new role (it starts with no rules).")
class RoleCreateInput:
    name: str = strawberry.field(description="Lower-case letters, digits, '-' and '_', starting with a letter.")
    description: str = ""


@strawberry.input(description="A user provisioned by an admin before their first sign-in.")
class UserCreateInput:
    external_id: str = strawberry.field(description="The identity provider's subject (the token's `sub`).")
    email: str
    name: str = ""
    roles: list[str] = strawberry.field(default_factory=list)
    team_id: strawberry.ID | None = None
