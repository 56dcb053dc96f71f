from __future__ import annotations

import strawberry


@strawberry.input(description="A new role (it starts with no rules).")
class RoleCreateInput:
    name: str = strawberry.field(description="Lower-case letters, digits, '-' and '_', starting with a letter.")
    description: str = ""
