from __future__ import annotations

import strawberry
from strawberry import UNSET

from backend.users.service import RULES
from schema.mutations import crud_fields


@strawberry.input(description="A user added by an admin (before their first sign-in).")
class UserCreateInput:
    email: str
    name: str | None = UNSET
    external_id: str | None = strawberry.field(
        default=UNSET, description="The identity provider's subject; default: the email."
    )
    is_active: bool | None = UNSET


@strawberry.input(description="Changes to a user; deactivated users cannot sign in.")
class UserUpdateInput:
    email: str | None = UNSET
    name: str | None = UNSET
    external_id: str | None = UNSET
    is_active: bool | None = UNSET


@strawberry.type
class Mutation:
    (
        user_create,
        users_create,
        user_update,
        users_update,
        user_delete,
        users_delete,
    ) = crud_fields("User", RULES, UserCreateInput, UserUpdateInput)
