from __future__ import annotations

import strawberry
from strawberry import UNSET
from strawberry.scalars import JSON

from backend.accounts.service import RULES
from backend.models import LifecycleStage, Tier
from schema.customers.mutations import duplicate_warnings
from schema.mutations import crud_fields


@strawberry.input(description="A new account.")
class AccountCreateInput:
    name: str
    domain: str | None = UNSET
    industry: str | None = UNSET
    parent_id: strawberry.ID | None = UNSET
    owner_id: strawberry.ID | None = UNSET
    lifecycle_stage: LifecycleStage | None = UNSET
    tier: Tier | None = UNSET
    custom_fields: JSON | None = strawberry.field(default=UNSET, description="Values by key; null removes a key.")


@strawberry.input(description="Changes to an account: only the fields given change; null clears a field.")
class AccountUpdateInput:
    name: str | None = UNSET
    domain: str | None = UNSET
    industry: str | None = UNSET
    parent_id: strawberry.ID | None = UNSET
    owner_id: strawberry.ID | None = UNSET
    lifecycle_stage: LifecycleStage | None = UNSET
    tier: Tier | None = UNSET
    custom_fields: JSON | None = strawberry.field(default=UNSET, description="Values by key; null removes a key.")


@strawberry.type
class Mutation:
    (
        account_create,
        accounts_create,
        account_update,
        accounts_update,
        account_delete,
        accounts_delete,
    ) = crud_fields(
        "Account", RULES, AccountCreateInput, AccountUpdateInput, create_extension=duplicate_warnings("Account")
    )
